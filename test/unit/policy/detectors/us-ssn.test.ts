import { describe, expect, it } from 'vitest';

import { ssnPlausible, usSsnDetector } from '../../../../src/policy/builtins/detectors/us-ssn.js';
import { matches } from './helpers.js';

describe('US SSN detector', () => {
  it.each([
    ['SSN: 536-22-1945', '536-22-1945'],
    ['my social security number is 536 22 1945.', '536 22 1945'],
    ['ssn 536221945 on file', '536221945'],
    ['Social-Security no. 001-01-0001', '001-01-0001'],
    ['SSNs: 536-22-1945 and 412-67-8901', '536-22-1945'],
    ['the canonical form alone: she wrote 536-22-1945 on the form', '536-22-1945'],
    ['the canonical form alone: 412-67-8901', '412-67-8901'],
    ['spaced, without a context word: she gave 536 22 1945 twice', '536 22 1945'],
  ])('finds the SSN in %j', (text, expected) => {
    expect(matches(usSsnDetector, text)[0]).toBe(expected);
  });

  it('reports each separated SSN in a list, context word or not', () => {
    expect(matches(usSsnDetector, 'SSN 666-01-2345, hers 536-22-1945, then 412-67-8901')).toEqual(['536-22-1945', '412-67-8901']);
  });

  it.each([
    ['nine bare digits without a context word', 'case 536221945 closed'],
    ['nine bare digits whose context word names an earlier number', 'SSN 666-01-2345, case 536221945'],
    ['the separated form after a word naming something else (order)', 'order 536-22-1945 shipped'],
    ['the separated form after a word naming something else (ITIN)', 'ITIN 536-22-1945'],
    ['the separated form after a word naming something else (phone)', 'phone 536 22 1945'],
    ['the separated form after a word naming something else (case)', 'Case 536-22-1945 closed.'],
    ['area 000', 'SSN 000-22-1945'],
    ['area 666', 'SSN 666-22-1945'],
    ['area 9xx (ITIN range)', 'SSN 912-72-1945'],
    ['group 00', 'SSN 536-00-1945'],
    ['serial 0000', 'SSN 536-22-0000'],
    ['the Woolworth number', 'SSN 078-05-1120'],
    ['the SSA pamphlet number', 'SSN 219-09-9999'],
    ['the sequential example', 'SSN 123-45-6789'],
    ['one digit repeated', 'SSN 555-55-5555'],
    ['mixed separators', 'SSN 536-22 1945'],
    ['part of a longer dashed number', 'SSN 536-22-1945-77'],
    ['glued to letters', 'SSN A536-22-1945'],
    ['a decimal', 'SSN 3.536221945'],
  ])('does not report %s', (_label, text) => {
    expect(matches(usSsnDetector, text)).toEqual([]);
  });

  it('validates area, group and serial independently of the layout', () => {
    expect(ssnPlausible('536221945')).toBe(true);
    expect(ssnPlausible('899991234')).toBe(true);
    expect(ssnPlausible('900991234')).toBe(false);
    expect(ssnPlausible('53622194')).toBe(false);
  });
});
