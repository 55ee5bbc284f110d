/**
 * What checking one SSE event costs the stream policy, unpaced: shared by
 * bench/stream-policy.bench.ts and bench/stream-latency.ts.
 *
 * Rows (per OpenAI chat.completion.chunk event of one token, ~200 bytes):
 *  - baseline: JSON.parse of the event's data, the least any inspecting
 *    proxy must do;
 *  - stream policy, clean text: StreamPolicy.push of the event bytes (SSE
 *    parse, JSON parse, text slots, per-event scan, release rule, release);
 *    the policy is not asked because there are no findings;
 *  - stream policy, PII every 20th token: the same with an e-mail address in
 *    the text, so that the real wasm response decision is asked and the
 *    event is redacted and re-serialised;
 *  - the same clean text with a fixed 64-character window
 *    (`limits.streamWindowChars: 64`), for comparison;
 *  - wasm decision per event: one evaluateResponse with an event input and no
 *    findings - the cost every event would pay if the policy were asked about
 *    each one (the design not taken; docs/streaming.md).
 *
 * Each sample times one event with process.hrtime.bigint; p50/p95 over all
 * samples after a warm-up.
 */
import { loadPolicy } from '../src/policy/engine.js';
import type { ResponseInput, StreamEventInput } from '../src/policy/input.js';
import { StreamPolicy } from '../src/proxy/stream/policy-stream.js';
import { DEFAULT_POLICY_BUNDLE } from '../src/util/package-root.js';

const WARMUP = 2_000;

const WORDS = ['The', ' quick', ' brown', ' fox', ' jumps', ' over', ' the', ' lazy', ' dog', '.', ' It', ' was', ' not', ' amused', ',', ' so', ' it', ' left', ' early', '\n'];

function chunk(content: string): Buffer {
  const event = { id: 'chatcmpl-9x8y7z', object: 'chat.completion.chunk', created: 1767225600, model: 'enclave-demo-1', choices: [{ index: 0, delta: { content }, finish_reason: null }] };
  return Buffer.from(`data: ${JSON.stringify(event)}\n\n`, 'utf8');
}

/** Tokens for `n` events; with `pii`, every 20th token group spells an address over three tokens. */
function tokens(n: number, pii: boolean): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    if (pii && i % 20 === 0) out.push(' mail bob.s', 'mith@exam', 'ple.org');
    else out.push(WORDS[i % WORDS.length]!);
  }
  return out.slice(0, n);
}

/** One row of the table. */
export interface CostRow {
  readonly what: string;
  readonly p50: number;
  readonly p95: number;
  readonly mean: number;
}

function stats(what: string, samplesNs: number[]): CostRow {
  const sorted = [...samplesNs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! / 1000;
  return { what, p50: at(0.5), p95: at(0.95), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length / 1000 };
}

function time(what: string, events: readonly Buffer[], run: (event: Buffer) => void): CostRow {
  for (let i = 0; i < Math.min(WARMUP, events.length); i++) run(events[i]!);
  const samples: number[] = [];
  for (const event of events) {
    const t0 = process.hrtime.bigint();
    run(event);
    samples.push(Number(process.hrtime.bigint() - t0));
  }
  return stats(what, samples);
}

/** Measures every row over `events` events each, with the built default policy. */
export async function measureStreamCost(options: { events: number }): Promise<CostRow[]> {
  const policy = await loadPolicy(DEFAULT_POLICY_BUNDLE);
  return measure(options.events, (input) => policy.evaluateResponse(input));
}

type Evaluate = (input: ResponseInput) => ReturnType<Awaited<ReturnType<typeof loadPolicy>>['evaluateResponse']>;

function measure(events: number, evaluate: Evaluate): CostRow[] {
  const base: ResponseInput = {
    request: { method: 'POST', path: '/v1/chat/completions', parsed_path: ['v1', 'chat', 'completions'], request_id: 'bench' },
    status: 200,
    headers: { 'content-type': 'text/event-stream' },
    body_format: 'event-stream',
  };
  let asked = 0;
  const decide = (event: StreamEventInput) => {
    asked++;
    return evaluate({ ...base, event });
  };
  const clean = tokens(events, false).map(chunk);
  const dirty = tokens(events, true).map(chunk);

  function streamRow(what: string, list: readonly Buffer[], windowChars = 0): CostRow {
    // A fresh stream per 2 000 events, as a long answer would be.
    const fresh = () => new StreamPolicy({ format: 'sse', protocol: 'openai-chat', requestId: 'bench', decide, windowChars });
    let p = fresh();
    let n = 0;
    return time(what, list, (e) => {
      if (++n % 2000 === 0) {
        p.end();
        p = fresh();
      }
      p.push(e);
    });
  }
  const rows: CostRow[] = [];
  rows.push(time('baseline: JSON.parse of the event data', clean, (e) => void JSON.parse(e.toString('utf8', 6, e.length - 2))));
  rows.push(streamRow('stream policy, clean text (policy not asked)', clean));
  asked = 0;
  const dirtyRow = streamRow('stream policy, PII every ~20 tokens', dirty);
  rows.push({ ...dirtyRow, what: `stream policy, PII every ~20 tokens (wasm decision on ${((asked / (events + WARMUP)) * 100).toFixed(1)}% of events)` });
  rows.push(streamRow('stream policy, clean text, fixed window of 64 (streamWindowChars: 64)', clean, 64));
  const emptyEvent: StreamEventInput = { protocol: 'openai-chat', index: 1, findings: [] };
  rows.push(time('wasm response decision per event (not done; for scale)', clean, () => void evaluate({ ...base, event: emptyEvent })));
  return rows;
}
