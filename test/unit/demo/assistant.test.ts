import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { composeReply, countTokens, findTransactionJson, parseScoreCommand } from '../../../src/demo/assistant.js';
import { embed, toBase64Float32 } from '../../../src/demo/embeddings.js';
import { defaultFraudModel } from '../../../src/demo/fraud-model.js';
import { RISKY, SAFE } from './fixtures.js';

const model = defaultFraudModel();

describe('deterministic assistant', () => {
  it('finds a transaction JSON object inside prose, ignoring other objects and braces in strings', () => {
    const text = `Context {"note": "not a {transaction}"} -- please check ${JSON.stringify(RISKY)} thanks`;
    expect(findTransactionJson(text)).toEqual(RISKY);
    expect(findTransactionJson(`x ${JSON.stringify({ transaction: SAFE })}`)).toEqual(SAFE);
    expect(findTransactionJson('{"hello": 1} and {broken')).toBeUndefined();
  });

  it('parses a score: line with yes/no, currency and merchant aliases', () => {
    const line = 'please score: amount=$950, hour=3; merchant=gift_cards foreign=yes card_present: no';
    expect(parseScoreCommand(line)).toEqual({
      amount: 950,
      hour: 3,
      merchant_category: 'gift_cards',
      foreign: true,
      card_present: false,
    });
    expect(parseScoreCommand('merchant=0.4')).toBeUndefined();
    expect(parseScoreCommand('score: merchant=0.4')).toEqual({ merchant_risk: 0.4 });
  });

  it('scores and explains a transaction; the verdict follows the model', () => {
    const risky = composeReply(`Is this fraud? ${JSON.stringify(RISKY)}`, model);
    expect(risky).toMatch(/^Fraud probability: \d+\.\d+ %\. Verdict: likely fraud/);
    const safeLine =
      'score: amount=23.4 hour=14 merchant=grocery distance_km=2 card_present=yes ' +
      'txn_count_24h=1 account_age_days=2400 foreign=no';
    expect(composeReply(safeLine, model)).toMatch(/Verdict: likely legitimate/);
  });

  it('says what is missing from an incomplete transaction', () => {
    const reply = composeReply('score: amount=10', model);
    expect(reply).toContain('transaction.hour is required');
    expect(reply).toContain('Example: score:');
  });

  it('answers anything else with a fixed sentence that echoes the word count', () => {
    const reply = composeReply('what is  the\tweather', model);
    expect(reply).toMatch(/^Received 4 words\. I am enclave-demo-1/);
    expect(composeReply('what is  the\tweather', model)).toBe(reply);
    expect(composeReply('hi', model)).toMatch(/^Received 1 word\./);
    expect(countTokens('  a b\n c ')).toBe(3);
  });

  it('stays fast on pathological input', () => {
    const started = performance.now();
    composeReply('{'.repeat(1_000_000), model);
    composeReply(`{"a":"${'}'.repeat(100_000)}`, model);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('hashed bag-of-words embeddings', () => {
  const norm = (v: readonly number[]): number => Math.hypot(...v);
  const cosine = (a: readonly number[], b: readonly number[]): number => a.reduce((s, x, i) => s + x * (b[i] ?? 0), 0);

  it('returns deterministic unit vectors of the requested dimension', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((s) => s.trim() !== ''),
        fc.integer({ min: 1, max: 64 }),
        (text, dim) => {
          const v = embed(text, dim);
          const again = embed(text, dim);
          return v.length === dim && Math.abs(norm(v) - 1) < 1e-9 && again.every((x, i) => x === v[i]);
        },
      ),
    );
  });

  it('gives texts that share words a higher similarity than unrelated texts', () => {
    const a = embed('card transaction flagged as fraud');
    const b = embed('the fraud card transaction');
    const c = embed('weather forecast sunny tomorrow');
    expect(cosine(a, b)).toBeGreaterThan(cosine(a, c));
    expect(cosine(a, embed('CARD Transaction, flagged as FRAUD!'))).toBeCloseTo(1, 12);
  });

  it('encodes base64 as little-endian float32', () => {
    const v = embed('hello world');
    const bytes = Buffer.from(toBase64Float32(v), 'base64');
    const decoded = Array.from({ length: v.length }, (_, i) => bytes.readFloatLE(i * 4));
    decoded.forEach((x, i) => expect(x).toBeCloseTo(v[i]!, 6));
  });
});
