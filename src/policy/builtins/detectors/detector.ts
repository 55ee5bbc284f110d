/**
 * The shape every PII detector has. A detector is a small object that finds one
 * kind of PII in one string; `pii.ts` walks JSON and runs each detector on each
 * string leaf. Adding a kind (phone, SSN, IBAN, …) means adding one detector
 * to the list in `pii.ts` and its name to `PiiType`.
 */
import type { DigitRuns } from './digit-runs.js';

export type { DigitRuns } from './digit-runs.js';

/** Kinds of PII the scanner reports; the value is also the `type` Rego sees. */
export type PiiType =
  | 'email'
  | 'payment_card'
  | 'phone'
  | 'us_ssn'
  | 'iban'
  | 'ip_address'
  | 'crypto_wallet'
  | 'aba_routing'
  | 'uk_nhs';

/**
 * Receives one match as a half-open span of UTF-16 code units in the scanned
 * string. Returns false to stop the scan (the finding cap was reached).
 */
export type ReportSpan = (start: number, end: number) => boolean;

/** One PII detector. */
export interface PiiDetector {
  /** What this detector finds. */
  readonly type: PiiType;
  /**
   * Reports every match in `text` through `report`, left to right and without
   * overlaps. Must run in time linear in `text.length` whatever the input
   * (request bodies are attacker-controlled), must not throw on any string,
   * and must never keep or return the matched text itself.
   *
   * `digits` are the digit runs of `text` when the caller has already found
   * them (scanPii finds them once per string for all detectors); a detector
   * that uses them finds them itself when they are not given.
   */
  scan(text: string, report: ReportSpan, digits?: DigitRuns): void;
  /**
   * A GATE_* bit of gates.ts whose condition every match of this detector
   * satisfies. scanPii skips the detector on a string where that gate is
   * closed; without one the detector always runs.
   */
  readonly gate?: number;
}
