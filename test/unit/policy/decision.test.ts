import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { FAILURE_REASONS, failureDecision, normalizeDecision } from '../../../src/policy/decision.js';

const wrap = (result: unknown): unknown => [{ result }];

describe('normalizeDecision', () => {
  it('passes a well-formed allow through', () => {
    expect(normalizeDecision(wrap({ allow: true, reasons: [] }))).toEqual({ allow: true, reasons: [] });
  });

  it('keeps status, headers, reasons and redact of a well-formed deny', () => {
    const decision = normalizeDecision(
      wrap({ allow: false, status: 405, reasons: ['method_not_allowed'], headers: { allow: 'POST' }, redact: [1] }),
    );
    expect(decision).toEqual({
      allow: false,
      status: 405,
      reasons: ['method_not_allowed'],
      headers: { allow: 'POST' },
      redact: [1],
    });
    expect(Object.isFrozen(decision)).toBe(true);
    expect(Object.isFrozen(decision.reasons)).toBe(true);
  });

  it('treats an undefined decision as a deny', () => {
    expect(normalizeDecision([])).toMatchObject({
      allow: false,
      reasons: [FAILURE_REASONS.undefined],
      failure: 'undefined',
    });
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['an object instead of a result set', { result: { allow: true, reasons: [] } }],
    ['two results', [{ result: { allow: true, reasons: [] } }, { result: { allow: true, reasons: [] } }]],
    ['an entry without result', [{ value: { allow: true, reasons: [] } }]],
    ['a boolean decision', wrap(true)],
    ['an array decision', wrap([true])],
    ['allow as a string', wrap({ allow: 'true', reasons: [] })],
    ['allow as 1', wrap({ allow: 1, reasons: [] })],
    ['no allow', wrap({ reasons: [] })],
    ['no reasons', wrap({ allow: true })],
    ['reasons as a string', wrap({ allow: true, reasons: 'ok' })],
    ['a non-string reason', wrap({ allow: false, reasons: ['a', 2] })],
    ['a fractional status', wrap({ allow: false, status: 403.5, reasons: [] })],
    ['a status below 100', wrap({ allow: false, status: 99, reasons: [] })],
    ['a status above 599', wrap({ allow: false, status: 600, reasons: [] })],
    ['a string status', wrap({ allow: false, status: '403', reasons: [] })],
    ['a deny with a 2xx status', wrap({ allow: false, status: 200, reasons: [] })],
    ['a deny with a 1xx status', wrap({ allow: false, status: 101, reasons: [] })],
    ['headers as an array', wrap({ allow: false, reasons: [], headers: [['a', 'b']] })],
    ['a non-string header value', wrap({ allow: false, reasons: [], headers: { a: 1 } })],
    ['a header value with CR LF', wrap({ allow: false, reasons: [], headers: { a: 'x\r\nset-cookie: y' } })],
    ['an invalid header name', wrap({ allow: false, reasons: [], headers: { 'a b': 'x' } })],
    ['an unknown key', wrap({ allow: true, reasons: [], allowed: true })],
    ['a failure key set by the policy', wrap({ allow: true, reasons: [], failure: 'none' })],
  ])('denies %s as malformed', (_label, raw) => {
    const decision = normalizeDecision(raw);
    expect(decision).toMatchObject({ allow: false, reasons: [FAILURE_REASONS.malformed], failure: 'malformed' });
    expect(decision.detail).toEqual(expect.any(String));
  });

  it('quotes only plain key names in the detail', () => {
    expect(normalizeDecision(wrap({ allow: true, reasons: [], verdict: 1 })).detail).toMatch(/"verdict"/);
    expect(normalizeDecision(wrap({ allow: true, reasons: [], 'bob@example.com': 1 })).detail).not.toMatch(/bob/);
  });

  it('allows a status on an allow, and 3xx on a deny', () => {
    expect(normalizeDecision(wrap({ allow: true, status: 200, reasons: [] })).allow).toBe(true);
    expect(normalizeDecision(wrap({ allow: false, status: 307, reasons: [] })).status).toBe(307);
  });

  it('never allows unless allow is exactly true (random values)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const decision = normalizeDecision(wrap(value));
        const wellFormedAllow =
          typeof value === 'object' && value !== null && !Array.isArray(value) && value.allow === true;
        if (!wellFormedAllow) expect(decision.allow).toBe(false);
        if (decision.failure !== undefined) expect(decision.allow).toBe(false);
      }),
    );
  });
});

describe('failureDecision', () => {
  it('builds a frozen deny with the reason of its kind', () => {
    const decision = failureDecision('error', 'boom');
    expect(decision).toEqual({ allow: false, reasons: ['policy_error'], failure: 'error', detail: 'boom' });
    expect(Object.isFrozen(decision)).toBe(true);
  });
});
