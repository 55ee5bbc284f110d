import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { breakAtOrBefore, mayHoldFinding, releasePoint } from '../../../src/policy/builtins/candidates.js';
import { scanPii, type PiiType } from '../../../src/policy/builtins/pii.js';
import { HoldbackWindow, type Commit } from '../../../src/proxy/stream/holdback.js';
import { pieces, piiTextArb, proseArb } from './pii-text.js';

/** What stays held of `text` while more may follow. */
const held = (text: string) => text.slice(releasePoint(text, false));

/** Feeds pieces to a window, committing after each, and returns every commit (the last one final). */
function feed(parts: readonly string[], windowChars = 0): Commit[] {
  const w = new HoldbackWindow({ windowChars, maxHoldChars: 1 << 16 });
  const commits: Commit[] = [];
  for (const p of parts) {
    w.append(p);
    const c = w.commit(false);
    if (c) commits.push(c);
  }
  const last = w.commit(true);
  if (last) commits.push(last);
  return commits;
}

const spans = (xs: ReadonlyArray<{ type: string; start: number; end: number }>) =>
  xs.map((f) => `${f.type}:${f.start}-${f.end}`).sort();

describe('releasePoint: what is held', () => {
  it.each([
    ['prose leaves at the word boundary; the last word may still become an e-mail local part', 'The quick brown fox', 'fox'],
    ['a finished word is released whole', 'The quick brown fox ', ''],
    ['punctuation that joins nothing ends the candidate', 'Hello world!', ''],
    ['a comma after a word is not part of any match', 'Hello,', ''],
    ['an address in progress is held from its first character', 'write to bob.smith@exa', 'bob.smith@exa'],
    ['a digit run is held, with the space that may join the next group', 'card 4111 1111 ', '4111 1111 '],
    ['a space after a word before a digit does not join', 'my card 4', '4'],
    ['a decimal mark after digits waits for the next character', 'it costs 4111111111111111.', '4111111111111111.'],
    ['an IBAN-shaped prefix is held, letter blocks too', 'pay to GB82 WEST 1234', 'GB82 WEST 1234'],
    ['an IPv6-looking run is held', 'from fe80::1c3b:', 'fe80::1c3b:'],
    ['a phone number with a parenthesised area code', 'call +1 (415) 555', '+1 (415) 555'],
    ['an opening parenthesis may start a phone number', 'call (', '('],
    ['a lower-case word after a number decides it', 'card 4111 1111 1111 1111 thanks', 'thanks'],
    ['a surrogate pair is never split', 'smile \ud83d', '\ud83d'],
    ['a line break joins nothing', 'SSN 536-22-1234\n', ''],
    ['shouted words do not join unless they are four-character blocks', 'THE QUICK BROWN', 'BROWN'],
    ['an IBAN block of capitals joins the next block', 'is QA58 DOHB 0000 1234 5678 90AB CDEF G', 'QA58 DOHB 0000 1234 5678 90AB CDEF G'],
  ])('%s', (_why, text, expected) => {
    expect(held(text)).toBe(expected);
  });

  it('releases everything once the text has ended', () => {
    expect(releasePoint('card 4111 1111', true)).toBe('card 4111 1111'.length);
  });

  it('finds the last break before a limit, judging with all the text known', () => {
    const text = 'pay 4111 1111 1111 1111 now please';
    expect(breakAtOrBefore(text, 10)).toBe(4);
    expect(breakAtOrBefore(text, text.length)).toBe(text.length - 'please'.length);
  });

  it('holds only the last word of prose, however it is split (property)', () => {
    fc.assert(
      fc.property(proseArb, (text) => {
        expect(held(text)).toBe(text.slice(text.lastIndexOf(' ') + 1));
        expect(held(`${text} `)).toBe('');
      }),
    );
  });

  it('text without a digit or "@" never holds a finding (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), piiTextArb, (random, mixed) => {
        for (const text of [random, mixed.replace(/[0-9@]/g, 'x')]) {
          if (!mayHoldFinding(text)) expect(scanPii(text)).toEqual([]);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('HoldbackWindow with the candidate rule', () => {
  it('the generators make real findings of every type (so the property below is not vacuous)', () => {
    const seen = new Set<PiiType>();
    fc.assert(
      fc.property(piiTextArb, (text) => {
        for (const f of scanPii(text)) seen.add(f.type);
      }),
      { numRuns: 400, seed: 13 },
    );
    expect([...seen].sort()).toEqual(['aba_routing', 'crypto_wallet', 'email', 'iban', 'ip_address', 'payment_card', 'phone', 'uk_nhs', 'us_ssn']);
  });

  it('streamed findings equal one scan of the whole text, under any split and any fixed window (property)', () => {
    fc.assert(
      fc.property(
        piiTextArb,
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 20 }),
        fc.constantFrom(0, 0, 0, 1, 7, 64),
        (text, sizes, windowChars) => {
          const commits = feed(pieces(text, sizes), windowChars);
          expect(commits.map((c) => c.text).join('')).toBe(text);
          expect(spans(commits.flatMap((c) => c.findings))).toEqual(spans(scanPii(text)));
          // A finding is always committed in one piece, never cut by a release.
          for (const f of commits.flatMap((c) => c.findings)) {
            const c = commits.find((k) => k.start <= f.start && f.start < k.start + k.text.length)!;
            expect(f.end).toBeLessThanOrEqual(c.start + c.text.length);
          }
        },
      ),
      { numRuns: 600 },
    );
  });

  it('one character at a time gives the same findings (property)', () => {
    fc.assert(
      fc.property(piiTextArb, (text) => {
        expect(spans(feed([...text]).flatMap((c) => c.findings))).toEqual(spans(scanPii(text)));
      }),
      { numRuns: 300 },
    );
  });

  it('releases prose one word behind the text that arrived', () => {
    const w = new HoldbackWindow({ maxHoldChars: 4096 });
    const out: string[] = [];
    for (const token of ['The', ' quick', ' brown', ' fox', '.']) {
      w.append(token);
      out.push(w.commit(false)?.text ?? '');
    }
    expect(out).toEqual(['', 'The ', 'quick ', 'brown ', '']);
    expect(w.commit(true)?.text).toBe('fox.');
  });
});
