/**
 * Span-level precision and recall of PII detectors on a labelled corpus.
 *
 * A finding is correct when it overlaps a labelled span of the same type; a
 * label is found when some finding of its type overlaps it. Overlap rather
 * than exact bounds because a policy denies on any finding: "+1 415…" vs
 * "415…" is the same decision.
 */
import type { PiiDetector, PiiType } from '../../src/policy/builtins/detectors/detector.js';
import type { Sample } from './corpus.js';

/** One finding, as a detector or an external tool reports it. */
export interface Span {
  readonly type: string;
  readonly start: number;
  readonly end: number;
}

/** Counts and ratios for one type. */
export interface TypeMetrics {
  readonly type: string;
  /** Labelled spans. */
  readonly labels: number;
  /** Labelled spans some finding overlaps. */
  readonly found: number;
  /** Findings. */
  readonly findings: number;
  /** Findings that overlap a label of their type. */
  readonly correct: number;
  readonly precision: number;
  readonly recall: number;
}

/** Per-sample findings of a set of detectors. */
export function detect(samples: readonly Sample[], detectors: readonly PiiDetector[]): Span[][] {
  return samples.map((sample) => {
    const spans: Span[] = [];
    for (const detector of detectors) {
      detector.scan(sample.text, (start, end) => {
        spans.push({ type: detector.type, start, end });
        return true;
      });
    }
    return spans;
  });
}

const overlaps = (a: Span, b: Span): boolean => a.type === b.type && a.start < b.end && b.start < a.end;

/** Which findings were wrong and which labels were missed, for error analysis. */
export interface Errors {
  readonly falsePositives: Array<{ sample: number; span: Span }>;
  readonly falseNegatives: Array<{ sample: number; span: Span }>;
}

/** Scores `findings` (one array per sample) against the corpus labels, for `types`. */
export function score(samples: readonly Sample[], findings: readonly Span[][], types: readonly string[]): { metrics: TypeMetrics[]; errors: Errors } {
  const errors: Errors = { falsePositives: [], falseNegatives: [] };
  const metrics = types.map((type) => {
    let labels = 0;
    let found = 0;
    let total = 0;
    let correct = 0;
    samples.forEach((sample, i) => {
      const mine = (findings[i] ?? []).filter((f) => f.type === type);
      for (const label of sample.labels.filter((l) => l.type === type)) {
        labels++;
        if (mine.some((f) => overlaps(f, label))) found++;
        else errors.falseNegatives.push({ sample: i, span: label });
      }
      for (const f of mine) {
        total++;
        if (sample.labels.some((l) => overlaps(f, l))) correct++;
        else errors.falsePositives.push({ sample: i, span: f });
      }
    });
    return {
      type,
      labels,
      found,
      findings: total,
      correct,
      precision: total === 0 ? 1 : correct / total,
      recall: labels === 0 ? 1 : found / labels,
    };
  });
  return { metrics, errors };
}

/** Types with a checksum validator, for which the benchmark sets the 0.99 goal. */
export const VALIDATED_TYPES: readonly PiiType[] = ['payment_card', 'iban', 'us_ssn', 'email'];

/** Micro-average over types: labels, findings and hits added up. */
export function total(metrics: readonly TypeMetrics[]): TypeMetrics {
  const sum = (k: 'labels' | 'found' | 'findings' | 'correct'): number => metrics.reduce((n, m) => n + m[k], 0);
  const labels = sum('labels');
  const found = sum('found');
  const findings = sum('findings');
  const correct = sum('correct');
  return { type: 'all', labels, found, findings, correct, precision: findings === 0 ? 1 : correct / findings, recall: labels === 0 ? 1 : found / labels };
}
