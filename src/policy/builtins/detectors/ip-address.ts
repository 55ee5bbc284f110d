/**
 * IP address detector: IPv4 dotted quads and IPv6 (full, "::"-compressed, and
 * with an embedded IPv4 tail such as "::ffff:192.0.2.1"). A public address
 * identifies a subscriber line, which data-protection law treats as personal
 * data; that is why it is on the list at all.
 *
 * Rules:
 * - IPv4: four decimal octets 0–255, no leading zeros ("010.1.1.1" is octal
 *   to some parsers and decimal to others, so it is not reported); an
 *   optional ":port" or "/prefix" follows outside the span.
 * - Not reported: 0.0.0.0/8, 127.0.0.0/8 and 255.x (unspecified, loopback,
 *   netmasks), the documentation networks 192.0.2.0/24, 198.51.100.0/24,
 *   203.0.113.0/24 and 2001:db8::/32, "::" and "::1". They identify no one
 *   and fill every config and example. Private ranges (10/8, 192.168/16…)
 *   are reported: they still describe someone's network.
 * - Version strings: "1.2.3.4" is a valid address. It is scored 0.6 and a
 *   version word before it ("version", "v", "release", "build", "firmware")
 *   subtracts 0.35, so "version 1.2.3.4" is not reported and a bare
 *   "1.2.3.4" is. Anything glued to a letter ("v1.2.3.4") is not an address.
 * - IPv6 without any decimal digit ("dead::beef", "Db::Add") is C++ or prose,
 *   not an address.
 *
 * Linear time: a candidate is a maximal run of hex digits, ".", ":" that
 * starts after a non-word character and holds a decimal digit; it is found
 * by growing a digit run (digit-runs.ts) both ways. Runs never overlap and
 * each is read and parsed once.
 */
import * as chars from './char-class.js';
import { reportable, type ContextRule } from './context.js';
import { GATE_IP } from './gates.js';
import type { DigitRuns, PiiDetector, ReportSpan } from './detector.js';
import { findDigitRuns } from './digit-runs.js';

// Bound once: runners that rewrite imports into property reads (vite-node,
// which runs the tests and benchmarks) would otherwise pay a lookup per call
// in the loops below.
const { HEX, inClass, isDigit, isWordChar } = chars;

const DOT = 0x2e;
const COLON = 0x3a;

const RULE: ContextRule = {
  positive: ['ip', 'ipv4', 'ipv6', 'host', 'client', 'server', 'login from'],
  negative: ['version', 'ver', 'v', 'release', 'build', 'firmware', 'patch', 'sdk', 'api level'],
};

/** Value of the IPv4 address text[start, end), or -1 if it is not one. */
function ipv4At(text: string, start: number, end: number): number {
  let octets = 0;
  let value = 0;
  let i = start;
  while (octets < 4) {
    const from = i;
    let octet = 0;
    while (i < end && isDigit(text.charCodeAt(i)) && i - from < 3) octet = octet * 10 + (text.charCodeAt(i++) - 0x30);
    const len = i - from;
    if (len === 0 || octet > 255 || (len > 1 && text.charCodeAt(from) === 0x30)) return -1;
    value = value * 256 + octet;
    octets++;
    if (octets < 4) {
      if (i >= end || text.charCodeAt(i) !== DOT) return -1;
      i++;
    }
  }
  return i === end ? value : -1;
}

/** True when text[start, end) is an IPv6 address (RFC 4291 text forms). */
function ipv6At(text: string, start: number, end: number): boolean {
  let groups = 0;
  let compressed = false;
  let i = start;
  if (text.startsWith('::', i)) {
    compressed = true;
    i += 2;
    if (i === end) return true;
  }
  for (;;) {
    const from = i;
    while (i < end && inClass(HEX, text.charCodeAt(i)) && i - from < 5) i++;
    const len = i - from;
    if (len === 0 || len > 4) {
      // An IPv4 tail takes the place of the last two groups.
      return false;
    }
    if (i < end && text.charCodeAt(i) === DOT) {
      if (ipv4At(text, from, end) === -1) return false;
      groups += 2;
      i = end;
      break;
    }
    groups++;
    if (i === end) break;
    if (text.charCodeAt(i) !== COLON) return false;
    i++;
    if (i < end && text.charCodeAt(i) === COLON) {
      if (compressed) return false;
      compressed = true;
      i++;
      if (i === end) break;
    } else if (i === end) {
      return false;
    }
  }
  return compressed ? groups <= 7 : groups === 8;
}

/**
 * Addresses that identify no one: unspecified, loopback, netmask-like, and
 * the RFC 5737 documentation networks, which examples and tests use
 * precisely because they belong to nobody.
 */
function reservedIpv4(value: number): boolean {
  const first = Math.floor(value / 0x1000000);
  const net24 = Math.floor(value / 0x100);
  return first === 0 || first === 127 || first === 255 || net24 === 0xc00002 || net24 === 0xc63364 || net24 === 0xcb0071;
}

function hasDecimalDigit(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (isDigit(text.charCodeAt(i))) return true;
  return false;
}

function isRunChar(code: number): boolean {
  return inClass(HEX, code) || code === DOT || code === COLON;
}

/** Span of the address inside the run [start, end), or undefined. */
function addressIn(text: string, start: number, end: number): { end: number } | undefined {
  // Sentence punctuation after the address: "…at 10.1.2.3." or "fe80::1:".
  let e = end;
  while (e > start && text.charCodeAt(e - 1) === DOT) e--;
  if (e - start >= 2 && text.charCodeAt(e - 1) === COLON && text.charCodeAt(e - 2) !== COLON) e--;
  // Search only inside the run: an unbounded indexOf would make the scan quadratic.
  let colon = -1;
  for (let i = start; i < e && colon === -1; i++) if (text.charCodeAt(i) === COLON) colon = i;
  if (colon === -1) return ipv4At(text, start, e) >= 0 ? { end: e } : undefined;
  if (ipv6At(text, start, e)) return { end: e };
  // "10.1.2.3:8080": an IPv4 address with a port.
  if (ipv4At(text, start, colon) >= 0 && colon + 1 < e) {
    for (let i = colon + 1; i < e; i++) if (!isDigit(text.charCodeAt(i))) return undefined;
    return { end: colon };
  }
  return undefined;
}

function scan(text: string, report: ReportSpan, digits?: DigitRuns): void {
  const { count, starts, ends } = digits ?? findDigitRuns(text);
  const n = text.length;
  // A candidate is a maximal run of hex digits, "." and ":" that does not
  // follow a word character. An address holds a decimal digit, so only the
  // runs around digit runs are read; `floor` is the end of the last one.
  let floor = 0;
  for (let r = 0; r < count; r++) {
    if (starts[r]! < floor) continue;
    let start = starts[r]!;
    // Digits alone ("2024") are no address; most numbers in text end here.
    if (!isRunChar(text.charCodeAt(start - 1)) && !isRunChar(text.charCodeAt(ends[r]!))) continue;
    while (start > floor && isRunChar(text.charCodeAt(start - 1))) start--;
    let end = ends[r]!;
    while (end < n && isRunChar(text.charCodeAt(end))) end++;
    floor = end;
    if (start > 0 && isWordChar(text.charCodeAt(start - 1))) continue;
    // Glued to a word on the right ("1.2.3.4x", "::1g"): not an address.
    if (end < n && isWordChar(text.charCodeAt(end))) continue;
    const found = addressIn(text, start, end);
    if (found === undefined || !hasDecimalDigit(text, start, found.end)) continue;
    const v4 = ipv4At(text, start, found.end);
    if (v4 >= 0 && reservedIpv4(v4)) continue;
    if (v4 < 0 && (isLoopbackOrUnspecifiedV6(text, start, found.end) || isDocumentationV6(text, start))) continue;
    if (!reportable(text, start, 0.6, RULE)) continue;
    if (!report(start, found.end)) return;
  }
}

/** "::", "::1" and their zero-padded spellings. */
function isLoopbackOrUnspecifiedV6(text: string, start: number, end: number): boolean {
  let last = -1;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === COLON || c === 0x30) continue;
    if (c === 0x31 && last === -1) {
      last = i;
      continue;
    }
    return false;
  }
  // At most one "1", and it must be the final character.
  return last === -1 || last === end - 1;
}

/** 2001:db8::/32, the RFC 3849 documentation prefix. */
function isDocumentationV6(text: string, start: number): boolean {
  return text.slice(start, start + 9).toLowerCase() === '2001:db8:';
}

/** Finds IPv4 and IPv6 addresses (see the module comment for what is left out). */
export const ipAddressDetector: PiiDetector = { type: 'ip_address', scan, gate: GATE_IP };
