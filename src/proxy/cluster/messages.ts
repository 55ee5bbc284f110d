/**
 * The IPC protocol between the cluster primary and its workers
 * (docs/workers.md). Messages travel over node:cluster's channel with the
 * `advanced` (structured clone) serialisation, so bundle bytes arrive as a
 * Uint8Array rather than a JSON array of numbers.
 *
 * What never crosses this channel: TLS private keys (each worker generates
 * its own and keeps it in its own memory), request or response bodies, and
 * anything a client sent.
 */
import type { Config } from '../../config/index.js';
import type { ErrorCode } from '../../errors.js';

/** Every message type starts with this, apart from prom-client's own. */
const PREFIX = 'enclave-gate:';

/** A bundle the primary has verified and loaded; `seq` orders them. */
export interface BundleDelivery {
  readonly seq: number;
  readonly bytes: Uint8Array;
  /** Where the primary got it (file path or URL), for logs. */
  readonly origin: string;
}

/** Primary → worker. */
export type ToWorker =
  /** The answer to `hello`: the configuration and the bundle to start with. */
  | { readonly type: 'enclave-gate:start'; readonly config: Config; readonly bundle: BundleDelivery }
  /** A new bundle to activate (answered with `bundle-done`). */
  | { readonly type: 'enclave-gate:bundle'; readonly bundle: BundleDelivery }
  | { readonly type: 'enclave-gate:readiness'; readonly id: number }
  | { readonly type: 'enclave-gate:metrics'; readonly id: number }
  /** Drain in-flight requests, then exit 0. */
  | { readonly type: 'enclave-gate:shutdown' };

/** Worker → primary. */
export type FromWorker =
  /** The worker listens for messages and wants its configuration and bundle. */
  | { readonly type: 'enclave-gate:hello' }
  /** Serving: listener bound, certificate issued. `digest` is `alg:hex` of the policy in force. */
  | { readonly type: 'enclave-gate:ready'; readonly url: string; readonly digest: string }
  /** Start-up failed with this catalogue error; the worker exits next. */
  | { readonly type: 'enclave-gate:failed'; readonly code: ErrorCode; readonly message: string }
  /** Done with bundle `seq`: `ok` as BundleHandlers.bundle resolved, `digest` the policy now in force. */
  | { readonly type: 'enclave-gate:bundle-done'; readonly seq: number; readonly ok: boolean; readonly digest: string }
  | { readonly type: 'enclave-gate:readiness'; readonly id: number; readonly ready: boolean; readonly detail: Record<string, unknown> }
  /** `metrics` is the worker registry's getMetricsAsJSON(). */
  | { readonly type: 'enclave-gate:metrics'; readonly id: number; readonly metrics: unknown[] };

function hasType(value: unknown): value is { type: string } {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

/** True for a message of this protocol (the channel also carries node:cluster's and prom-client's). */
export function isOurs<T extends { type: string }>(value: unknown): value is T {
  return hasType(value) && value.type.startsWith(PREFIX);
}
