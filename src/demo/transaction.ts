/**
 * The card transaction the demo fraud model scores: its fields, their valid
 * ranges, input validation, and the derived features the model sees.
 *
 * Both the data generator and the scorer go through `featureVector`, so the
 * model is always served with exactly the features it was trained on.
 */

/** One card transaction, as accepted by `/inference` and the chat scorer. */
export interface Transaction {
  /** Amount in the card's currency; non-negative. */
  amount: number;
  /** Local hour of day, integer 0–23. */
  hour: number;
  /** Risk of the merchant's category, 0 (groceries) to 1 (crypto exchanges). */
  merchant_risk: number;
  /** Distance between the merchant and the cardholder's home, km. */
  distance_km: number;
  /** Card physically present (chip/contactless) rather than card-not-present. */
  card_present: boolean;
  /** Transactions on the same card in the preceding 24 hours. */
  txn_count_24h: number;
  /** Age of the account, days. */
  account_age_days: number;
  /** Merchant is in another country than the card issuer. */
  foreign: boolean;
}

/** Name of a transaction field. */
export type TransactionField = keyof Transaction;

type FieldSpec =
  | { readonly kind: 'number'; readonly min: number; readonly max: number; readonly integer: boolean }
  | { readonly kind: 'boolean' };

/**
 * Valid range of each field. The upper bounds are generous sanity limits, not
 * business rules: they exist so that absurd values (1e308, a 90-year-old
 * account) fail loudly instead of producing a confident nonsense score.
 */
export const TRANSACTION_FIELDS: Readonly<Record<TransactionField, FieldSpec>> = {
  amount: { kind: 'number', min: 0, max: 1e9, integer: false },
  hour: { kind: 'number', min: 0, max: 23, integer: true },
  merchant_risk: { kind: 'number', min: 0, max: 1, integer: false },
  // Half the Earth's circumference: nothing on the planet is further away.
  distance_km: { kind: 'number', min: 0, max: 20_040, integer: false },
  card_present: { kind: 'boolean' },
  txn_count_24h: { kind: 'number', min: 0, max: 100_000, integer: true },
  account_age_days: { kind: 'number', min: 0, max: 36_500, integer: false },
  foreign: { kind: 'boolean' },
};

/** Field names in a fixed order (the order used in messages and examples). */
export const TRANSACTION_FIELD_NAMES = Object.keys(TRANSACTION_FIELDS) as readonly TransactionField[];

/** Human wording of each field, for explanations. */
export const FIELD_LABELS: Readonly<Record<TransactionField, string>> = {
  amount: 'amount',
  hour: 'hour of day',
  merchant_risk: 'merchant category risk',
  distance_km: 'distance from home',
  card_present: 'card present',
  txn_count_24h: 'transactions in the last 24 h',
  account_age_days: 'account age',
  foreign: 'foreign merchant',
};

/**
 * Risk score of each merchant category. Callers may send `merchant_category`
 * instead of `merchant_risk`; a human typing a transaction into a chat knows
 * "gift_cards", not 0.85.
 */
export const MERCHANT_CATEGORY_RISK: Readonly<Record<string, number>> = {
  grocery: 0.05,
  fuel: 0.1,
  restaurant: 0.1,
  pharmacy: 0.1,
  transport: 0.15,
  clothing: 0.2,
  travel: 0.35,
  online_marketplace: 0.45,
  electronics: 0.55,
  jewellery: 0.6,
  gambling: 0.75,
  gift_cards: 0.85,
  crypto: 0.9,
};

/** Outcome of `validateTransaction`. */
export type TransactionValidation =
  | { readonly ok: true; readonly transaction: Transaction }
  | { readonly ok: false; readonly errors: readonly string[] };

/**
 * Checks untrusted input (parsed JSON) against `TRANSACTION_FIELDS`. Every
 * field is required; unknown keys are ignored. `merchant_category` (a key of
 * `MERCHANT_CATEGORY_RISK`) stands in for a missing `merchant_risk`. Never
 * throws; `path` prefixes the error messages (e.g. `transactions[3]`).
 */
export function validateTransaction(input: unknown, path = 'transaction'): TransactionValidation {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, errors: [`${path} must be a JSON object`] };
  }
  const record = input as Record<string, unknown>;
  const errors: string[] = [];
  const out: Partial<Record<TransactionField, number | boolean>> = {};

  for (const field of TRANSACTION_FIELD_NAMES) {
    const spec = TRANSACTION_FIELDS[field];
    let value = Object.hasOwn(record, field) ? record[field] : undefined;
    if (field === 'merchant_risk' && value === undefined) {
      const category = record['merchant_category'];
      if (category !== undefined) {
        const risk = typeof category === 'string' ? MERCHANT_CATEGORY_RISK[category] : undefined;
        if (risk === undefined) {
          errors.push(`${path}.merchant_category must be one of ${Object.keys(MERCHANT_CATEGORY_RISK).join(', ')}`);
          continue;
        }
        value = risk;
      }
    }
    if (value === undefined) {
      errors.push(`${path}.${field} is required`);
      continue;
    }
    if (spec.kind === 'boolean') {
      if (typeof value !== 'boolean') errors.push(`${path}.${field} must be true or false`);
      else out[field] = value;
      continue;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      errors.push(`${path}.${field} must be a finite number`);
    } else if (value < spec.min || value > spec.max) {
      errors.push(`${path}.${field} must be between ${spec.min} and ${spec.max}`);
    } else if (spec.integer && !Number.isInteger(value)) {
      errors.push(`${path}.${field} must be an integer`);
    } else {
      out[field] = value;
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, transaction: out as Transaction };
}

/** One model input derived from a transaction field. */
export interface FeatureDefinition {
  /** Name stored in the model file. */
  readonly name: string;
  /** Transaction field the feature is computed from (for explanations). */
  readonly source: TransactionField;
  /** The transformation. */
  readonly compute: (t: Transaction) => number;
}

const TAU = 2 * Math.PI;

/**
 * The model's features. Amounts, distances, ages and counts are heavy-tailed,
 * so the model sees their logarithms (which also keeps one extreme value from
 * dominating the score); hour of day is circular (23:00 is next to
 * 00:00), so it is encoded as a point on the unit circle.
 */
export const FEATURES: readonly FeatureDefinition[] = [
  { name: 'amount_log', source: 'amount', compute: (t) => Math.log1p(t.amount) },
  { name: 'hour_sin', source: 'hour', compute: (t) => Math.sin((TAU * t.hour) / 24) },
  { name: 'hour_cos', source: 'hour', compute: (t) => Math.cos((TAU * t.hour) / 24) },
  { name: 'merchant_risk', source: 'merchant_risk', compute: (t) => t.merchant_risk },
  { name: 'distance_log', source: 'distance_km', compute: (t) => Math.log1p(t.distance_km) },
  { name: 'card_present', source: 'card_present', compute: (t) => (t.card_present ? 1 : 0) },
  { name: 'txn_count_log', source: 'txn_count_24h', compute: (t) => Math.log1p(t.txn_count_24h) },
  { name: 'account_age_log', source: 'account_age_days', compute: (t) => Math.log1p(t.account_age_days) },
  { name: 'foreign', source: 'foreign', compute: (t) => (t.foreign ? 1 : 0) },
];

/** Feature names in model order. */
export const FEATURE_NAMES: readonly string[] = FEATURES.map((f) => f.name);

/** Derives the model's feature vector (in `FEATURE_NAMES` order). */
export function featureVector(t: Transaction): number[] {
  return FEATURES.map((f) => f.compute(t));
}
