/**
 * The "language model" behind the demo's chat and text completion endpoints.
 *
 * It is deterministic on purpose: the same prompt always gets the same reply,
 * so proxy tests and policy demos can assert on exact output. If the prompt
 * carries a card transaction (a JSON object, or a `score: key=value ...`
 * line), the reply scores it with the fraud model and explains the result;
 * otherwise it is a fixed sentence that echoes the prompt's word count.
 */
import { scoreTransaction, type FraudModelFile, type FraudScore } from './fraud-model.js';
import {
  FIELD_LABELS,
  MERCHANT_CATEGORY_RISK,
  TRANSACTION_FIELD_NAMES,
  validateTransaction,
} from './transaction.js';

/** Whitespace-separated token count: the demo's notion of "tokens" for `usage`. */
export function countTokens(text: string): number {
  return text.split(/\s+/).filter((word) => word.length > 0).length;
}

/** Example shown when a prompt asks for a score but the transaction is incomplete. */
export const SCORE_EXAMPLE =
  'score: amount=950 hour=3 merchant_category=gift_cards distance_km=800 card_present=no ' +
  'txn_count_24h=6 account_age_days=12 foreign=yes';

const SEARCH_WINDOW = 64 * 1024;
const MAX_ATTEMPTS = 64;

const TRANSACTION_KEYS = new Set<string>([...TRANSACTION_FIELD_NAMES, 'merchant_category']);

/**
 * Finds the first JSON object in `text` that looks like a transaction: it has
 * at least one transaction field, directly or under a `transaction` key.
 * Returns the candidate object (unvalidated) or `undefined`.
 */
export function findTransactionJson(text: string): Record<string, unknown> | undefined {
  // Bounded search: a transaction is a few hundred bytes, and without limits a
  // 1 MiB prompt of "{{{{…" would cost a quadratic scan per request.
  const window = text.slice(0, SEARCH_WINDOW);
  const starts: number[] = [];
  for (let i = window.indexOf('{'); i !== -1 && starts.length < MAX_ATTEMPTS; i = window.indexOf('{', i + 1)) {
    starts.push(i);
  }
  for (const start of starts) {
    const end = matchingBrace(window, start);
    if (end === -1) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(window.slice(start, end + 1));
    } catch {
      continue;
    }
    const candidate = asTransactionLike(parsed);
    if (candidate !== undefined) return candidate;
  }
  return undefined;
}

function asTransactionLike(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  if (Object.keys(record).some((key) => TRANSACTION_KEYS.has(key))) return record;
  return asTransactionLike(record['transaction']);
}

// Index of the `}` closing the object that opens at `start`, or -1. Tracks
// strings so that braces inside JSON string values do not count.
function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i += 1) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i += 1;
      else if (ch === '"') inString = false;
    } else if (ch === '"') {
      inString = true;
    } else if (ch === '{') {
      depth += 1;
    } else if (ch === '}') {
      depth -= 1;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/**
 * Parses `score: amount=950 hour=3 foreign=yes ...` (also `key: value`,
 * separated by spaces, commas or semicolons) into a transaction-shaped
 * object. `merchant=` is accepted for either a risk number or a category name.
 * Returns `undefined` when the text has no `score:` marker.
 */
export function parseScoreCommand(text: string): Record<string, unknown> | undefined {
  const marker = /\bscore\s*:/i.exec(text);
  if (marker === null) return undefined;
  const rest = text.slice(marker.index + marker[0].length);
  const out: Record<string, unknown> = {};
  for (const match of rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*[=:]\s*([^\s,;]+)/g)) {
    const key = (match[1] ?? '').toLowerCase();
    const value = parseScalar(match[2] ?? '');
    if (key === 'merchant') out[typeof value === 'number' ? 'merchant_risk' : 'merchant_category'] = value;
    else out[key] = value;
  }
  return out;
}

function parseScalar(raw: string): unknown {
  const text = raw.toLowerCase();
  if (['true', 'yes', 'y'].includes(text)) return true;
  if (['false', 'no', 'n'].includes(text)) return false;
  // Allow a leading currency sign on amounts ("amount=$950").
  const numeric = text.replace(/^[$€£]/, '');
  if (/^-?\d+(\.\d+)?$/.test(numeric)) return Number(numeric);
  return text;
}

// One decimal hides the difference between 0.02 % and 0.4 %, or 99.2 % and
// 99.98 %, which is exactly what a reader of a very safe or very risky score
// wants to see; show two decimals near the ends.
const percent = (p: number): string => `${(p * 100).toFixed(p < 0.01 || p > 0.99 ? 2 : 1)} %`;

/** Renders a fraud score as a short explanation. */
export function explainScore(score: FraudScore): string {
  const verdict = score.is_fraud ? 'likely fraud' : 'likely legitimate';
  const factors = score.top_factors
    .map((f) => {
      const direction = f.contribution >= 0 ? 'raised' : 'lowered';
      const sign = f.contribution >= 0 ? '+' : '';
      return `${FIELD_LABELS[f.feature]} ${direction} the risk (${sign}${f.contribution.toFixed(2)})`;
    })
    .join('; ');
  return (
    `Fraud probability: ${percent(score.fraud_probability)}. Verdict: ${verdict} ` +
    `(threshold ${percent(score.threshold)}). Main factors: ${factors}. ` +
    'Scored by enclave-demo-1, a logistic regression trained on synthetic card transactions.'
  );
}

/** Builds the deterministic reply to a prompt. */
export function composeReply(prompt: string, model: FraudModelFile): string {
  const candidate = findTransactionJson(prompt) ?? parseScoreCommand(prompt);
  if (candidate !== undefined) {
    const result = validateTransaction(candidate);
    if (result.ok) return explainScore(scoreTransaction(model, result.transaction));
    return (
      `I can score that transaction once it is complete. Problems: ${result.errors.join('; ')}. ` +
      `Merchant categories: ${Object.keys(MERCHANT_CATEGORY_RISK).join(', ')}. Example: ${SCORE_EXAMPLE}`
    );
  }
  const words = countTokens(prompt);
  return (
    `Received ${words} ${words === 1 ? 'word' : 'words'}. I am enclave-demo-1, a deterministic demo model ` +
    'running behind enclave-gate. Send a card transaction as JSON, or a line such as ' +
    `"${SCORE_EXAMPLE}", and I will score it for fraud.`
  );
}
