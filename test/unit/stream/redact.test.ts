import { describe, expect, it } from 'vitest';

import { parseRedactions, placeholder, redactJson, RedactionError } from '../../../src/proxy/redact.js';

describe('redactJson', () => {
  const doc = () => ({ choices: [{ message: { content: 'mail bob@example.com or 4111111111111111' } }], 'a/b': { '~k': 'x😀y' } });

  it('replaces each span with [REDACTED:TYPE] and keeps the rest', () => {
    const d = doc();
    const n = redactJson(d, [
      { path: '/choices/0/message/content', start: 24, end: 40, type: 'payment_card' },
      { path: '/choices/0/message/content', start: 5, end: 20, type: 'email' },
    ]);
    expect(n).toBe(2);
    expect(d.choices[0]!.message.content).toBe('mail [REDACTED:EMAIL] or [REDACTED:PAYMENT_CARD]');
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  it('follows RFC 6901 escapes', () => {
    const d = doc();
    redactJson(d, [{ path: '/a~1b/~0k', start: 1, end: 3, type: 'email' }]);
    expect(d['a/b']['~k']).toBe('x[REDACTED:EMAIL]y');
  });

  it.each([
    ['not an array', {}],
    ['an entry with an extra key', [{ path: '/x', start: 0, end: 1, type: 'email', note: 1 }]],
    ['a missing key', [{ path: '/x', start: 0, end: 1 }]],
    ['an empty span', [{ path: '/choices/0/message/content', start: 3, end: 3, type: 'email' }]],
    ['a negative start', [{ path: '/choices/0/message/content', start: -1, end: 3, type: 'email' }]],
    ['a fractional offset', [{ path: '/choices/0/message/content', start: 0.5, end: 3, type: 'email' }]],
    ['an odd type', [{ path: '/choices/0/message/content', start: 0, end: 3, type: 'E-Mail]' }]],
    ['a span out of bounds', [{ path: '/choices/0/message/content', start: 0, end: 41, type: 'email' }]],
    ['a pointer to a non-string', [{ path: '/choices/0', start: 0, end: 1, type: 'email' }]],
    ['a pointer that does not resolve', [{ path: '/choices/1/message/content', start: 0, end: 1, type: 'email' }]],
    ['a pointer with a leading-zero index', [{ path: '/choices/00/message/content', start: 0, end: 1, type: 'email' }]],
    ['the root pointer', [{ path: '', start: 0, end: 1, type: 'email' }]],
    ['a span that splits a surrogate pair', [{ path: '/a~1b/~0k', start: 2, end: 3, type: 'email' }]],
    [
      'overlapping spans',
      [
        { path: '/choices/0/message/content', start: 0, end: 10, type: 'email' },
        { path: '/choices/0/message/content', start: 9, end: 12, type: 'email' },
      ],
    ],
  ])('rejects %s', (_name, redact) => {
    expect(() => redactJson(doc(), redact)).toThrow(RedactionError);
  });

  it('accepts an empty list and adjacent spans', () => {
    expect(redactJson(doc(), [])).toBe(0);
    const d = doc();
    redactJson(d, [
      { path: '/choices/0/message/content', start: 0, end: 4, type: 'a' },
      { path: '/choices/0/message/content', start: 4, end: 5, type: 'b' },
    ]);
    expect(d.choices[0]!.message.content.startsWith('[REDACTED:A][REDACTED:B]bob')).toBe(true);
  });

  it('sorts entries by path and start', () => {
    expect(parseRedactions([{ path: '/b', start: 0, end: 1, type: 'x' }, { path: '/a', start: 5, end: 6, type: 'x' }, { path: '/a', start: 1, end: 2, type: 'x' }]).map((r) => `${r.path}:${r.start}`)).toEqual(['/a:1', '/a:5', '/b:0']);
    expect(placeholder('payment_card')).toBe('[REDACTED:PAYMENT_CARD]');
  });
});
