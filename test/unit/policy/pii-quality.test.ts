/**
 * Runs the PII quality benchmark (bench/pii-quality) on a small seeded corpus
 * so that a detector change that costs precision or recall fails CI. The
 * validated types must stay at ≥ 0.99; the others have floors a little under
 * their measured values (docs/pii.md), to catch regressions without
 * flapping.
 */
import { describe, expect, it } from 'vitest';

import { generateCorpus } from '../../../bench/pii-quality/corpus.js';
import { generateHoldout } from '../../../bench/pii-quality/holdout.js';
import { detect, score, VALIDATED_TYPES } from '../../../bench/pii-quality/metrics.js';
import { PII_DETECTORS } from '../../../src/policy/builtins/pii.js';

const FLOORS: Record<string, number> = {
  email: 0.99,
  payment_card: 0.99,
  us_ssn: 0.99,
  iban: 0.99,
  phone: 0.97,
  ip_address: 0.97,
  crypto_wallet: 0.97,
  aba_routing: 0.97,
  uk_nhs: 0.97,
};

describe('PII quality on a seeded corpus', () => {
  const samples = generateCorpus(7, 1500);
  const { metrics, errors } = score(samples, detect(samples, PII_DETECTORS), PII_DETECTORS.map((d) => d.type));

  it('covers every detector with labels', () => {
    for (const m of metrics) expect(m.labels, m.type).toBeGreaterThan(50);
  });

  it.each(metrics.map((m) => [m.type, m] as const))('%s meets its precision and recall floor', (type, m) => {
    const sample = [...errors.falsePositives, ...errors.falseNegatives]
      .filter((e) => e.span.type === type)
      .slice(0, 3)
      .map((e) => samples[e.sample]!.text);
    expect(m.precision, `precision; e.g. ${JSON.stringify(sample)}`).toBeGreaterThanOrEqual(FLOORS[type]!);
    expect(m.recall, `recall; e.g. ${JSON.stringify(sample)}`).toBeGreaterThanOrEqual(FLOORS[type]!);
  });

  it('holds the validated types to 0.99', () => {
    for (const type of VALIDATED_TYPES) expect(FLOORS[type]).toBe(0.99);
  });
});

describe('the held-out PII corpus', () => {
  // Reported in bench/results/pii-quality.md only, never as a CI floor: a
  // floor here would make it a tuning target. This only keeps it buildable
  // and reproducible.
  it('is the same for the same seed and labels spans inside its texts', () => {
    const a = generateHoldout(5, 200);
    expect(generateHoldout(5, 200)).toEqual(a);
    expect(generateHoldout(6, 200)).not.toEqual(a);
    for (const sample of a) {
      for (const label of sample.labels) {
        expect(label.start).toBeGreaterThanOrEqual(0);
        expect(label.end).toBeLessThanOrEqual(sample.text.length);
        expect(sample.text.slice(label.start, label.end).trim()).toBe(sample.text.slice(label.start, label.end));
      }
    }
    expect(a.some((s) => s.labels.length > 0) && a.some((s) => s.labels.length === 0)).toBe(true);
  });
});
