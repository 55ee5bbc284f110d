/**
 * scanPii takes shortcuts: it finds each string's digit runs once, decides
 * from them which detectors can match at all (gates.ts) and runs only those.
 * These tests compare it with the plain path, every detector run on every
 * string on its own (each finding its own digit runs), on random inputs
 * built to hit the gates' edges: digit soup with every separator the
 * detectors care about, real PII values from both quality corpora, and
 * random JSON with PII in keys.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { generateCorpus } from '../../../bench/pii-quality/corpus.js';
import { generateHoldout } from '../../../bench/pii-quality/holdout.js';
import type { PiiDetector } from '../../../src/policy/builtins/detectors/detector.js';
import { findDigitRuns } from '../../../src/policy/builtins/detectors/digit-runs.js';
import { computeGates } from '../../../src/policy/builtins/detectors/gates.js';
import { PII_DETECTORS, REDACTED_KEY_TOKEN, scanPii, type PiiFinding } from '../../../src/policy/builtins/pii.js';

/** Every detector on `text`, ungated, in list order. */
function plainSpans(text: string): Array<{ type: string; start: number; end: number }> {
  const out: Array<{ type: string; start: number; end: number }> = [];
  for (const detector of PII_DETECTORS) {
    detector.scan(text, (start, end) => {
      out.push({ type: detector.type, start, end });
      return true;
    });
  }
  return out;
}

const escape = (token: string): string => token.replaceAll('~', '~0').replaceAll('/', '~1');

/** The plain path over a JSON value: recursion, every string, every key, no cap (inputs stay small). */
function plainScan(value: unknown, pointer = ''): PiiFinding[] {
  if (typeof value === 'string') return plainSpans(value).map((s) => ({ type: s.type, path: pointer, start: s.start, end: s.end }) as PiiFinding);
  if (Array.isArray(value)) return value.flatMap((v, i) => plainScan(v, `${pointer}/${i}`));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, v]) => {
      const spans = plainSpans(key);
      const keyPointer = `${pointer}/${spans.length > 0 ? REDACTED_KEY_TOKEN : escape(key)}`;
      return [...spans.map((s) => ({ type: s.type, path: keyPointer, start: s.start, end: s.end, key: true }) as PiiFinding), ...plainScan(v, keyPointer)];
    });
  }
  return [];
}

const sorted = (findings: PiiFinding[]): string[] => findings.map((f) => JSON.stringify([f.path, f.start, f.end, f.type, f.key ?? false])).sort();

const samples = [...generateCorpus(11, 300), ...generateHoldout(12, 300)].map((s) => s.text);
const pieceArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...samples) },
  { weight: 4, arbitrary: fc.stringMatching(/^[0-9 \-.:+()/,A-Fa-fGQZx_@]{0,40}$/) },
  { weight: 2, arbitrary: fc.stringMatching(/^[0-9]{1,20}$/) },
  { weight: 1, arbitrary: fc.constantFrom(' ', '-', '.', ':', '::', '+', '+(', ') ', '(', 'DE', 'GB', 'bc1', '0x', 'SSN ', 'NHS ', 'routing ', 'tel ') },
);
const textArb = fc.array(pieceArb, { maxLength: 12 }).map((parts) => parts.join(''));

describe('scanPii shortcuts give the plain path\'s findings', () => {
  it('on random text (digit soup, separators, corpus values)', () => {
    fc.assert(
      fc.property(textArb, (text) => {
        expect(scanPii(text, { maxFindings: 10_000 })).toEqual(plainScan(text));
      }),
      { numRuns: 3000 },
    );
  });

  it('on random JSON, PII in keys included', () => {
    const json = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, textArb, fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(textArb, tie('node'), { maxKeys: 4 })),
    })).node;
    fc.assert(
      fc.property(json, (value) => {
        // scanPii lists an object's key findings before its values' (it
        // visits keys as it pushes them), so compare as sets.
        expect(sorted(scanPii(value, { maxFindings: 10_000 }))).toEqual(sorted(plainScan(value)));
      }),
      { numRuns: 500 },
    );
  });

  it('on every sample of both quality corpora', () => {
    for (const text of samples) expect(scanPii(text, { maxFindings: 10_000 })).toEqual(plainScan(text));
  });

  it('never closes the gate of a detector that finds something', () => {
    // The same property stated per detector: wherever a gated detector
    // reports, its gate is open.
    fc.assert(
      fc.property(textArb, (text) => {
        const gates = computeGates(text, findDigitRuns(text));
        for (const detector of PII_DETECTORS as readonly PiiDetector[]) {
          if (detector.gate === undefined) continue;
          let found = false;
          detector.scan(text, () => {
            found = true;
            return false;
          });
          if (found) expect(gates & detector.gate, `${detector.type} in ${JSON.stringify(text)}`).not.toBe(0);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('digit runs', () => {
  /** The obvious definition, for comparison. */
  const reference = (text: string): Array<[number, number]> => [...text.matchAll(/[0-9]+/g)].map((m) => [m.index, m.index + m[0].length]);
  const runsOf = (text: string): Array<[number, number]> => {
    const runs = findDigitRuns(text);
    return Array.from({ length: runs.count }, (_, k) => [runs.starts[k]!, runs.ends[k]!]);
  };

  it('are the maximal runs of ASCII digits, short strings and long ones alike', () => {
    fc.assert(
      fc.property(fc.array(pieceArb, { maxLength: 60 }), (parts) => {
        const text = parts.join('');
        expect(runsOf(text)).toEqual(reference(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('find runs after long gaps and in dense text', () => {
    for (const text of ['x'.repeat(500) + '1' + 'y'.repeat(500) + '22', '1 2 3 4 5 6 7 8 9 0 '.repeat(40), '٣'.repeat(200) + '7']) {
      expect(runsOf(text)).toEqual(reference(text));
    }
  });
});

describe('the no-digit, no-"@" shortcut', () => {
  it('rests on the e-mail detector being the only ungated default detector, and needing an "@"', () => {
    expect(PII_DETECTORS.filter((d) => d.gate === undefined).map((d) => d.type)).toEqual(['email']);
    const email = PII_DETECTORS.find((d) => d.type === 'email')!;
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }).map((t) => t.replaceAll('@', '')), (text) => {
        let reported = false;
        email.scan(text, () => (reported = true));
        expect(reported).toBe(false);
      }),
      { numRuns: 500, seed: Number(process.env['FC_SEED'] ?? 0xa7) },
    );
  });

  it('gives the plain path\'s findings on text without digits, with and without "@"', () => {
    const letters = fc.stringMatching(/^[A-Za-z .,:;@_+\-()\u00e9\uff20\uff10-\uff19]{0,60}$/);
    fc.assert(
      fc.property(fc.dictionary(letters, letters, { maxKeys: 4 }), (value) => {
        expect(sorted(scanPii(value))).toEqual(sorted(plainScan(value)));
      }),
      { numRuns: 500, seed: Number(process.env['FC_SEED'] ?? 0xa8) },
    );
  });
});

describe('the gates in linear time', () => {
  const MiB = 1 << 20;
  it.each([
    ['colons six apart', () => 'ab:cde:'.repeat(MiB / 7)],
    ['one long word of letters and digits', () => 'a1'.repeat(MiB / 2)],
    ['short words glued to digits', () => 'a1 '.repeat(MiB / 3)],
    ['dotted runs', () => '1.2.3.'.repeat(MiB / 6)],
    ['plus and brackets', () => '+(1) '.repeat(MiB / 5)],
    ['capitals before digits', () => 'AB12 '.repeat(MiB / 5)],
  ])('computes the gates of 1 MiB of %s and scans it well under the bound', (_label, make) => {
    const text = make();
    const started = performance.now();
    computeGates(text, findDigitRuns(text));
    scanPii(text);
    // An upper bound, not a benchmark: a quadratic pass would take minutes.
    expect(performance.now() - started).toBeLessThan(2000 * PII_DETECTORS.length);
  });
});
