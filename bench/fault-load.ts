/**
 * Command line of the fault-load run (bench/fault-load-run.ts): sustained
 * load while the model server restarts, the policy bundle changes and the
 * certificate rotates; loopback only, bounded to one hour and 64 workers.
 *
 *   npx vite-node bench/fault-load.ts -- --minutes 5
 *   node --expose-gc node_modules/vite-node/vite-node.mjs bench/fault-load.ts --minutes 5   # memory sampled after a full GC
 *   npx vite-node bench/fault-load.ts -- --seconds 20 --concurrency 8 --out report.json
 *
 * Exits 0 when there were no wrong decisions, no PII leaks and RSS stayed
 * within 20 % (median of the last fifth against the second fifth), else 2.
 */
import { writeFileSync } from 'node:fs';
import { runFaultLoad } from './fault-load-run.js';

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? undefined : process.argv[at + 1];
}

{
  const seconds = Number(argument('seconds') ?? Number(argument('minutes') ?? 1) * 60);
  const concurrency = Number(argument('concurrency') ?? 8);
  if (!(seconds > 0 && seconds <= 3600 && concurrency > 0 && concurrency <= 64)) {
    console.error('usage: fault-load.ts [--minutes N | --seconds N] [--concurrency 1..64]  (at most one hour)');
    process.exit(1);
  }
  const report = await runFaultLoad({ durationMs: seconds * 1000, concurrency, log: (l) => console.log(l) });
  const { rss, ...summary } = report;
  console.log(JSON.stringify({ ...summary, first: rss[0], last: rss.at(-1), rssMax: Math.max(...rss.map(([, m]) => m)) }, null, 2));
  const out = argument('out');
  if (out !== undefined) writeFileSync(out, JSON.stringify(report, null, 2));
  const flat = Math.abs(report.rssGrowthPercent) <= 20;
  console.log(
    `requests ${report.requests}, wrong decisions ${report.wrongDecisions}, PII leaks ${report.piiLeaksToClient + report.piiLeaksToUpstream}, ` +
      `RSS growth ${report.rssGrowthPercent}% (${flat ? 'flat' : 'NOT flat'} within 20 %), heap growth ${report.heapGrowthPercent}%${report.gcBeforeSamples ? ' (after GC)' : ''}`,
  );
  process.exit(report.wrongDecisions === 0 && report.piiLeaksToClient + report.piiLeaksToUpstream === 0 && flat ? 0 : 2);
}
