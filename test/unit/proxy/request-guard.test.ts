/**
 * The fast path of ambiguousPathReason (a plain-path pattern) must never admit
 * a path the full check refuses: random paths built from the characters that
 * matter (dots, percent signs, slashes, backslashes, non-ASCII) are judged
 * both ways.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { ambiguousPathReason, pathAmbiguity } from '../../../src/proxy/request-guard.js';

const piece = fc.constantFrom('v1', 'chat', 'models', '.', '..', '...', '%2e', '%2F', '%2f', '%41', '%', '%zz', '\\', '#', ' ', 'é', '．', '', 'a.b', '.hidden', 'x~y', '@', ':', ';', '=', '+', '(', '*');
const path = fc.array(piece, { maxLength: 6 }).chain((segments) =>
  fc.constantFrom('/', '', '//').map((lead) => `${lead}${segments.join('/')}`),
);

describe('ambiguousPathReason', () => {
  it('admits exactly what the full check admits, on random paths', () => {
    fc.assert(
      fc.property(path, (p) => {
        expect(ambiguousPathReason(p)).toBe(pathAmbiguity(p));
      }),
      { numRuns: 3000, seed: Number(process.env['FC_SEED'] ?? 0x9a7) },
    );
  });

  it('takes the fast path for model routes and still refuses dot segments and encodings', () => {
    for (const p of ['/v1/chat/completions', '/v1/models/llama3:8b', '/api/chat', '/v1/models/']) expect(ambiguousPathReason(p)).toBeUndefined();
    for (const p of ['/v1/../admin', '/v1/%2e%2e/admin', '//v1', '/v1/.', '/%61dmin']) expect(ambiguousPathReason(p)).toBeDefined();
  });
});
