import { describe, expect, it } from 'vitest';
import { DecisionIds } from '../../../src/audit/decision-ids.js';

/** RFC 9562: version 8 in the third group's first digit, variant binary 10 in the fourth's. */
const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('DecisionIds', () => {
  it('gives version 8 UUIDs that count up from a random part', () => {
    const ids = new DecisionIds();
    const list = Array.from({ length: 5000 }, () => ids.next());
    for (const id of list) expect(id).toMatch(UUID_V8);
    expect(new Set(list).size).toBe(list.length);
    expect(new Set(list.map((id) => id.slice(0, 24))).size).toBe(1);
    expect(list.map((id) => Number.parseInt(id.slice(24), 16))).toEqual(list.map((_, i) => i));
    expect([...list].sort()).toEqual(list);
  });

  it('writes the counter’s 48 bits whole, and draws a new random part when they run out', () => {
    const ids = new DecisionIds(2 ** 48 - 2);
    const [a, b, c] = [ids.next(), ids.next(), ids.next()];
    expect(a.slice(24)).toBe('fffffffffffe');
    expect(b.slice(24)).toBe('ffffffffffff');
    expect(c.slice(24)).toBe('000000000000');
    expect(c.slice(0, 24)).not.toBe(a.slice(0, 24));
    expect(new DecisionIds(0x123456789abc).next().slice(24)).toBe('123456789abc');
  });

  it('gives the same ids as JSON string bytes, quotes included, for the event writer', () => {
    const [text, json] = [new DecisionIds(41), new DecisionIds(41)];
    const a = json.nextJson().toString('latin1');
    expect(a).toMatch(/^"[0-9a-f-]{36}"$/);
    expect(JSON.parse(a)).toMatch(UUID_V8);
    expect(Number.parseInt((JSON.parse(a) as string).slice(24), 16)).toBe(41);
    // Both forms count from one counter.
    expect(JSON.parse(json.nextJson().toString('latin1'))).toBe(`${(JSON.parse(a) as string).slice(0, 24)}00000000002a`);
    expect(json.next().slice(24)).toBe('00000000002b');
    expect(text.next().slice(24)).toBe('000000000029');
  });

  it('keeps two logs apart', () => {
    const prefixes = new Set(Array.from({ length: 50 }, () => new DecisionIds().next().slice(0, 24)));
    expect(prefixes.size).toBe(50);
    for (const prefix of prefixes) expect(`${prefix}000000000000`).toMatch(UUID_V8);
  });
});
