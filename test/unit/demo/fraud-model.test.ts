import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  defaultFraudModel,
  loadFraudModel,
  MODEL_FILE_CANDIDATES,
  parseFraudModel,
  scoreTransaction,
} from '../../../src/demo/fraud-model.js';
import { FEATURE_NAMES, validateTransaction, type Transaction } from '../../../src/demo/transaction.js';
import { RISKY, SAFE } from './fixtures.js';

describe('committed fraud model', () => {
  const model = defaultFraudModel();

  it('matches the features this build computes', () => {
    expect(model.features).toEqual(FEATURE_NAMES);
    expect(model.metrics.test.auc).toBeGreaterThan(0.9);
  });

  it('scores an obviously risky transaction far above an obviously safe one', () => {
    const risky = scoreTransaction(model, RISKY);
    const safe = scoreTransaction(model, SAFE);
    expect(risky.fraud_probability).toBeGreaterThan(0.9);
    expect(safe.fraud_probability).toBeLessThan(0.01);
    expect(risky.is_fraud).toBe(true);
    expect(safe.is_fraud).toBe(false);
    expect(risky.threshold).toBe(0.5);
  });

  it('explains a score with the top three fields by magnitude, in caller field names', () => {
    const { top_factors: factors } = scoreTransaction(model, RISKY);
    expect(factors).toHaveLength(3);
    const magnitudes = factors.map((f) => Math.abs(f.contribution));
    expect([...magnitudes].sort((a, b) => b - a)).toEqual(magnitudes);
    expect(factors.every((f) => f.contribution > 0)).toBe(true);
    expect(factors.map((f) => f.feature)).toContain('amount');
  });

  it('is monotone in the obvious directions', () => {
    const p = (t: Transaction): number => scoreTransaction(model, t).fraud_probability;
    expect(p({ ...SAFE, foreign: true })).toBeGreaterThan(p(SAFE));
    expect(p({ ...SAFE, card_present: false })).toBeGreaterThan(p(SAFE));
    expect(p({ ...SAFE, merchant_risk: 0.9 })).toBeGreaterThan(p(SAFE));
    expect(p({ ...SAFE, account_age_days: 5 })).toBeGreaterThan(p(SAFE));
    expect(p({ ...SAFE, hour: 3 })).toBeGreaterThan(p(SAFE));
  });

  it('resolves its weights file from the package root whether run from src or dist', () => {
    expect(MODEL_FILE_CANDIDATES.map((url) => url.pathname)).toContain(
      new URL('../../../src/demo/fraud-model.json', import.meta.url).pathname,
    );
  });
});

describe('weights file validation', () => {
  const good = defaultFraudModel();

  it('rejects a file for a different feature list or with broken numbers', () => {
    expect(() => parseFraudModel({ ...good, features: ['amount_log'] })).toThrow(/features/);
    expect(() => parseFraudModel({ ...good, weights: good.weights.slice(1) })).toThrow(/weights/);
    expect(() => parseFraudModel({ ...good, stds: good.stds.map(() => 0) })).toThrow(/stds/);
    expect(() => parseFraudModel({ ...good, format: 'other' })).toThrow(/format/);
    expect(() => parseFraudModel({ ...good, threshold: 1 })).toThrow(/threshold/);
    expect(() => parseFraudModel(null)).toThrow();
  });

  it('names the paths it tried when the file is missing', () => {
    expect(() => loadFraudModel('/nonexistent/fraud-model.json')).toThrow(/nonexistent.*train\.js/);
  });
});

describe('transaction validation', () => {
  it('accepts a complete transaction and maps merchant_category to its risk', () => {
    const { merchant_risk: _omit, ...rest } = SAFE;
    const result = validateTransaction({ ...rest, merchant_category: 'crypto', extra: 'ignored' });
    expect(result).toEqual({ ok: true, transaction: { ...SAFE, merchant_risk: 0.9 } });
  });

  it('lists every problem with its path', () => {
    const broken = { ...SAFE, amount: -5, hour: 3.5, foreign: 'yes', txn_count_24h: undefined };
    const result = validateTransaction(broken, 'tx');
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual([
      'tx.amount must be between 0 and 1000000000',
      'tx.hour must be an integer',
      'tx.txn_count_24h is required',
      'tx.foreign must be true or false',
    ]);
    expect(validateTransaction({ ...SAFE, merchant_risk: undefined, merchant_category: 'pets' })).toMatchObject({
      ok: false,
    });
    expect(validateTransaction({ ...SAFE, amount: Number.NaN }).ok).toBe(false);
    expect(validateTransaction([SAFE]).ok).toBe(false);
  });

  it('never throws on arbitrary input, and every accepted transaction scores to a probability', () => {
    const model = defaultFraudModel();
    const field = fc.oneof(fc.double(), fc.integer({ min: -5, max: 50 }), fc.boolean(), fc.string(), fc.constant(null));
    const candidate = fc.oneof(
      fc.anything(),
      fc.record({
        amount: field,
        hour: field,
        merchant_risk: field,
        distance_km: field,
        card_present: field,
        txn_count_24h: field,
        account_age_days: field,
        foreign: field,
      }),
    );
    fc.assert(
      fc.property(candidate, (input) => {
        const result = validateTransaction(input);
        if (!result.ok) return result.errors.length > 0;
        const p = scoreTransaction(model, result.transaction).fraud_probability;
        return p >= 0 && p <= 1;
      }),
      { numRuns: 500 },
    );
  });
});
