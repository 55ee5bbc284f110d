/**
 * hot-metrics.ts must export exactly what prom-client's own Counter and
 * Histogram export for the same updates: same text exposition, same cluster
 * aggregation. Fed with random updates, compared line by line.
 */
import fc from 'fast-check';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

import { HotCounter, HotHistogram } from '../../../src/observability/hot-metrics.js';

const BUCKETS = [0.0001, 0.001, 0.01, 0.1, 1, 10];
const updates = fc.array(
  fc.record({ label: fc.constantFrom('a', 'b', 'c"q', 'd\\e'), other: fc.constantFrom('x', 'y'), value: fc.double({ min: 0, max: 20, noNaN: true }) }),
  { maxLength: 60 },
);

function pair(): { ours: Registry; theirs: Registry; hc: HotCounter<'l' | 'o'>; hh: HotHistogram<'l'>; pc: Counter<'l' | 'o'>; ph: Histogram<'l'> } {
  const ours = new Registry();
  const theirs = new Registry();
  return {
    ours,
    theirs,
    hc: new HotCounter({ name: 't_total', help: 'h', labelNames: ['l', 'o'], registers: [ours] }),
    hh: new HotHistogram({ name: 't_seconds', help: 'h', labelNames: ['l'], buckets: BUCKETS, registers: [ours] }),
    pc: new Counter({ name: 't_total', help: 'h', labelNames: ['l', 'o'], registers: [theirs] }),
    ph: new Histogram({ name: 't_seconds', help: 'h', labelNames: ['l'], buckets: BUCKETS, registers: [theirs] }),
  };
}

const sortedLines = (text: string): string[] => text.split('\n').filter(Boolean).sort();

describe('hot metrics', () => {
  it('expose the same text as prom-client for the same updates', async () => {
    await fc.assert(
      fc.asyncProperty(updates, async (list) => {
        const { ours, theirs, hc, hh, pc, ph } = pair();
        // Half the updates through a bound child, as the pipeline makes them.
        const children = new Map<string, { inc(value?: number): void }>();
        const bound = (l: string, o: string): { inc(value?: number): void } => {
          const key = `${l}\u0000${o}`;
          let child = children.get(key);
          if (child === undefined) children.set(key, (child = hc.child({ l, o })));
          return child;
        };
        for (const [i, u] of list.entries()) {
          if (i % 2 === 0) hc.inc({ l: u.label, o: u.other });
          else bound(u.label, u.other).inc();
          pc.inc({ l: u.label, o: u.other });
          hh.observe({ l: u.label }, u.value);
          ph.observe({ l: u.label }, u.value);
        }
        expect(sortedLines(await ours.metrics())).toEqual(sortedLines(await theirs.metrics()));
      }),
      { numRuns: 100, seed: Number(process.env['FC_SEED'] ?? 0x3e7) },
    );
  });

  it('aggregate across workers as prom-client does', async () => {
    const a = pair();
    const b = pair();
    for (const [p, n] of [[a, 3], [b, 4]] as const) {
      for (let i = 0; i < n; i++) {
        p.hc.inc({ l: 'a', o: 'x' });
        p.pc.inc({ l: 'a', o: 'x' });
        p.hh.observe({ l: 'a' }, i / 10);
        p.ph.observe({ l: 'a' }, i / 10);
      }
    }
    const ours = AggregatorRegistry.aggregate([await a.ours.getMetricsAsJSON(), await b.ours.getMetricsAsJSON()]);
    const theirs = AggregatorRegistry.aggregate([await a.theirs.getMetricsAsJSON(), await b.theirs.getMetricsAsJSON()]);
    expect(sortedLines(await ours.metrics())).toEqual(sortedLines(await theirs.metrics()));
    expect(await ours.metrics()).toContain('t_total{l="a",o="x"} 7');
  });

  it('add nothing to the exposition for a bound child never incremented', async () => {
    const { ours, hc } = pair();
    hc.child({ l: 'unused', o: 'x' });
    hc.child({ l: 'used', o: 'x' }).inc(2);
    const text = await ours.metrics();
    expect(text).toContain('t_total{l="used",o="x"} 2');
    expect(text).not.toContain('unused');
  });

  it('refuse what prom-client refuses: unknown labels, negative increments, non-finite values', () => {
    const { hc, hh } = pair();
    expect(() => hc.inc({ l: 'a', nope: 'x' } as never)).toThrow(/unknown label nope/);
    expect(() => hc.inc({ l: 'a' }, -1)).toThrow(/non-negative/);
    expect(() => hc.child({ l: 'a' }).inc(-1)).toThrow(/non-negative/);
    expect(() => hh.observe({ l: 'a' }, Number.NaN)).toThrow(/finite/);
  });
});
