/**
 * Puts a {@link StreamPolicy} between the upstream body and the client as an
 * async generator for `stream/promises.pipeline`. The generator pulls one
 * upstream chunk at a time and yields what the policy releases; pipeline()
 * writes each yield and waits for `drain` when the client is slow, so a slow
 * client pauses the upstream read instead of growing a buffer here. After a
 * deny the generator returns, which stops reading (and destroys) the upstream
 * body.
 */
import type { StreamPolicy } from './policy-stream.js';

/** Options of {@link policyTransform}. */
export interface PolicyTransformHooks {
  /** Called with the policy's buffered bytes after every chunk (tests, metrics). */
  readonly onChunk?: (bufferedBytes: number) => void;
}

/** The transform stage: upstream chunks in, policed client chunks out. */
export function policyTransform(policy: StreamPolicy, hooks: PolicyTransformHooks = {}): (source: AsyncIterable<Uint8Array>) => AsyncGenerator<Buffer> {
  return async function* police(source) {
    for await (const chunk of source) {
      const out = policy.push(chunk);
      hooks.onChunk?.(policy.bufferedBytes);
      // One write per upstream chunk, not one per event.
      if (out.length > 0) yield out.length === 1 ? out[0]! : Buffer.concat(out);
      if (policy.finished) return;
    }
    const rest = policy.end();
    if (rest.length > 0) yield Buffer.concat(rest);
  };
}
