import { describe, expect, it } from 'vitest';

import { HoldbackOverflowError, HoldbackWindow, type Commit } from '../../../src/proxy/stream/holdback.js';
import { scanPii } from '../../../src/policy/builtins/pii.js';

/** Feeds `text` in the given pieces and collects every commit (the last one final). */
function feed(pieces: readonly string[], windowChars = 0, maxHoldChars = 4096): Commit[] {
  const w = new HoldbackWindow({ windowChars, maxHoldChars });
  const commits: Commit[] = [];
  for (const p of pieces) {
    w.append(p);
    const c = w.commit(false);
    if (c) commits.push(c);
  }
  const last = w.commit(true);
  if (last) commits.push(last);
  return commits;
}

const findings = (commits: Commit[]) => commits.flatMap((c) => c.findings.map((f) => ({ type: f.type, start: f.start, end: f.end })));
const whole = (text: string) => scanPii(text).map((f) => ({ type: f.type, start: f.start, end: f.end }));
const sortSpans = <T extends { start: number; end: number; type: string }>(xs: T[]) => [...xs].sort((a, b) => a.start - b.start || a.end - b.end || a.type.localeCompare(b.type));

describe('HoldbackWindow', () => {
  const text =
    'Sure. Write to jane.doe+billing@mail.example.co.uk or use the card 4111 1111 1111 1111, ' +
    'then ring support; the other card is 5500-0000-0000-0004. ' + 'x'.repeat(70) + ' done: bob@example.org';

  it('finds PII split at every possible boundary, exactly as one scan of the whole text does', () => {
    const expected = sortSpans(whole(text));
    expect(expected.filter((f) => f.type === 'email')).toHaveLength(2);
    for (let i = 1; i < text.length; i++) {
      expect(sortSpans(findings(feed([text.slice(0, i), text.slice(i)])))).toEqual(expected);
    }
  });

  it('finds the same PII when the text arrives one character at a time', () => {
    expect(sortSpans(findings(feed([...text])))).toEqual(sortSpans(whole(text)));
  });

  it('with a fixed window, also holds at least that many characters until the channel ends', () => {
    const w = new HoldbackWindow({ windowChars: 16, maxHoldChars: 100 });
    w.append('hello there, general kenobi. ');
    const c = w.commit(false);
    expect(c).toBeDefined();
    expect(w.heldChars).toBeGreaterThanOrEqual(16);
    expect(c!.text + 'x').not.toContain('kenobi');
    // Without one, only the open candidate is held: here nothing.
    const plain = new HoldbackWindow({ maxHoldChars: 100 });
    plain.append('hello there, general kenobi. ');
    expect(plain.commit(false)?.text).toBe('hello there, general kenobi. ');
  });

  it('holds a card number until the character after it decides it, then releases it with its finding', () => {
    const w = new HoldbackWindow({ maxHoldChars: 100 });
    w.append('pay 4111 1111 1111 1111');
    expect(w.commit(false)).toMatchObject({ text: 'pay ', findings: [] });
    w.append('x');
    // "…1111x" is glued to a word: no card, and still one word, so held.
    expect(w.commit(false)).toBeUndefined();
    w.append(' ok');
    expect(w.commit(false)).toMatchObject({ text: '4111 1111 1111 1111x ', findings: [] });
    const v = new HoldbackWindow({ maxHoldChars: 100 });
    v.append('pay 4111 1111 1111 1111');
    v.commit(false);
    v.append(', ok');
    expect(v.commit(false)).toMatchObject({ text: '4111 1111 1111 1111, ', findings: [{ type: 'payment_card', start: 4, end: 23 }] });
  });

  it('holds a long address whole, however long its local part', () => {
    const address = `${'a'.repeat(200)}@example.com`;
    const commits = feed([...`see ${address} now`]);
    expect(findings(commits)).toEqual([{ type: 'email', start: 4, end: 4 + address.length }]);
    // No commit ever ended inside the address.
    for (const c of commits) {
      const end = c.start + c.text.length;
      expect(end <= 4 || end >= 4 + address.length).toBe(true);
    }
  });

  it('overflows (fails closed) when too much text comes without a safe break', () => {
    const w = new HoldbackWindow({ windowChars: 8, maxHoldChars: 64 });
    w.append('a'.repeat(65));
    expect(() => w.commit(false)).toThrow(HoldbackOverflowError);
  });

  it('rejects nonsense options', () => {
    expect(() => new HoldbackWindow({ windowChars: -1, maxHoldChars: 10 })).toThrow(RangeError);
    expect(() => new HoldbackWindow({ windowChars: 1.5, maxHoldChars: 10 })).toThrow(RangeError);
    expect(() => new HoldbackWindow({ windowChars: 20, maxHoldChars: 10 })).toThrow(RangeError);
  });
});
