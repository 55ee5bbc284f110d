/**
 * A counter and a histogram for the metrics every request touches, at a
 * fraction of prom-client's cost per update, exported through the same
 * registry.
 *
 * Why: prom-client hashes and validates the label object on every `inc` and
 * `observe`; with six updates per request that came to several microseconds
 * of each request's CPU (bench/results/proxy-overhead.md). Here a label set
 * is resolved to its series once (a Map lookup on the joined values) and an
 * update is a few additions. The registry reads the series through `get()`,
 * the metric-object shape prom-client's Registry and AggregatorRegistry
 * consume, so the exposition format, cluster aggregation and default labels
 * behave as for prom-client's own metrics.
 */
import type { Registry } from 'prom-client';

type Labels<T extends string> = Partial<Record<T, string | number>>;

/** One exported sample; `metricName` for a histogram's _bucket, _sum and _count lines. */
export interface Sample {
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
  readonly metricName?: string;
}

/** What the registry reads from a metric (prom-client's metric-object shape). */
export interface Snapshot {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly values: readonly Sample[];
  readonly aggregator: 'sum';
}

interface Series<T extends string> {
  /** The label set as given, without undefined values. */
  readonly labels: Readonly<Record<string, string | number>>;
  /** Ties the series to its metric's label names. */
  readonly __labelNames?: T;
}

/** Shared part: name, help, label names, series by joined label values. */
abstract class HotMetric<T extends string, S extends Series<T>> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum' as const;
  abstract readonly type: Snapshot['type'];
  protected readonly labelNames: readonly T[];
  protected readonly series = new Map<string, S>();

  constructor(config: { name: string; help: string; labelNames?: readonly T[]; registers: readonly Registry[] }) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames ?? [];
    // The Registry only needs name, type and get(); see the file comment.
    for (const registry of config.registers) registry.registerMetric(this as never);
  }

  protected abstract create(labels: Readonly<Record<string, string | number>>): S;

  /** The series of `labels`, created on first use. Labels are validated once per series, not per update. */
  protected seriesOf(labels: Labels<T> | undefined): S {
    let key = '';
    if (labels !== undefined) for (const name of this.labelNames) key += `${labels[name] ?? ''}\u0000`;
    let found = this.series.get(key);
    if (found === undefined) {
      const copy: Record<string, string | number> = {};
      for (const [name, value] of Object.entries(labels ?? {}) as [T, string | number | undefined][]) {
        if (!this.labelNames.includes(name)) throw new Error(`${this.name}: unknown label ${name}`);
        if (value !== undefined) copy[name] = value;
      }
      found = this.create(copy);
      this.series.set(key, found);
    }
    return found;
  }

  /** Zeroes every series in place (a bound child keeps recording into its series). */
  reset(): void {
    for (const series of this.series.values()) this.zero(series);
  }

  protected abstract zero(series: S): void;

  abstract get(): Promise<Snapshot>;
}

interface CounterSeries<T extends string> extends Series<T> {
  value: number;
}

/** A monotonically increasing count per label set. */
export class HotCounter<T extends string = string> extends HotMetric<T, CounterSeries<T>> {
  readonly type = 'counter';

  protected create(labels: Readonly<Record<string, string | number>>): CounterSeries<T> {
    return { labels, value: 0 };
  }

  protected zero(series: CounterSeries<T>): void {
    series.value = 0;
  }

  inc(labels?: Labels<T>, value = 1): void {
    if (!(value >= 0) || !Number.isFinite(value)) throw new TypeError(`${this.name}: a counter takes finite non-negative increments`);
    this.seriesOf(labels).value += value;
  }

  /**
   * A fixed label set bound once: `inc` on it skips the label lookup. The
   * series is created on the first `inc`, so an unused child adds nothing to
   * the exposition.
   */
  child(labels: Labels<T>): { inc(value?: number): void } {
    let series: CounterSeries<T> | undefined;
    return {
      inc: (value = 1) => {
        if (!(value >= 0) || !Number.isFinite(value)) throw new TypeError(`${this.name}: a counter takes finite non-negative increments`);
        (series ??= this.seriesOf(labels)).value += value;
      },
    };
  }

  get(): Promise<Snapshot> {
    const values: Sample[] = [];
    for (const s of this.series.values()) values.push({ labels: s.labels, value: s.value });
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }
}

interface HistogramSeries<T extends string> extends Series<T> {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into fixed buckets per label set, as Prometheus histograms are. */
export class HotHistogram<T extends string = string> extends HotMetric<T, HistogramSeries<T>> {
  readonly type = 'histogram';
  readonly #bounds: readonly number[];

  constructor(config: { name: string; help: string; labelNames?: readonly T[]; buckets: readonly number[]; registers: readonly Registry[] }) {
    super(config);
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
  }

  protected create(labels: Readonly<Record<string, string | number>>): HistogramSeries<T> {
    return { labels, counts: new Array<number>(this.#bounds.length + 1).fill(0), sum: 0, count: 0 };
  }

  protected zero(series: HistogramSeries<T>): void {
    series.counts.fill(0);
    series.sum = 0;
    series.count = 0;
  }

  observe(labels: Labels<T>, value: number): void {
    this.#record(this.seriesOf(labels), value);
  }

  /** The series of a fixed label set, resolved once: `observe` on it skips the label lookup. */
  child(labels: Labels<T>): { observe(value: number): void } {
    const series = this.seriesOf(labels);
    return { observe: (value: number) => this.#record(series, value) };
  }

  #record(s: HistogramSeries<T>, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`${this.name}: observations must be finite`);
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  get(): Promise<Snapshot> {
    const values: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.#bounds.length; i++) {
        cumulative += s.counts[i]!;
        const le = i < this.#bounds.length ? this.#bounds[i]! : '+Inf';
        // `le` first, as prom-client writes it.
        values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: bucket });
      }
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }
}
