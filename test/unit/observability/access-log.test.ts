// accessLogWriter (src/observability/logger.ts) writes what pino itself
// writes for the same entry: same fields, order, escaping and numbers, on
// random entries, for the root logger and a worker's, and falls back to pino
// for a logger it does not know.
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';

import { accessLogWriter, createLogger, type AccessLogEntry } from '../../../src/observability/logger.js';

const capture = (): { lines: string[]; write(line: string): void } => {
  const lines: string[] = [];
  return { lines, write: (line: string) => void lines.push(line) };
};

/** The time differs between two calls; everything else must not. */
const timeless = (line: string): string => line.replace(/"time":"[^"]*"/, '"time":"T"');

const entry: fc.Arbitrary<AccessLogEntry> = fc.record(
  {
    request_id: fc.string(),
    method: fc.option(fc.constantFrom('GET', 'POST', 'DELETE', 'M"ETHOD'), { nil: undefined }),
    path: fc.string({ unit: 'grapheme' }),
    status: fc.option(fc.integer({ min: 100, max: 599 }), { nil: undefined }),
    decision: fc.constantFrom('allow', 'deny', 'error'),
    code: fc.constantFrom('ok', 'EG_POLICY_DENIED', 'EG_UPSTREAM_UNAVAILABLE'),
    reasons: fc.array(fc.string(), { minLength: 1, maxLength: 3 }),
    duration_ms: fc.double({ min: 0, max: 1e6, noNaN: true }),
    policy_ms: fc.double({ min: 0, max: 1e3, noNaN: true }),
    upstream_ms: fc.double({ min: 0, max: 1e6, noNaN: true }),
  },
  { requiredKeys: ['request_id', 'method', 'path', 'status', 'decision', 'code', 'duration_ms', 'policy_ms'] },
);

describe('access log lines', () => {
  for (const bindings of [undefined, { worker: 3 }]) {
    it(`are pino's own lines, byte for byte (${bindings === undefined ? 'root logger' : 'a worker'})`, () => {
      fc.assert(
        fc.property(entry, (e) => {
          const ours = capture();
          const theirs = capture();
          accessLogWriter(createLogger('info', ours, bindings))(e);
          createLogger('info', theirs, bindings).info(e, 'request');
          expect(ours.lines.map(timeless)).toEqual(theirs.lines.map(timeless));
          expect(JSON.parse(ours.lines[0]!).time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        }),
        { numRuns: 300, seed: Number(process.env['FC_SEED'] ?? 0xacce55) },
      );
    });
  }

  it('go through pino for a logger createLogger did not make', () => {
    const out = capture();
    const logger = pino({ base: { pid: 1 } }, out);
    accessLogWriter(logger)({ request_id: 'r', method: 'GET', path: '/v1/models', status: 200, decision: 'allow', code: 'ok', duration_ms: 1, policy_ms: 0 });
    expect(JSON.parse(out.lines[0]!)).toMatchObject({ pid: 1, request_id: 'r', path: '/v1/models', msg: 'request' });
  });
});
