/**
 * Test helpers for the stream policy: a TypeScript mirror of the default
 * Rego response policy's redaction rule (redact every finding, the outer one
 * of nested findings, deny keys and partial overlaps), and drivers that feed
 * a StreamPolicy in chosen chunks.
 */
import type { Decision } from '../../../src/policy/decision.js';
import type { StreamEventInput, StreamFinding } from '../../../src/policy/input.js';
import { scanPii } from '../../../src/policy/builtins/pii.js';
import { redactText } from '../../../src/proxy/redact.js';
import { StreamPolicy, type StreamPolicyOptions } from '../../../src/proxy/stream/policy-stream.js';

/** The redactions the default policy asks for, or undefined when it denies. */
export function defaultRedactions(findings: readonly StreamFinding[]): StreamFinding[] | undefined {
  if (findings.some((f) => f.key)) return undefined;
  const kept = findings.filter(
    (f) =>
      !findings.some(
        (g) =>
          g !== f &&
          g.path === f.path &&
          g.start <= f.start &&
          f.end <= g.end &&
          (g.end - g.start > f.end - f.start || (g.end - g.start === f.end - f.start && g.type < f.type)),
      ),
  );
  for (const a of kept) for (const b of kept) if (a !== b && a.path === b.path && a.start < b.end && b.start < a.end) return undefined;
  return kept;
}

/** The default policy's stream decision, in TypeScript. */
export function redactAll(event: StreamEventInput): Decision {
  const kept = defaultRedactions(event.findings);
  if (kept === undefined) return { allow: false, reasons: ['pii_in_response'] };
  return { allow: true, reasons: [], redact: kept.map((f) => ({ path: f.path, start: f.start, end: f.end, type: f.type })) };
}

/** What the non-streamed path makes of `text` as one string leaf. */
export function expectedRedaction(text: string): string | undefined {
  const kept = defaultRedactions(scanPii(text));
  if (kept === undefined) return undefined;
  return redactText(text, [...kept].sort((a, b) => a.start - b.start));
}

/** Runs a stream through a policy in the given chunks; returns the client bytes and the policy. */
export function runStream(chunks: readonly Uint8Array[], options: Partial<StreamPolicyOptions> & Pick<StreamPolicyOptions, 'format'>): { out: string; policy: StreamPolicy } {
  const policy = new StreamPolicy({ protocol: 'unknown', requestId: 'req-1', decide: redactAll, ...options });
  const parts: Buffer[] = [];
  for (const chunk of chunks) parts.push(...policy.push(chunk));
  parts.push(...policy.end());
  return { out: Buffer.concat(parts).toString('utf8'), policy };
}

/** Splits bytes at the given sorted cut positions. */
export function cut(bytes: Uint8Array, positions: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of positions) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** OpenAI chat chunks carrying `pieces` as delta content, then finish and [DONE]. */
export function openAiChatStream(pieces: readonly string[], eol = '\n'): string {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null): string =>
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}${eol}${eol}`;
  return chunk({ role: 'assistant', content: '' }) + pieces.map((p) => chunk({ content: p })).join('') + chunk({}, 'stop') + `data: [DONE]${eol}${eol}`;
}

/** Concatenated delta content of an OpenAI chat stream as a client would read it. */
export function chatText(sse: string): string {
  let text = '';
  for (const block of sse.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    if (data === '' || data === '[DONE]') continue;
    const json = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string } }> };
    text += json.choices?.[0]?.delta?.content ?? '';
  }
  return text;
}
