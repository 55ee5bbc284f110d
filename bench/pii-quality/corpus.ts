/**
 * Labelled PII corpus for the quality benchmark: sentences built from
 * templates with a fixed-seed generator, each PII value's span labelled with
 * its type, mixed with hard negatives (numbers and strings that look like PII
 * and are not) that carry no label.
 *
 * Own generator rather than a fake-data library: the corpus must be identical
 * for a given seed on every machine and every dependency version, since CI
 * asserts thresholds on it, and every value needs a computed check digit that
 * such libraries do not guarantee.
 *
 * Check digits here are computed by code written independently of the
 * detectors (bench code must not validate the detectors with themselves),
 * except EIP-55, which reuses the Keccak-256 the unit tests pin to
 * published vectors.
 */
import { createHash } from 'node:crypto';

import type { PiiType } from '../../src/policy/builtins/detectors/detector.js';
import { keccak256 } from '../../src/policy/builtins/detectors/keccak.js';
import { createRng } from '../../src/demo/prng.js';

/** One labelled PII span. */
export interface Label {
  readonly type: PiiType;
  readonly start: number;
  readonly end: number;
}

/** One corpus sample: a text and the PII in it. */
export interface Sample {
  readonly text: string;
  readonly labels: Label[];
  /** Which generators made it, for error analysis ("phone/ctx", "neg/imei", …). */
  readonly tags: string[];
}

/** The seeded mulberry32 stream the demo uses: the same sequence everywhere for a seed. */
export function seededRandom(seed: number): () => number {
  return createRng(seed).next;
}

type Rng = () => number;
const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const digits = (rng: Rng, n: number): string => Array.from({ length: n }, () => String(int(rng, 0, 9))).join('');
const pad = (value: number, width: number): string => String(value).padStart(width, '0');
const hex = (rng: Rng, n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[int(rng, 0, 15)]).join('');

// ---- check digits (independent implementations) --------------------------

/** Luhn check digit for a body (digits without the check digit). */
export function luhnDigit(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

/** Big-integer mod 97 of an IBAN rearranged for checking. */
export function ibanRemainder(s: string): number {
  const numeric = [...s].map((c) => (/[A-Z]/.test(c) ? String(c.charCodeAt(0) - 55) : c)).join('');
  return Number(BigInt(numeric) % 97n);
}

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

export function base58Encode(bytes: Uint8Array): string {
  let n = BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
  let out = '';
  while (n > 0n) {
    out = BASE58[Number(n % 58n)]! + out;
    n /= 58n;
  }
  for (let i = 0; i < bytes.length && bytes[i] === 0; i++) out = `1${out}`;
  return out;
}

const BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

export function bech32Encode(version: number, program: Uint8Array): string {
  const data = [version];
  let acc = 0;
  let bits = 0;
  for (const byte of program) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      data.push((acc >> bits) & 31);
    }
  }
  if (bits > 0) data.push((acc << (5 - bits)) & 31);
  const gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  const polymod = (values: number[]): number => {
    let chk = 1;
    for (const v of values) {
      const b = chk >>> 25;
      chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
      for (let i = 0; i < 5; i++) if ((b >> i) & 1) chk = (chk ^ gen[i]!) >>> 0;
    }
    return chk;
  };
  const constant = version === 0 ? 1 : 0x2bc830a3;
  const mod = polymod([3, 3, 0, 2, 3, ...data, 0, 0, 0, 0, 0, 0]) ^ constant;
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  return `bc1${[...data, ...checksum].map((v) => BECH32[v]).join('')}`;
}

// ---- PII value generators -------------------------------------------------

const FIRST = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'oscar', 'peggy', 'trent', 'victor', 'walter', 'yuki', 'zoe', 'amir', 'chen', 'olga', 'priya'];
const LAST = ['smith', 'jones', 'garcia', 'miller', 'davis', 'lopez', 'wilson', 'taylor', 'moore', 'nguyen', 'kim', 'patel', 'muller', 'rossi', 'dubois', 'tanaka'];
const DOMAINS = ['example.com', 'mail.example.org', 'corp.example.net', 'gmail.com', 'outlook.com', 'uni-example.edu', 'example.co.uk', 'web.de', 'proton.me'];

function email(rng: Rng): string {
  const f = pick(rng, FIRST);
  const l = pick(rng, LAST);
  const local = pick(rng, [`${f}.${l}`, `${f}_${l}`, `${f[0]}${l}${int(rng, 1, 99)}`, `${f}+${pick(rng, ['news', 'work', 'ai'])}`, `${f}.${l}-${int(rng, 1, 9)}`]);
  const domain = pick(rng, DOMAINS);
  return rng() < 0.1 ? `${local}@${domain}`.toUpperCase() : `${local}@${domain}`;
}

interface Brand {
  readonly prefixes: () => string;
  readonly length: number;
  readonly groups: readonly number[];
}

function brands(rng: Rng): Brand[] {
  const g16 = [4, 4, 4, 4];
  return [
    { prefixes: () => '4', length: 16, groups: g16 },
    { prefixes: () => String(int(rng, 51, 55)), length: 16, groups: g16 },
    { prefixes: () => String(int(rng, 2221, 2720)), length: 16, groups: g16 },
    { prefixes: () => pick(rng, ['34', '37']), length: 15, groups: [4, 6, 5] },
    { prefixes: () => pick(rng, ['6011', '65', String(int(rng, 644, 649))]), length: 16, groups: g16 },
    { prefixes: () => String(int(rng, 3528, 3589)), length: 16, groups: g16 },
    { prefixes: () => pick(rng, ['36', String(int(rng, 300, 305))]), length: 14, groups: [4, 6, 4] },
    { prefixes: () => '62', length: pick(rng, [16, 19]), groups: g16 },
    { prefixes: () => pick(rng, ['6759', '5018', '6304']), length: 16, groups: g16 },
    { prefixes: () => '4', length: 13, groups: [4, 4, 5] },
  ];
}

function grouped(value: string, groups: readonly number[], sep: string): string {
  const parts: string[] = [];
  let at = 0;
  for (const g of groups) {
    if (at >= value.length) break;
    parts.push(value.slice(at, at + g));
    at += g;
  }
  if (at < value.length) parts.push(value.slice(at));
  return parts.join(sep);
}

function card(rng: Rng): string {
  const brand = pick(rng, brands(rng));
  const prefix = brand.prefixes();
  const body = prefix + digits(rng, brand.length - prefix.length - 1);
  const number = body + luhnDigit(body);
  const style = int(rng, 0, 2);
  return style === 0 ? number : grouped(number, brand.groups, style === 1 ? ' ' : '-');
}

function nanpParts(rng: Rng): [string, string, string] {
  return [`${int(rng, 2, 9)}${digits(rng, 2)}`, `${int(rng, 2, 9)}${digits(rng, 2)}`, digits(rng, 4)];
}

/** A phone number and whether it is strong enough to be found without context. */
function phone(rng: Rng): { value: string; strong: boolean } {
  const [a, e, l] = nanpParts(rng);
  const forms: Array<[string, boolean]> = [
    [`(${a}) ${e}-${l}`, true],
    [`${a}-${e}-${l}`, true],
    [`${a}.${e}.${l}`, true],
    [`+1 ${a} ${e} ${l}`, true],
    [`+1-${a}-${e}-${l}`, true],
    [`+1${a}${e}${l}`, true],
    [`1-${a}-${e}-${l}`, false],
    [`${a} ${e} ${l}`, false],
    [`+44 20 ${int(rng, 7, 8)}${digits(rng, 3)} ${digits(rng, 4)}`, true],
    [`020 ${int(rng, 7, 8)}${digits(rng, 3)} ${digits(rng, 4)}`, false],
    [`+44 7${digits(rng, 3)} ${digits(rng, 6)}`, true],
    [`07${digits(rng, 3)} ${digits(rng, 6)}`, false],
    [`+49 30 ${digits(rng, 8)}`, true],
    [`030 ${digits(rng, 8)}`, false],
    [`+33 ${int(rng, 1, 7)} ${digits(rng, 2)} ${digits(rng, 2)} ${digits(rng, 2)} ${digits(rng, 2)}`, true],
    [`0${int(rng, 1, 7)} ${digits(rng, 2)} ${digits(rng, 2)} ${digits(rng, 2)} ${digits(rng, 2)}`, false],
    [`+91 ${int(rng, 7, 9)}${digits(rng, 4)} ${digits(rng, 5)}`, true],
    [`+81 3-${digits(rng, 4)}-${digits(rng, 4)}`, true],
    [`+61 2 ${digits(rng, 4)} ${digits(rng, 4)}`, true],
  ];
  const [value, strong] = pick(rng, forms);
  return { value, strong };
}

function ssnDigits(rng: Rng): string {
  let area = int(rng, 1, 899);
  if (area === 666) area = 667;
  return `${pad(area, 3)}${pad(int(rng, 1, 99), 2)}${pad(int(rng, 1, 9999), 4)}`;
}

function ssn(rng: Rng, raw = ssnDigits(rng)): string {
  const style = int(rng, 0, 3);
  if (style === 3) return raw;
  const sep = style === 2 ? ' ' : '-';
  return `${raw.slice(0, 3)}${sep}${raw.slice(3, 5)}${sep}${raw.slice(5)}`;
}

/** Country, IBAN length and a BBAN maker (letters where the registry has them). */
const IBAN_COUNTRIES: ReadonlyArray<[string, number, (rng: Rng) => string]> = [
  ['DE', 22, (r) => digits(r, 18)],
  ['FR', 27, (r) => digits(r, 23)],
  ['ES', 24, (r) => digits(r, 20)],
  ['IT', 27, (r) => `${String.fromCharCode(int(r, 65, 90))}${digits(r, 22)}`],
  ['NL', 18, (r) => `${pick(r, ['ABNA', 'INGB', 'RABO', 'TRIO'])}${digits(r, 10)}`],
  ['GB', 22, (r) => `${pick(r, ['WEST', 'NWBK', 'BARC', 'MIDL'])}${digits(r, 14)}`],
  ['BE', 16, (r) => digits(r, 12)],
  ['CH', 21, (r) => digits(r, 17)],
  ['AT', 20, (r) => digits(r, 16)],
  ['PL', 28, (r) => digits(r, 24)],
  ['SE', 24, (r) => digits(r, 20)],
  ['NO', 15, (r) => digits(r, 11)],
  ['IE', 22, (r) => `${pick(r, ['AIBK', 'BOFI'])}${digits(r, 14)}`],
  ['PT', 25, (r) => digits(r, 21)],
];

function ibanCompact(rng: Rng): string {
  const [cc, , bban] = pick(rng, IBAN_COUNTRIES);
  const b = bban(rng);
  const check = 98 - ibanRemainder(`${b}${cc}00`);
  return `${cc}${pad(check, 2)}${b}`;
}

function iban(rng: Rng): string {
  const compact = ibanCompact(rng);
  return rng() < 0.5 ? compact : compact.replace(/(.{4})/g, '$1 ').trim();
}

function ipv4(rng: Rng): string {
  for (;;) {
    const a = int(rng, 1, 223);
    if (a === 127) continue;
    return `${a}.${int(rng, 0, 255)}.${int(rng, 0, 255)}.${int(rng, 1, 254)}`;
  }
}

function ipv6(rng: Rng): string {
  const groups = Array.from({ length: 8 }, () => hex(rng, int(rng, 1, 4)).replace(/^0+(?=.)/, ''));
  groups[0] = pick(rng, ['2a02', '2600', '2001', 'fe80', '2c0f', '2406']);
  if (groups[0] === '2001') groups[1] = pick(rng, ['470', '67c', '4860']);
  if (rng() < 0.5) {
    const from = int(rng, 2, 5);
    const to = int(rng, from + 1, 7);
    return `${groups.slice(0, from).join(':')}::${groups.slice(to).join(':')}`.replace(/::$/, '::1');
  }
  return groups.join(':');
}

export function eip55(lowerHex: string): string {
  const hash = keccak256(new TextEncoder().encode(lowerHex));
  return [...lowerHex].map((c, i) => (/[a-f]/.test(c) && ((hash[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 15) >= 8 ? c.toUpperCase() : c)).join('');
}

function wallet(rng: Rng): string {
  const kind = int(rng, 0, 4);
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(rng, 0, 255));
  if (kind <= 1) {
    const payload = new Uint8Array(21);
    payload[0] = kind === 0 ? 0x00 : 0x05;
    payload.set(bytes(20), 1);
    const sum = createHash('sha256').update(createHash('sha256').update(payload).digest()).digest();
    const full = new Uint8Array(25);
    full.set(payload);
    full.set(sum.subarray(0, 4), 21);
    return base58Encode(full);
  }
  if (kind === 2) return bech32Encode(0, bytes(20));
  if (kind === 3) return bech32Encode(1, bytes(32));
  const h = hex(rng, 40);
  return `0x${rng() < 0.7 ? eip55(h) : h}`;
}

function aba(rng: Rng): string {
  const prefix = pad(pick(rng, [int(rng, 1, 12), int(rng, 21, 32), int(rng, 61, 72)]), 2);
  for (;;) {
    const body = prefix + digits(rng, 6);
    const w = [3, 7, 1];
    let sum = 0;
    for (let i = 0; i < 8; i++) sum += Number(body[i]) * w[i % 3]!;
    const check = (10 - (sum % 10)) % 10;
    return body + String(check);
  }
}

function nhsNumber(rng: Rng, valid = true): string {
  for (;;) {
    const body = `${int(rng, 4, 9)}${digits(rng, 8)}`;
    let sum = 0;
    for (let i = 0; i < 9; i++) sum += Number(body[i]) * (10 - i);
    const check = 11 - (sum % 11);
    if (check === 10) continue;
    const digit = check === 11 ? 0 : check;
    const last = valid ? digit : (digit + int(rng, 1, 9)) % 10;
    const n = body + String(last);
    return rng() < 0.6 ? `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}` : n;
  }
}

// ---- templates ----------------------------------------------------------

/** A sentence with one "{}" slot, or a piece of text with no PII. */
interface Piece {
  readonly template: string;
  readonly value?: string;
  readonly type?: PiiType;
  readonly tag: string;
}

const T = (rng: Rng, templates: readonly string[]): string => pick(rng, templates);

function positive(rng: Rng): Piece {
  const kind = pick(rng, ['email', 'payment_card', 'phone', 'phone', 'us_ssn', 'iban', 'ip_address', 'crypto_wallet', 'aba_routing', 'uk_nhs'] as const);
  switch (kind) {
    case 'email':
      return { type: kind, value: email(rng), tag: 'email', template: T(rng, ['Please write to {} today.', 'My address is {}', 'cc: {}', 'Contact ({}) for access.', 'Forwarded from <{}>', 'email {}.', '{} wrote:']) };
    case 'payment_card':
      return { type: kind, value: card(rng), tag: 'card', template: T(rng, ['My card number is {}.', 'Pay with {} please', 'cc {} exp 04/27', 'Charge {} for the order.', 'Number: {}', '{}']) };
    case 'phone': {
      const p = phone(rng);
      const withContext = !p.strong || rng() < 0.5;
      const ctx = ['Call me at {}.', 'my phone: {}', 'Mobile {} (after 6pm)', 'Tel. {}', 'You can text me on {}', 'fax {}', 'phone number {}, thanks'];
      const bare = ['Reach the front desk: {}.', 'Office {}', 'She gave {} as the best number.', 'Use {} for urgent matters'];
      return { type: kind, value: p.value, tag: withContext ? 'phone/ctx' : 'phone/bare', template: T(rng, withContext ? ctx : bare) };
    }
    case 'us_ssn':
      return { type: kind, value: ssn(rng), tag: 'ssn', template: T(rng, ['SSN: {}', 'My social security number is {}.', 'ssn {} on file', 'Social Security No. {}', 'Employee SSN {}; start Monday']) };
    case 'iban':
      return { type: kind, value: iban(rng), tag: 'iban', template: T(rng, ['IBAN: {}', 'Please transfer to {} by Friday.', 'Account {} (EUR)', 'Bank details {}', '{}']) };
    case 'ip_address': {
      const v = rng() < 0.7 ? ipv4(rng) : ipv6(rng);
      return { type: kind, value: v, tag: v.includes(':') ? 'ip/v6' : 'ip/v4', template: T(rng, ['Login from {} failed.', 'client IP {}', 'The server at {} is down', 'Blocked {}.', 'ssh admin@host -p 22 # {}', 'origin={}']) };
    }
    case 'crypto_wallet':
      return { type: kind, value: wallet(rng), tag: 'wallet', template: T(rng, ['Send BTC to {}', 'wallet: {}', 'My address is {}.', 'Refund to {} please', '{}']) };
    case 'aba_routing':
      return { type: kind, value: aba(rng), tag: 'aba', template: T(rng, ['Routing number {}', 'ABA {} / account 12345678', 'routing: {}', 'Wire to RTN {}']) };
    case 'uk_nhs':
      return { type: kind, value: nhsNumber(rng), tag: 'nhs', template: T(rng, ['NHS number {}', 'My NHS no. is {}.', 'nhs: {}', 'Patient NHS Number {} admitted']) };
  }
}

function negative(rng: Rng): Piece {
  const neg = (tag: string, template: string): Piece => ({ tag: `neg/${tag}`, template });
  const choice = int(rng, 0, 27);
  switch (choice) {
    case 0:
      return neg('order', `Order #${digits(rng, int(rng, 8, 10))} has shipped.`);
    case 1:
      return neg('order', `Your order ${int(rng, 2019, 2025)}-${digits(rng, 6)} is ready.`);
    case 2: {
      const body = `4${digits(rng, 14)}`;
      const bad = String((Number(luhnDigit(body)) + int(rng, 1, 9)) % 10);
      return neg('luhn-fail', `card ${grouped(body + bad, [4, 4, 4, 4], ' ')} was declined`);
    }
    case 3: {
      const body = `${pick(rng, ['35', '86', '01', '99'])}${digits(rng, 12)}`;
      return neg('imei', `IMEI ${body}${luhnDigit(body)}`);
    }
    case 4: {
      const body = `${pick(rng, ['9', '1', '7', '8'])}${digits(rng, 14)}`;
      return neg('luhn-unknown-iin', `tracking number ${body}${luhnDigit(body)}`);
    }
    case 5:
      return neg('timestamp', `at ${int(rng, 2019, 2025)}-${pad(int(rng, 1, 12), 2)}-${pad(int(rng, 1, 28), 2)}T${pad(int(rng, 0, 23), 2)}:${pad(int(rng, 0, 59), 2)}:${pad(int(rng, 0, 59), 2)}Z`);
    case 6:
      return neg('timestamp', `ts=${int(rng, 1600000000, 1760000000)}${rng() < 0.5 ? digits(rng, 3) : ''}`);
    case 7:
      return neg('uuid', `request ${hex(rng, 8)}-${hex(rng, 4)}-4${hex(rng, 3)}-a${hex(rng, 3)}-${hex(rng, 12)}`);
    case 8:
      return neg('hash', `sha256 ${hex(rng, 64)} commit ${hex(rng, 40)}`);
    case 9:
      return neg('version', `version ${int(rng, 1, 12)}.${int(rng, 0, 20)}.${int(rng, 0, 30)}.${int(rng, 0, 200)}`);
    case 10:
      return neg('version', pick(rng, [`Chrome ${int(rng, 100, 130)}.0.${int(rng, 5000, 6999)}.${int(rng, 10, 200)}`, `build 10.0.${int(rng, 17000, 22631)}.${int(rng, 1, 3000)}`, `v${int(rng, 1, 9)}.${int(rng, 0, 9)}.${int(rng, 0, 9)}`, `firmware ${int(rng, 1, 9)}.${int(rng, 0, 9)}.${int(rng, 0, 9)}.${int(rng, 0, 9)}`]));
    case 11:
      return neg('product-code', pick(rng, [`SKU ${digits(rng, 4)}-${digits(rng, 4)}-${digits(rng, 2)}`, `part no. ${digits(rng, 3)}-${digits(rng, 4)}-${digits(rng, 2)}`, `model ${digits(rng, 4)}-${digits(rng, 4)}-${digits(rng, 3)}`, `ISBN 978-${int(rng, 0, 9)}-${digits(rng, 2)}-${digits(rng, 6)}-${int(rng, 0, 9)}`, `ref ${digits(rng, 3)}-${digits(rng, 3)}-${digits(rng, 4)}`]));
    case 12:
      return neg('date', pick(rng, [`${pad(int(rng, 1, 28), 2)}/${pad(int(rng, 1, 12), 2)}/${int(rng, 1990, 2025)}`, `${int(rng, 1990, 2025)}.${pad(int(rng, 1, 12), 2)}.${pad(int(rng, 1, 28), 2)}`, `${pad(int(rng, 1, 12), 2)}-${pad(int(rng, 1, 28), 2)}-${int(rng, 1990, 2025)}`, `at ${pad(int(rng, 0, 23), 2)}:${pad(int(rng, 0, 59), 2)}:${pad(int(rng, 0, 59), 2)}`]));
    case 13:
      return neg('amount', `total $${int(rng, 1, 999)},${digits(rng, 3)},${digits(rng, 3)}.${digits(rng, 2)}`);
    case 14: {
      const good = ibanCompact(rng);
      const bad = `${good.slice(0, 2)}${pad((Number(good.slice(2, 4)) + int(rng, 1, 50)) % 97 + 2, 2)}${good.slice(4)}`;
      return neg('iban-bad-check', bad === good ? 'IBAN pending' : `IBAN ${bad}`);
    }
    case 15:
      return neg('ssn-invalid', `SSN ${pick(rng, ['000', '666', String(int(rng, 900, 999))])}-${pad(int(rng, 1, 99), 2)}-${pad(int(rng, 1, 9999), 4)}`);
    case 16:
      return neg('ssn-example', `SSN ${pick(rng, ['078-05-1120', '219-09-9999', '123-45-6789', '123456789'])} is the example`);
    case 17:
      return neg('ssn-shape-case-number', `Case ${ssn(rng)} closed.`);
    case 18: {
      const w = wallet(rng);
      if (w.startsWith('0x')) return neg('tx-hash', `tx 0x${hex(rng, 64)}`);
      const i = int(rng, 5, w.length - 2);
      const swapped = w[i] === 'q' ? 'p' : w[i] === 'x' ? 'z' : w[i] === 'A' ? 'B' : w[i] === '2' ? '3' : 'q';
      return neg('wallet-bad-check', `addr ${w.slice(0, i)}${swapped}${w.slice(i + 1)}`);
    }
    case 19:
      return neg('nhs-bad-check', `NHS number ${nhsNumber(rng, false)}`);
    case 20: {
      const good = aba(rng);
      return neg('aba-bad-check', `routing number ${good.slice(0, 8)}${(Number(good[8]) + int(rng, 1, 9)) % 10}`);
    }
    case 21:
      return neg('zip', `ZIP ${digits(rng, 5)}-${digits(rng, 4)}`);
    case 22:
      return neg('mac', `MAC ${Array.from({ length: 6 }, () => hex(rng, 2).toUpperCase()).join(':')}`);
    case 23:
      return neg('reserved-ip', pick(rng, ['bind to 127.0.0.1:8080', 'listen on 0.0.0.0', 'netmask 255.255.255.0', 'see 192.0.2.15 in the docs', 'ping ::1', 'gateway 203.0.113.7']));
    case 24:
      return neg('not-email', pick(rng, ['ping @alice on chat', 'user@localhost', 'git@github', 'a@b', 'price: 3 @ 4.99']));
    case 25:
      return neg('ip-as-version', `release ${int(rng, 1, 9)}.${int(rng, 0, 20)}.${int(rng, 0, 20)}.${int(rng, 0, 99)}`);
    case 26:
      return neg('big-number', `population ${digits(rng, int(rng, 9, 12))}`);
    default:
      return neg('prose', pick(rng, ['The meeting moved to Tuesday.', 'Summarise this article in three bullet points.', 'Translate to French: good morning.', 'What is 17 * 23?', 'Write a haiku about autumn.']));
  }
}

/**
 * Builds `count` samples from `seed`. About half hold one or two PII values;
 * every sample also holds one or two negatives or plain prose.
 */
export function generateCorpus(seed: number, count: number): Sample[] {
  const rng = seededRandom(seed);
  const samples: Sample[] = [];
  for (let s = 0; s < count; s++) {
    const pieces: Piece[] = [];
    const positives = rng() < 0.55 ? int(rng, 1, 2) : 0;
    for (let k = 0; k < positives; k++) pieces.push(positive(rng));
    for (let k = int(rng, 1, 2); k > 0; k--) pieces.push(negative(rng));
    // Shuffle so that context words of one piece may precede another's value.
    for (let k = pieces.length - 1; k > 0; k--) {
      const j = int(rng, 0, k);
      [pieces[k], pieces[j]] = [pieces[j]!, pieces[k]!];
    }
    let text = '';
    const labels: Label[] = [];
    for (const piece of pieces) {
      if (text.length > 0) text += ' ';
      if (piece.value === undefined || piece.type === undefined) {
        text += piece.template;
        continue;
      }
      const slot = piece.template.indexOf('{}');
      const start = text.length + slot;
      text += piece.template.replace('{}', piece.value);
      labels.push({ type: piece.type, start, end: start + piece.value.length });
    }
    samples.push({ text, labels, tags: pieces.map((p) => p.tag) });
  }
  return samples;
}
