/**
 * Per-transport state shared by every online fetch that uses the same
 * FetchLike: requests in flight (so concurrent callers asking for one URL
 * share one request) and, per host, the earliest instant the host said we may
 * ask again (so a 429 from AMD KDS holds back every caller, not just the one
 * that received it).
 *
 * Keyed by the FetchLike in a WeakMap: callers who inject their own transport
 * get their own state, and nothing outlives the transport it belongs to.
 */

/** The fetch the online module needs: a subset of the WHATWG fetch, so tests and proxies can inject their own. */
export type FetchLike = (
  url: string,
  init?: { signal?: AbortSignal; headers?: Record<string, string> },
) => Promise<{ status: number; headers: { get(name: string): string | null }; arrayBuffer(): Promise<ArrayBuffer> }>;

/** The global fetch (undici in Node 20), wrapped once so default callers share one transport state. */
export const defaultFetch: FetchLike = (url, init) => globalThis.fetch(url, init);

/** Shared bookkeeping of one transport. */
export interface TransportState {
  /** URL → the promise every concurrent caller for that URL awaits. */
  readonly inflight: Map<string, Promise<unknown>>;
  /** host → epoch ms before which no request may be sent (set by 429 Retry-After). */
  readonly notBefore: Map<string, number>;
}

const states = new WeakMap<FetchLike, TransportState>();

/** The state of `transport`, created on first use. */
export function transportState(transport: FetchLike): TransportState {
  let state = states.get(transport);
  if (state === undefined) {
    state = { inflight: new Map(), notBefore: new Map() };
    states.set(transport, state);
  }
  return state;
}

/**
 * Runs `run` unless a run for `key` is already in flight, in which case the
 * caller joins it. The entry is removed when the run settles, so a failure is
 * never replayed to later callers.
 */
export function coalesce<T>(state: TransportState, key: string, run: () => Promise<T>): Promise<T> {
  const existing = state.inflight.get(key);
  if (existing !== undefined) return existing as Promise<T>;
  const started = run().finally(() => state.inflight.delete(key));
  state.inflight.set(key, started);
  return started;
}
