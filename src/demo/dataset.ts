/**
 * Synthetic card-transaction data set for the demo fraud model.
 *
 * Features are drawn from plausible marginal distributions (log-normal
 * amounts, daytime-heavy hours, mostly local and card-present purchases);
 * labels come from a hidden logistic ground truth plus logit noise, tuned to a
 * fraud rate of about 4 %. The ground truth deliberately contains a term the
 * model's feature set cannot express (foreign *and* card-not-present), so the
 * trained model is good but not an exact copy of the generator.
 */
import { createRng, deriveSeed, type Rng } from './prng.js';
import { MERCHANT_CATEGORY_RISK, type Transaction } from './transaction.js';

/** One generated row. */
export interface LabelledTransaction {
  readonly transaction: Transaction;
  /** Ground-truth label drawn from the hidden model. */
  readonly fraud: boolean;
}

/** Parameters of `generateDataset`. */
export interface DatasetOptions {
  /** Master seed; the same seed and size always give the same rows. */
  readonly seed: number;
  /** Number of rows. */
  readonly samples: number;
}

// How often each merchant category occurs. Risky categories are rare, as in
// real card traffic, so merchant risk alone cannot separate the classes.
const CATEGORY_SHARE: Readonly<Record<string, number>> = {
  grocery: 22,
  fuel: 10,
  restaurant: 16,
  pharmacy: 5,
  transport: 7,
  clothing: 10,
  travel: 5,
  online_marketplace: 12,
  electronics: 5,
  jewellery: 2,
  gambling: 2,
  gift_cards: 2,
  crypto: 2,
};
const CATEGORY_NAMES = Object.keys(CATEGORY_SHARE);
const CATEGORY_WEIGHTS = CATEGORY_NAMES.map((name) => CATEGORY_SHARE[name] ?? 0);

// Relative transaction volume per local hour: quiet at night, busiest around
// lunch and early evening.
const HOUR_WEIGHTS = [
  0.9, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4, 5, 5.5, 6, 7, 6.5, 6, 6, 6.5, 7, 7, 6, 5, 4, 3, 1.8,
];

// Standard deviation of the Gaussian noise added to the ground-truth logit:
// it stands for everything a real fraud team cannot observe, and caps the
// achievable AUC below 1.
const LOGIT_NOISE_SD = 0.5;

// Intercept of the hidden model, tuned so that about 4 % of rows are fraud.
const GROUND_TRUTH_INTERCEPT = -4.6;

const round = (value: number, decimals: number): number => {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
};

/** Draws one unlabelled transaction. */
export function generateTransaction(rng: Rng): Transaction {
  const foreign = rng.bernoulli(0.07);
  const cardPresent = rng.bernoulli(foreign ? 0.45 : 0.68);
  const category = CATEGORY_NAMES[rng.weighted(CATEGORY_WEIGHTS)] ?? 'grocery';
  // Card-not-present purchases are shipped from anywhere; card-present ones
  // happen near home unless the cardholder is travelling abroad.
  let distance = cardPresent ? Math.exp(rng.normal(1.4, 0.9)) : Math.exp(rng.normal(2.6, 1.4));
  if (foreign) distance += Math.exp(rng.normal(6.3, 0.8));
  return {
    amount: round(Math.exp(rng.normal(3.7, 1.05)), 2),
    hour: rng.weighted(HOUR_WEIGHTS),
    merchant_risk: MERCHANT_CATEGORY_RISK[category] ?? 0,
    distance_km: Math.min(20_000, round(distance, 1)),
    card_present: cardPresent,
    txn_count_24h: rng.poisson(1.8),
    account_age_days: Math.min(20_000, Math.floor(Math.exp(rng.normal(6.2, 1.2)))),
    foreign,
  };
}

/**
 * Logit of the hidden ground-truth fraud probability (before noise). Exported
 * for tests, which compare the trained model against this oracle; the trainer
 * never sees it.
 */
export function groundTruthLogit(t: Transaction): number {
  // Risk peaks at 03:00 and bottoms out at 15:00.
  const night = Math.cos((2 * Math.PI * (t.hour - 3)) / 24);
  const cardNotPresent = t.card_present ? 0 : 1;
  const foreign = t.foreign ? 1 : 0;
  return (
    GROUND_TRUTH_INTERCEPT +
    0.85 * (Math.log1p(t.amount) - 3.7) +
    1.1 * night +
    3.2 * t.merchant_risk +
    0.5 * Math.log1p(t.distance_km) +
    1.2 * cardNotPresent +
    0.9 * Math.log1p(t.txn_count_24h) -
    0.5 * Math.log1p(t.account_age_days) +
    1.0 * foreign +
    0.9 * foreign * cardNotPresent
  );
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Generates `samples` labelled rows from `seed`; deterministic. */
export function generateDataset(options: DatasetOptions): LabelledTransaction[] {
  const rng = createRng(deriveSeed(options.seed, 'dataset'));
  const rows: LabelledTransaction[] = [];
  for (let i = 0; i < options.samples; i += 1) {
    const transaction = generateTransaction(rng);
    const logit = groundTruthLogit(transaction) + rng.normal(0, LOGIT_NOISE_SD);
    rows.push({ transaction, fraud: rng.next() < sigmoid(logit) });
  }
  return rows;
}

/** Train and test partitions of a data set. */
export interface DatasetSplit {
  readonly train: readonly LabelledTransaction[];
  readonly test: readonly LabelledTransaction[];
}

/**
 * Splits rows into train and test sets, stratified by label: with only ~4 %
 * fraud, a plain random split can leave the test set with noticeably more or
 * fewer positives than the training set, and the reported metrics would wobble
 * with the seed for no good reason.
 */
export function splitDataset(
  rows: readonly LabelledTransaction[],
  options: { readonly seed: number; readonly testFraction: number },
): DatasetSplit {
  const rng = createRng(deriveSeed(options.seed, 'split'));
  const train: LabelledTransaction[] = [];
  const test: LabelledTransaction[] = [];
  for (const label of [true, false]) {
    const group = rows.filter((row) => row.fraud === label);
    // Fisher–Yates shuffle driven by the seeded generator.
    for (let i = group.length - 1; i > 0; i -= 1) {
      const j = rng.int(i + 1);
      const tmp = group[i]!;
      group[i] = group[j]!;
      group[j] = tmp;
    }
    const testCount = Math.round(group.length * options.testFraction);
    test.push(...group.slice(0, testCount));
    train.push(...group.slice(testCount));
  }
  return { train, test };
}
