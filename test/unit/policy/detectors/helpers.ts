import type { PiiDetector } from '../../../../src/policy/builtins/detectors/detector.js';

/** Spans one detector reports in `text`, as the matched substrings. */
export function matches(detector: PiiDetector, text: string): string[] {
  const out: string[] = [];
  detector.scan(text, (start, end) => {
    out.push(text.slice(start, end));
    return true;
  });
  return out;
}

/** Time of one scan of `text`, in milliseconds. */
export function scanMillis(detector: PiiDetector, text: string): number {
  const started = performance.now();
  detector.scan(text, () => true);
  return performance.now() - started;
}

/** 1 MiB in UTF-16 code units. */
export const MiB = 1 << 20;

/** Repeats `unit` to about 1 MiB. */
export function mib(unit: string): string {
  return unit.repeat(Math.ceil(MiB / unit.length));
}
