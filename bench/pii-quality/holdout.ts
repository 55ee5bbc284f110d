/**
 * A second, held-out PII corpus: written after the detectors, from its own
 * templates and value formats and a different seed, and never used to tune
 * them. The tuning corpus (corpus.ts) shows regressions; this one is the
 * honest estimate of how the detectors do on text they were not shaped
 * around, and bench/results/pii-quality.md reports it separately.
 *
 * Labelling guide, fixed before any detector ran on it: label what a privacy
 * reviewer would mark as personal or payment data in that sentence. A card
 * number, IBAN, wallet address, e-mail address or public IP address is PII
 * wherever it stands; a phone number is PII in any usual national or
 * international layout; an SSN in its AAA-GG-SSSS layout (dashes or spaces)
 * with an issued area is PII, and as nine bare digits only when the text says
 * it is an SSN; a routing or NHS number only when the text names it (nine or
 * ten bare digits are anything). Not PII: masked or truncated numbers, numbers
 * that fail their check digit, example and reserved values, and the ids,
 * versions, dates, amounts and codes that fill ordinary business text.
 *
 * Values come from this file's own generators (different separators,
 * brackets, prefixes and neighbours from the tuning corpus); the check-digit
 * helpers are shared with corpus.ts, which computes them independently of the
 * detectors.
 */
import { createHash } from 'node:crypto';

import type { PiiType } from '../../src/policy/builtins/detectors/detector.js';
import { base58Encode, bech32Encode, eip55, ibanRemainder, luhnDigit, seededRandom, type Label, type Sample } from './corpus.js';

/** Seed and size of the held-out corpus (the tuning corpus uses 20240917). */
export const HOLDOUT_SEED = 8675309;
export const HOLDOUT_COUNT = 3000;

type Rng = () => number;
const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const digits = (rng: Rng, n: number): string => Array.from({ length: n }, () => String(int(rng, 0, 9))).join('');
const pad = (value: number, width: number): string => String(value).padStart(width, '0');
const hexs = (rng: Rng, n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[int(rng, 0, 15)]).join('');

// ---- values ----------------------------------------------------------------

const GIVEN = ['maria', 'liam', 'noor', 'kofi', 'sven', 'ana', 'tomas', 'mei', 'ravi', 'ines', 'jonas', 'leila', 'pablo', 'sara', 'hugo', 'aiko'];
const FAMILY = ['okafor', 'lindqvist', 'santos', 'haddad', 'novak', 'brennan', 'ferreira', 'ito', 'kowalski', 'mensah', 'schmidt', 'alvarez'];
const HOSTS = ['acme-corp.com', 'mail.fabrikam.io', 'contoso.org', 'hotmail.co.uk', 'yahoo.fr', 'students.uni-bonn.de', 'icloud.com', 'posteo.net', 'example.travel'];

function emailValue(rng: Rng): string {
  const g = pick(rng, GIVEN);
  const f = pick(rng, FAMILY);
  const local = pick(rng, [`${g}${f}`, `${g}.${f}${int(rng, 70, 99)}`, `${g[0]}.${f}`, `${f}-${g}`, `${g}+invoices`, `${g}_${int(rng, 1, 999)}`]);
  const value = `${local}@${pick(rng, HOSTS)}`;
  return rng() < 0.15 ? value[0]!.toUpperCase() + value.slice(1) : value;
}

/** A Luhn-valid PAN of a real network's range and length, with its usual grouping. */
function cardDigits(rng: Rng): { pan: string; groups: number[] } {
  const kind = int(rng, 0, 5);
  const make = (prefix: string, length: number): string => {
    const body = prefix + digits(rng, length - prefix.length - 1);
    return body + luhnDigit(body);
  };
  if (kind === 0) return { pan: make('4', 16), groups: [4, 4, 4, 4] };
  if (kind === 1) return { pan: make(String(int(rng, 51, 55)), 16), groups: [4, 4, 4, 4] };
  if (kind === 2) return { pan: make(pick(rng, ['34', '37']), 15), groups: [4, 6, 5] };
  if (kind === 3) return { pan: make('6011', 16), groups: [4, 4, 4, 4] };
  if (kind === 4) return { pan: make(String(int(rng, 2221, 2720)), 16), groups: [4, 4, 4, 4] };
  return { pan: make(String(int(rng, 3528, 3589)), 16), groups: [4, 4, 4, 4] };
}

function group(value: string, groups: readonly number[], sep: string): string {
  const out: string[] = [];
  let at = 0;
  for (const g of groups) {
    out.push(value.slice(at, at + g));
    at += g;
  }
  return out.join(sep);
}

function cardValue(rng: Rng): string {
  const { pan, groups } = cardDigits(rng);
  const style = int(rng, 0, 3);
  if (style === 0) return pan;
  return group(pan, groups, style === 1 ? ' ' : style === 2 ? '-' : ' ');
}

function nxx(rng: Rng): string {
  return `${int(rng, 2, 9)}${digits(rng, 2)}`;
}

function phoneValue(rng: Rng): string {
  const a = nxx(rng);
  const e = nxx(rng);
  const l = digits(rng, 4);
  return pick(rng, [
    `(${a})${e}-${l}`,
    `${a}-${e}-${l}`,
    `+1 (${a}) ${e}-${l}`,
    `+1.${a}.${e}.${l}`,
    `${a}.${e}.${l}`,
    `+44 (0)20 ${int(rng, 7, 8)}${digits(rng, 3)} ${digits(rng, 4)}`,
    `+44 7${digits(rng, 3)} ${digits(rng, 3)} ${digits(rng, 3)}`,
    `+49 (0)89 ${digits(rng, 7)}`,
    `+49 151 ${digits(rng, 8)}`,
    `+33 (0)${int(rng, 1, 7)} ${digits(rng, 2)} ${digits(rng, 2)} ${digits(rng, 2)} ${digits(rng, 2)}`,
    `+34 ${int(rng, 6, 7)}${digits(rng, 2)} ${digits(rng, 3)} ${digits(rng, 3)}`,
    `+31 6 ${digits(rng, 8)}`,
    `+55 11 9${digits(rng, 4)}-${digits(rng, 4)}`,
    `+1-${a}-${e}-${l}`,
  ]);
}

function ssnDigitsIssued(rng: Rng): string {
  for (;;) {
    const area = int(rng, 1, 772);
    if (area === 666) continue;
    const value = `${pad(area, 3)}${pad(int(rng, 1, 99), 2)}${pad(int(rng, 1, 9999), 4)}`;
    if (value === '123456789' || value === '078051120' || value === '219099999') continue;
    return value;
  }
}

const IBAN_FORMATS: ReadonlyArray<[string, (rng: Rng) => string]> = [
  ['DE', (r) => digits(r, 18)],
  ['FR', (r) => `${digits(r, 10)}${pick(r, ['0', 'A', 'B'])}${digits(r, 10)}${digits(r, 2)}`],
  ['NL', (r) => `${pick(r, ['INGB', 'ABNA', 'SNSB', 'BUNQ'])}${digits(r, 10)}`],
  ['GB', (r) => `${pick(r, ['HBUK', 'LOYD', 'NWBK'])}${digits(r, 14)}`],
  ['ES', (r) => digits(r, 20)],
  ['IT', (r) => `${String.fromCharCode(int(r, 65, 90))}${digits(r, 22)}`],
  ['DK', (r) => digits(r, 14)],
  ['FI', (r) => digits(r, 14)],
  ['LU', (r) => digits(r, 16)],
  ['HU', (r) => digits(r, 24)],
  ['RO', (r) => `${pick(r, ['RNCB', 'BTRL', 'INGB'])}${digits(r, 16)}`],
];

function ibanValue(rng: Rng): string {
  const [cc, bban] = pick(rng, IBAN_FORMATS);
  const b = bban(rng);
  const compact = `${cc}${pad(98 - ibanRemainder(`${b}${cc}00`), 2)}${b}`;
  const style = int(rng, 0, 9);
  if (style < 5) return compact.replace(/(.{4})/g, '$1 ').trim();
  if (style < 9) return compact;
  // Some people type it in lower case.
  return compact.toLowerCase();
}

function publicIpv4(rng: Rng): string {
  for (;;) {
    const a = int(rng, 2, 223);
    // Leave out private, loopback and documentation networks, which a reviewer would not mark.
    if (a === 10 || a === 127 || a === 172 || a === 192 || a === 198 || a === 203 || a === 100) continue;
    return `${a}.${int(rng, 0, 255)}.${int(rng, 0, 255)}.${int(rng, 1, 254)}`;
  }
}

function publicIpv6(rng: Rng): string {
  const head = pick(rng, ['2a01', '2a00', '2607', '2604', '2800', '2403', '2001']);
  const g = Array.from({ length: 7 }, () => hexs(rng, int(rng, 1, 4)).replace(/^0+(?=.)/, ''));
  if (head === '2001') g[0] = pick(rng, ['4860', '67c', '1af8']);
  return rng() < 0.4 ? `${head}:${g.slice(0, 3).join(':')}::${g[6]}` : `${head}:${g.join(':')}`;
}

function walletValue(rng: Rng): string {
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(rng, 0, 255));
  const kind = int(rng, 0, 3);
  if (kind === 0) {
    const payload = new Uint8Array(21);
    payload[0] = pick(rng, [0x00, 0x05]);
    payload.set(bytes(20), 1);
    const sum = createHash('sha256').update(createHash('sha256').update(payload).digest()).digest();
    return base58Encode(Uint8Array.from([...payload, ...sum.subarray(0, 4)]));
  }
  if (kind === 1) return bech32Encode(0, bytes(pick(rng, [20, 32])));
  if (kind === 2) return bech32Encode(1, bytes(32));
  return `0x${eip55(hexs(rng, 40))}`;
}

function abaValue(rng: Rng): string {
  const prefix = pad(pick(rng, [int(rng, 1, 12), int(rng, 21, 32), int(rng, 61, 72)]), 2);
  const body = prefix + digits(rng, 6);
  const w = [3, 7, 1];
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += Number(body[i]) * w[i % 3]!;
  return body + String((10 - (sum % 10)) % 10);
}

function nhsValue(rng: Rng): string {
  for (;;) {
    const body = `${int(rng, 4, 7)}${digits(rng, 8)}`;
    let sum = 0;
    for (let i = 0; i < 9; i++) sum += Number(body[i]) * (10 - i);
    const check = 11 - (sum % 11);
    if (check === 10) continue;
    const n = body + String(check === 11 ? 0 : check);
    return pick(rng, [n, `${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`, `${n.slice(0, 3)}-${n.slice(3, 6)}-${n.slice(6)}`]);
  }
}

// ---- templates -------------------------------------------------------------

interface Part {
  readonly text: string;
  readonly value?: string;
  readonly type?: PiiType;
  readonly tag: string;
}

function pii(rng: Rng): Part {
  const type = pick(rng, ['email', 'payment_card', 'phone', 'phone', 'us_ssn', 'us_ssn', 'iban', 'ip_address', 'crypto_wallet', 'aba_routing', 'uk_nhs'] as const);
  const one = (tag: string, templates: readonly string[], value: string): Part => ({ text: pick(rng, templates), value, type, tag });
  switch (type) {
    case 'email':
      return one('email', ['reply-to: <{}>', 'ping {} if the build breaks', 'Forwarded message from {} (Mon)', 'mailto:{}', 'CC "{}" on the thread', 'author = {}'], emailValue(rng));
    case 'payment_card':
      return one('card', ['Charge it to {} please', 'cc_number={}', 'The Visa on file, {}, was declined', 'Card: {}; exp 11/28', 'use my amex {} for the hotel', '"pan": "{}"'], cardValue(rng));
    case 'phone':
      return one('phone', ['Reach the night desk at {}.', 'Mob: {}', 'whatsapp {} after 6pm', 'Contact: Ms Haddad, {}', 'If urgent call {}', 'tel={}', 'Her number changed to {} last week'], phoneValue(rng));
    case 'us_ssn': {
      const raw = ssnDigitsIssued(rng);
      const style = int(rng, 0, 4);
      if (style <= 1) return one('ssn/dashed', ['Applicant: J. Novak, {}, DOB 1984-02-11', 'please verify {} for the W-2', 'SSN {}', 'taxpayer {} filed late', 'Beneficiary SS# {}'], `${raw.slice(0, 3)}-${raw.slice(3, 5)}-${raw.slice(5)}`);
      if (style <= 3) return one('ssn/spaced', ['social security no {}', 'Employee record: {} (social)', 'my ssn is {}', 'W-4 lists {}'], `${raw.slice(0, 3)} ${raw.slice(3, 5)} ${raw.slice(5)}`);
      return one('ssn/bare', ['SSN#{}', 'social security number: {}', 'Her SSN, {}, is on the form'], raw);
    }
    case 'iban':
      return one('iban', ['Please wire the deposit to {}.', 'IBAN:{}', 'Kontonummer {} (Sparkasse)', 'beneficiary account {}', 'refund to {} thanks'], ibanValue(rng));
    case 'ip_address':
      return one('ip', ['sshd: Failed password for root from {} port 52144', 'X-Forwarded-For: {}', 'my home router is at {}', 'GET /login 401 remote_addr={}', 'ban {} for 24h'], rng() < 0.75 ? publicIpv4(rng) : publicIpv6(rng));
    case 'crypto_wallet':
      return one('wallet', ['Tip jar: {}', 'withdraw to {} (cold storage)', 'send 0.05 BTC to {}', 'deposit address {}', 'ETH: {}'], walletValue(rng));
    case 'aba_routing':
      return one('aba', ['Routing: {} / Account 00418832', 'ABA {} for ACH', 'our bank routing number is {}', 'RTN {}'], abaValue(rng));
    case 'uk_nhs':
      return one('nhs', ['NHS No: {}', 'patient nhs number {} (GP surgery)', 'Her NHS number is {}.', 'NHS#{}'], nhsValue(rng));
  }
}

/** Text without PII that is full of the numbers business text has. */
function clean(rng: Rng): Part {
  const k = int(rng, 0, 23);
  const text = (tag: string, s: string): Part => ({ text: s, tag: `neg/${tag}` });
  switch (k) {
    case 0:
      return text('masked-card', `card ending in ${digits(rng, 4)}, shown as **** **** **** ${digits(rng, 4)}`);
    case 1: {
      // A 16-digit number that fails Luhn.
      const { pan } = cardDigits(rng);
      const bad = pan.slice(0, -1) + String((Number(pan.at(-1)) + int(rng, 1, 9)) % 10);
      return text('luhn-fail', `voucher code ${group(bad, [4, 4, 4, 4], ' ').trim()}`);
    }
    case 2:
      return text('epoch-ms', `ts=${int(rng, 1600000000, 1800000000)}${digits(rng, 3)} level=info msg="flush ok"`);
    case 3:
      return text('uuid', `trace ${hexs(rng, 8)}-${hexs(rng, 4)}-4${hexs(rng, 3)}-a${hexs(rng, 3)}-${hexs(rng, 12)} completed in ${int(rng, 3, 900)} ms`);
    case 4:
      return text('git', `fixed in commit ${hexs(rng, 40)} (release ${int(rng, 1, 9)}.${int(rng, 0, 30)}.${int(rng, 0, 9)})`);
    case 5:
      return text('version', `Runtime ${int(rng, 1, 20)}.${int(rng, 0, 9)}.${int(rng, 0, 99)}.${int(rng, 0, 9999)} installed`);
    case 6:
      return text('money', `Total due: $${int(rng, 1, 99)},${pad(int(rng, 0, 999), 3)}.${pad(int(rng, 0, 99), 2)} by ${int(rng, 1, 28)} ${pick(rng, ['Jan', 'Apr', 'Sep'])} ${int(rng, 2024, 2027)}`);
    case 7:
      return text('order', `Order no. ${digits(rng, 3)}-${digits(rng, 7)}-${digits(rng, 7)} has been dispatched`);
    case 8:
      return text('tracking', `tracking 1Z${hexs(rng, 6).toUpperCase()}${digits(rng, 10)} via UPS`);
    case 9:
      return text('isbn', `ISBN 978-${int(rng, 0, 1)}-${digits(rng, 3)}-${digits(rng, 5)}-${int(rng, 0, 9)}`);
    case 10:
      return text('zip4', `ship to Springfield, IL ${digits(rng, 5)}-${digits(rng, 4)}`);
    case 11:
      return text('coords', `meet at ${int(rng, 10, 60)}.${digits(rng, 4)}, -${int(rng, 10, 120)}.${digits(rng, 4)}`);
    case 12:
      return text('ext', `call the switchboard and ask for ext. ${digits(rng, 4)}`);
    case 13:
      return text('private-ip', `listening on 127.0.0.1:${int(rng, 1024, 65535)} and 0.0.0.0`);
    case 14:
      return text('doc-ip', `example: curl http://198.51.100.${int(rng, 1, 254)}/health`);
    case 15:
      return text('hash', `sha256: ${hexs(rng, 64)}`);
    case 16:
      return text('invalid-ssn', `test SSN ${int(rng, 900, 999)}-${pad(int(rng, 1, 99), 2)}-${pad(int(rng, 1, 9999), 4)} is not issued`);
    case 17:
      return text('date-time', `${int(rng, 2019, 2026)}-${pad(int(rng, 1, 12), 2)}-${pad(int(rng, 1, 28), 2)}T${pad(int(rng, 0, 23), 2)}:${pad(int(rng, 0, 59), 2)}:${pad(int(rng, 0, 59), 2)}Z`);
    case 18:
      return text('percent', `conversion rose ${int(rng, 1, 40)}.${int(rng, 0, 9)}% across ${int(rng, 2, 90)} regions`);
    case 19:
      return text('account-masked', `account XXXXXX${digits(rng, 4)} debited`);
    case 20:
      return text('serial', `S/N ${hexs(rng, 4).toUpperCase()}-${digits(rng, 6)}-${digits(rng, 4)}`);
    case 21:
      return text('mac', `wlan0 ether ${Array.from({ length: 6 }, () => hexs(rng, 2)).join(':')}`);
    case 22:
      return text('prose', pick(rng, ['Thanks for the quick turnaround!', 'Could you rephrase the second paragraph?', 'Let me know what you think of the draft.', 'The meeting is moved to the afternoon.']));
    default: {
      // A German IBAN with a wrong check number.
      const bban = digits(rng, 18);
      const check = 98 - ibanRemainder(`${bban}DE00`);
      return text('iban-bad-check', `IBAN DE${pad(((check - 2 + int(rng, 1, 96)) % 97) + 2, 2)}${bban} was rejected`);
    }
  }
}

/**
 * Builds `count` samples from `seed`: each holds one to three parts, of which
 * none, one or two carry PII.
 */
export function generateHoldout(seed: number = HOLDOUT_SEED, count: number = HOLDOUT_COUNT): Sample[] {
  const rng = seededRandom(seed);
  const samples: Sample[] = [];
  for (let s = 0; s < count; s++) {
    const parts: Part[] = [];
    const withPii = rng() < 0.6 ? int(rng, 1, 2) : 0;
    for (let k = 0; k < withPii; k++) parts.push(pii(rng));
    for (let k = int(rng, withPii === 0 ? 1 : 0, 2); k > 0; k--) parts.push(clean(rng));
    for (let k = parts.length - 1; k > 0; k--) {
      const j = int(rng, 0, k);
      [parts[k], parts[j]] = [parts[j]!, parts[k]!];
    }
    let text = '';
    const labels: Label[] = [];
    for (const part of parts) {
      if (text.length > 0) text += pick(rng, [' ', '\n', '. ', ' | ']);
      if (part.value === undefined || part.type === undefined) {
        text += part.text;
        continue;
      }
      const start = text.length + part.text.indexOf('{}');
      text += part.text.replace('{}', part.value);
      labels.push({ type: part.type, start, end: start + part.value.length });
    }
    samples.push({ text, labels, tags: parts.map((p) => p.tag) });
  }
  return samples;
}
