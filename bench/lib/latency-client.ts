/**
 * A closed-loop client with microsecond latencies, for the one-connection
 * rows: autocannon reports whole milliseconds, which hides the difference
 * between a 0.1 ms and a 0.3 ms proxy. One keep-alive connection (HTTP or
 * TLS), requests sent one after another, each timed with hrtime.
 */
import { Client } from 'undici';

export interface LatencySample {
  readonly requests: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/** Sends requests for `seconds` over one connection; the first 5 % are warm-up and not counted. */
export async function measureLatency(origin: string, path: string, body: string, seconds: number): Promise<LatencySample> {
  const client = new Client(origin, { connect: { rejectUnauthorized: false }, pipelining: 1 });
  const samples: number[] = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  try {
    while (Date.now() < end) {
      const t0 = process.hrtime.bigint();
      try {
        const res = await client.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await res.body.arrayBuffer();
        if (res.statusCode !== 200) errors++;
      } catch {
        errors++;
      }
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  } finally {
    await client.close();
  }
  const counted = samples.slice(Math.floor(samples.length * 0.05)).sort((a, b) => a - b);
  return { requests: counted.length, p50Ms: quantile(counted, 0.5), p99Ms: quantile(counted, 0.99), errors };
}
