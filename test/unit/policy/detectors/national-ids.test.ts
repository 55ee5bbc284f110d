import { describe, expect, it } from 'vitest';

import { abaRoutingDetector } from '../../../../src/policy/builtins/detectors/aba-routing.js';
import { ukNhsDetector } from '../../../../src/policy/builtins/detectors/uk-nhs.js';
import { matches } from './helpers.js';

describe('ABA routing detector', () => {
  it.each([
    ['routing number 021000021', '021000021'],
    ['ABA: 0260-0959-3', '0260-0959-3'],
    ['wire via RTN 111000025 today', '111000025'],
  ])('finds the number in %j', (text, expected) => {
    expect(matches(abaRoutingDetector, text)).toEqual([expected]);
  });

  it.each([
    ['no context', 'number 021000021'],
    ['a failed check', 'routing number 021000022'],
    ['a prefix outside the Federal Reserve ranges', 'routing number 400000004'],
    ['all zeros', 'routing 000000000'],
  ])('does not report %s', (_label, text) => {
    expect(matches(abaRoutingDetector, text)).toEqual([]);
  });
});

describe('NHS number detector', () => {
  it.each([
    ['NHS number 943 476 5919', '943 476 5919'],
    ['nhs: 9434765919.', '9434765919'],
    ['NHS no. 401-023-2137 admitted', '401-023-2137'],
    ['NHS number 943 476 5919 03-19-2024', '943 476 5919'],
  ])('finds the number in %j', (text, expected) => {
    expect(matches(ukNhsDetector, text)).toEqual([expected]);
  });

  it.each([
    ['no context', 'ref 943 476 5919'],
    ['a failed check', 'NHS number 943 476 5918'],
    ['a phone context', 'NHS helpline, call 943 476 5919'],
    ['one digit repeated', 'NHS 000 000 0000'],
  ])('does not report %s', (_label, text) => {
    expect(matches(ukNhsDetector, text)).toEqual([]);
  });

  // Only a space or a hyphen joins the groups: ' -' once read as the range
  // U+0020-U+002D, so '(', '+', '*', ',' and the like joined them too.
  it.each(['(', '+', '*', ',', '#', "'"])('does not join groups with %j', (mark) => {
    expect(matches(ukNhsDetector, `NHS number 943${mark}476${mark}5919`)).toEqual([]);
  });
});
