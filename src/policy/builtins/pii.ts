/**
 * The PII scanner behind the Rego builtin `enclave_gate.pii.scan(value)`.
 *
 * It walks a JSON value and runs every detector on every string leaf. A
 * finding names the kind of PII, the JSON pointer of the string and the span
 * inside it, never the matched text, so findings (and the policy reasons made
 * from them) are safe to log.
 *
 * The detectors run in TypeScript rather than as Rego regexes because the
 * policy engine is wasm: every string Rego walks crosses the JS/wasm boundary
 * as JSON text, and Rego has no Luhn. Cost is linear in the body size: the
 * digit runs of each string are found once (digit-runs.ts) and shared by the
 * detectors, which read only the text around them; one pass over those runs
 * (gates.ts) tells which detectors can match at all, and the others are not
 * run on that string; the e-mail detector jumps from "@" to "@".
 */
import type { PiiDetector, PiiType, ReportSpan } from './detectors/detector.js';
import { abaRoutingDetector } from './detectors/aba-routing.js';
import { cryptoWalletDetector } from './detectors/crypto-wallet.js';
import { findDigitRuns, type DigitRuns } from './detectors/digit-runs.js';
import { computeGates } from './detectors/gates.js';
import { emailDetector } from './detectors/email.js';
import { ibanDetector } from './detectors/iban.js';
import { ipAddressDetector } from './detectors/ip-address.js';
import { paymentCardDetector } from './detectors/payment-card.js';
import { phoneDetector } from './detectors/phone.js';
import { ukNhsDetector } from './detectors/uk-nhs.js';
import { usSsnDetector } from './detectors/us-ssn.js';

export type { PiiDetector, PiiType } from './detectors/detector.js';

/** One piece of PII found in a JSON value. */
export interface PiiFinding {
  /** Kind of PII. */
  readonly type: PiiType;
  /** RFC 6901 JSON pointer of the string holding it; "" when the value is the string. */
  readonly path: string;
  /** Start of the match, in UTF-16 code units from the start of that string. */
  readonly start: number;
  /** End of the match (exclusive), in UTF-16 code units. */
  readonly end: number;
  /** True when the PII is in an object key (the span is then within the key). */
  readonly key?: true;
}

/**
 * Stands in a pointer for an object key that itself holds PII. Pointers end up
 * in policy reasons, logs and problem bodies, so a key such as
 * "alice@example.com" must never appear in one verbatim.
 */
export const REDACTED_KEY_TOKEN = '[redacted-key]';

/** Options of {@link scanPii}. */
export interface ScanOptions {
  /** Stop after this many findings. Default {@link DEFAULT_MAX_FINDINGS}. */
  readonly maxFindings?: number;
  /** Detectors to run, in order. Default {@link PII_DETECTORS}. */
  readonly detectors?: readonly PiiDetector[];
}

/**
 * Every detector the builtin runs, in the order their findings are listed for
 * each string. A new kind of PII is one more entry here. Detectors are
 * independent, so one span may be reported under two types (a ten-digit
 * number that is both an NHS number and a phone number in a context that
 * names both); the policy denies either way. Rules, scores and measured
 * quality: docs/pii.md.
 */
export const PII_DETECTORS: readonly PiiDetector[] = Object.freeze([
  emailDetector,
  paymentCardDetector,
  phoneDetector,
  usSsnDetector,
  ibanDetector,
  ipAddressDetector,
  cryptoWalletDetector,
  abaRoutingDetector,
  ukNhsDetector,
]);

/**
 * Findings cap. One finding already denies, so the cap never turns a deny
 * into an allow; it bounds the array the builtin hands back into wasm (and the
 * reasons built from it) when a body is crafted to hold thousands of matches.
 */
export const DEFAULT_MAX_FINDINGS = 256;

/** A value still to visit, with how to rebuild its pointer if PII turns up. */
interface Pending {
  readonly value: unknown;
  readonly parent: Pending | undefined;
  /** Unescaped reference token (object key or array index) within `parent`. */
  readonly token: string | number;
}

/** RFC 6901 escaping of one reference token. */
function escapeToken(token: string | number): string {
  if (typeof token === 'number') return String(token);
  return token.includes('~') || token.includes('/') ? token.replaceAll('~', '~0').replaceAll('/', '~1') : token;
}

/**
 * Builds the pointer by following parent links. Pointers are made only for
 * strings that hold PII: building one per node would cost O(depth) for every
 * node, quadratic on a deeply nested body.
 */
function pointerOf(node: Pending): string {
  const tokens: string[] = [];
  for (let n: Pending | undefined = node; n?.parent !== undefined; n = n.parent) tokens.push(escapeToken(n.token));
  return tokens.length === 0 ? '' : `/${tokens.reverse().join('/')}`;
}

/** A digit or an "@". */
const DIGIT_OR_AT = /[0-9@]/;

/**
 * False when no default detector can report anything in `text`: of them only
 * the e-mail one is ungated, and it needs an "@"; every other one is closed
 * by its gate (gates.ts) when the text has no ASCII digit. Most keys and
 * short values are such text, and then no detector is called for them.
 */
function mayMatch(text: string, detectors: readonly PiiDetector[]): boolean {
  return detectors !== PII_DETECTORS || DIGIT_OR_AT.test(text);
}

/**
 * Calls `run` for each of `detectors` that can match `text`: the digit runs
 * are found once and shared, and a detector whose gate (gates.ts) is closed
 * on this text is skipped. Stops, returning false, when `run` does. The one
 * way detectors are run over a string, by scanPii and by the stream hold-back.
 */
export function scanText(text: string, detectors: readonly PiiDetector[], run: (detector: PiiDetector, digits: DigitRuns) => boolean): boolean {
  return !mayMatch(text, detectors) || runDetectors(text, detectors, run);
}

/** scanText without the first check, for text already found to {@link mayMatch}. */
function runDetectors(text: string, detectors: readonly PiiDetector[], run: (detector: PiiDetector, digits: DigitRuns) => boolean): boolean {
  const digits = findDigitRuns(text);
  let gates = -1;
  for (const detector of detectors) {
    if (detector.gate !== undefined) {
      if (gates === -1) gates = computeGates(text, digits);
      if ((gates & detector.gate) === 0) continue;
    }
    if (!run(detector, digits)) return false;
  }
  return true;
}

/**
 * Scans every string leaf of `value` (objects, arrays, strings; other values
 * are ignored) and returns the findings in document order, each string's
 * findings grouped by detector. Object keys are scanned too: PII in a key is
 * reported with `key: true`, and that key is replaced by
 * {@link REDACTED_KEY_TOKEN} in every pointer below it. Never throws on
 * JSON input; cycles and shared references in non-JSON input are visited once.
 *
 * @example scanPii({ messages: [{ content: 'mail bob@example.com' }] })
 *   // → [{ type: 'email', path: '/messages/0/content', start: 5, end: 20 }]
 */
export function scanPii(value: unknown, options: ScanOptions = {}): PiiFinding[] {
  const max = options.maxFindings ?? DEFAULT_MAX_FINDINGS;
  const detectors = options.detectors ?? PII_DETECTORS;
  const findings: PiiFinding[] = [];
  if (max <= 0) return findings;
  const seen = new Set<object>();
  // One report callback for the whole scan, reading what it needs from these
  // variables, instead of a closure per string and detector.
  let type: PiiType = 'email';
  let node: Pending | undefined;
  let path: string | undefined;
  let keySpans: Array<{ type: PiiType; start: number; end: number }> | undefined;
  // Reused for every key: most keys hold nothing, and then nothing is allocated for them.
  const spans: Array<{ type: PiiType; start: number; end: number }> = [];
  let more = true;
  const report: ReportSpan = (start, end) => {
    if (keySpans !== undefined) {
      keySpans.push({ type, start, end });
      return true;
    }
    path ??= pointerOf(node!);
    findings.push({ type, path, start, end });
    more = findings.length < max;
    return more;
  };
  /** Runs the detectors that can match `text`; false once the cap is reached. */
  let current = '';
  const runDetector = (detector: PiiDetector, digits: DigitRuns): boolean => {
    type = detector.type;
    detector.scan(current, report, digits);
    return more;
  };
  const scanString = (text: string): boolean => {
    current = text;
    return runDetectors(text, detectors, runDetector);
  };
  // An explicit stack, not recursion: a body nested a million levels deep must
  // not overflow the call stack. Children are pushed in reverse so that they
  // pop in document order.
  // Only strings that may match and containers are worth a stack entry.
  const visits = (item: unknown): boolean => (typeof item === 'string' ? mayMatch(item, detectors) : typeof item === 'object' && item !== null);
  const stack: Pending[] = [{ value, parent: undefined, token: '' }];
  while (stack.length > 0) {
    const current = stack.pop()!;
    const leaf = current.value;
    if (typeof leaf === 'string') {
      node = current;
      path = undefined;
      if (!scanString(leaf)) return findings;
    } else if (typeof leaf === 'object' && leaf !== null) {
      if (seen.has(leaf)) continue;
      seen.add(leaf);
      if (Array.isArray(leaf)) {
        for (let i = leaf.length - 1; i >= 0; i--) {
          const item: unknown = leaf[i];
          if (visits(item)) stack.push({ value: item, parent: current, token: i });
        }
      } else {
        const keys = Object.keys(leaf);
        for (let i = keys.length - 1; i >= 0; i--) {
          const key = keys[i]!;
          spans.length = 0;
          if (mayMatch(key, detectors)) {
            keySpans = spans;
            scanString(key);
            keySpans = undefined;
          }
          const member: unknown = (leaf as Record<string, unknown>)[key];
          if (spans.length === 0 && !visits(member)) continue;
          const child: Pending = { value: member, parent: current, token: spans.length > 0 ? REDACTED_KEY_TOKEN : key };
          if (spans.length > 0) {
            const keyPath = pointerOf(child);
            for (const span of spans) {
              findings.push({ type: span.type, path: keyPath, start: span.start, end: span.end, key: true });
              if (findings.length >= max) return findings;
            }
          }
          stack.push(child);
        }
      }
    }
  }
  return findings;
}

/**
 * The Rego builtins this module implements, keyed by their Rego name, in the
 * form `@open-policy-agent/opa-wasm` takes as custom builtins. Arguments
 * arrive JSON-decoded; the return value is JSON-encoded back into wasm.
 */
export const piiBuiltins = Object.freeze({
  'enclave_gate.pii.scan': (value: unknown): PiiFinding[] => scanPii(value),
});
