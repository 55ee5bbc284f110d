/**
 * Server-sent events writer for streamed completions, OpenAI style: one
 * `data: <json>` event per chunk and a final `data: [DONE]`.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** An open event stream. */
export interface SseStream {
  /**
   * Writes one event and waits the inter-chunk delay. Resolves `false` once
   * the client has gone away, so producers can stop early.
   */
  send(data: unknown): Promise<boolean>;
  /** Writes `data: [DONE]` and ends the response. */
  finish(): Promise<void>;
}

/**
 * Starts an event stream on `res`. `nextDelayMs` is consulted after every
 * event; a delay of 0 skips the timer entirely.
 */
export function openSse(res: ServerResponse, nextDelayMs: () => number): SseStream {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    // Tells nginx-style reverse proxies not to buffer the stream; the point of
    // streaming through enclave-gate is that tokens arrive as produced.
    'x-accel-buffering': 'no',
  });
  // Send the headers now: a client waiting for the first token should see the
  // 200 immediately, not when the first chunk happens to be ready.
  res.flushHeaders();

  const gone = (): boolean => res.destroyed || res.writableEnded;

  const write = async (text: string): Promise<boolean> => {
    if (gone()) return false;
    // Each write goes straight to the socket (the server disables Nagle);
    // honour backpressure so a slow reader cannot make us buffer unboundedly.
    if (!res.write(text)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
    return !gone();
  };

  return {
    async send(data) {
      if (!(await write(`data: ${JSON.stringify(data)}\n\n`))) return false;
      const delay = nextDelayMs();
      if (delay > 0) await sleep(delay);
      return !gone();
    },
    async finish() {
      if (await write('data: [DONE]\n\n')) res.end();
    },
  };
}
