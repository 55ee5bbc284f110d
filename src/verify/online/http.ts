/**
 * One HTTP GET for an endorsement, with the failure handling every online
 * fetch shares: a per-attempt timeout, bounded honouring of 429 Retry-After
 * (AMD KDS throttles per IP), a response size cap, and the mapping of every
 * failure to a VerifyError that names the URL and nothing secret:
 *
 *  - no answer (refused, reset, DNS, TLS, timeout, abort) → EG_VERIFY_CONNECT;
 *  - an answer that is not 2xx (including 429 past the bound) →
 *    EG_VERIFY_ENDORSEMENTS_MISSING with the status.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { VerifyError, describeThrown } from '../../errors.js';
import { DEFAULT_RETRY_AFTER_MS, parseRetryAfter } from './retry-after.js';
import type { FetchLike, TransportState } from './transport.js';

/** Limits of one GET; every field has a default in {@link HTTP_DEFAULTS}. */
export interface HttpLimits {
  /** Per-attempt timeout in ms (connect, headers and body). */
  readonly timeoutMs: number;
  /** Longest Retry-After honoured; a longer one fails at once instead of stalling the caller. */
  readonly maxRetryWaitMs: number;
  /** Attempts in total, counting the first, when the server keeps answering 429. */
  readonly maxAttempts: number;
  /** Largest body accepted. Endorsements are kilobytes; anything near this is not one. */
  readonly maxBytes: number;
}

/** Defaults: 10 s per attempt, Retry-After up to 30 s, 3 attempts, 4 MiB. */
export const HTTP_DEFAULTS: HttpLimits = {
  timeoutMs: 10_000,
  maxRetryWaitMs: 30_000,
  maxAttempts: 3,
  maxBytes: 4 * 1024 * 1024,
};

/** A 2xx answer: body bytes and the headers the caller asked to keep (lower-case names). */
export interface HttpAnswer {
  readonly status: number;
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
}

/** Headers kept on every answer: the HTTP cache metadata stored next to cached bodies. */
export const CACHE_METADATA_HEADERS = ['etag', 'last-modified', 'cache-control', 'expires', 'date', 'content-type'] as const;

/** The URL with any user:password removed, for messages and details. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    return '(unparseable URL)';
  }
}

function connectError(url: string, why: string, cause?: unknown): VerifyError {
  return new VerifyError('EG_VERIFY_CONNECT', `could not fetch ${safeUrl(url)}: ${why}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { url: safeUrl(url) },
  });
}

function missingError(url: string, status: number, why: string): VerifyError {
  return new VerifyError('EG_VERIFY_ENDORSEMENTS_MISSING', `${safeUrl(url)} answered HTTP ${status}: ${why}`, {
    details: { url: safeUrl(url), status },
  });
}

/** Why a fetch threw, in words; distinguishes our timeout from the caller's abort. */
function reason(error: unknown, timeout: AbortSignal, timeoutMs: number): string {
  if (timeout.aborted) return `no answer within ${timeoutMs} ms`;
  const cause = error instanceof Error && error.cause !== undefined ? `: ${describeThrown(error.cause)}` : '';
  return `${describeThrown(error)}${cause}`;
}

/** Waits out a Retry-After the host gave earlier, or fails when that wait is beyond the bound. */
async function respectHostGate(url: string, host: string, state: TransportState, limits: HttpLimits): Promise<void> {
  const until = state.notBefore.get(host);
  if (until === undefined) return;
  const wait = until - Date.now();
  if (wait <= 0) {
    state.notBefore.delete(host);
    return;
  }
  if (wait > limits.maxRetryWaitMs) {
    throw missingError(url, 429, `${host} throttled earlier requests; not asking again before ${new Date(until).toISOString()} (longer than the ${limits.maxRetryWaitMs} ms bound)`);
  }
  await sleep(wait);
}

/**
 * GETs `url` once, or a few times when the server answers 429 with a
 * Retry-After within `limits.maxRetryWaitMs`. Returns the body and the
 * requested headers of a 2xx answer; throws VerifyError otherwise.
 */
export async function httpGet(
  url: string,
  transport: FetchLike,
  state: TransportState,
  options: {
    readonly limits: HttpLimits;
    readonly keepHeaders: readonly string[];
    readonly requestHeaders?: Readonly<Record<string, string>>;
  },
): Promise<HttpAnswer> {
  const { limits } = options;
  const host = new URL(url).host;
  for (let attempt = 1; ; attempt++) {
    await respectHostGate(url, host, state, limits);
    const timeout = AbortSignal.timeout(limits.timeoutMs);
    // Aborting is how an unread body is dropped: FetchLike has no body.cancel(), and an
    // unconsumed undici body would hold its connection until garbage collection.
    const discard = new AbortController();
    let response: Awaited<ReturnType<FetchLike>>;
    try {
      response = await transport(url, {
        signal: AbortSignal.any([timeout, discard.signal]),
        headers: { accept: '*/*', ...options.requestHeaders },
      });
    } catch (error) {
      throw connectError(url, reason(error, timeout, limits.timeoutMs), error);
    }

    if (response.status === 429) {
      discard.abort();
      const wait = parseRetryAfter(response.headers.get('retry-after'), Date.now()) ?? DEFAULT_RETRY_AFTER_MS;
      // Every caller on this transport holds back, not only this one: that is what the server asked for.
      state.notBefore.set(host, Math.max(state.notBefore.get(host) ?? 0, Date.now() + wait));
      if (wait > limits.maxRetryWaitMs) {
        throw missingError(url, 429, `throttled; Retry-After ${Math.ceil(wait / 1000)} s exceeds the ${limits.maxRetryWaitMs} ms bound`);
      }
      if (attempt >= limits.maxAttempts) {
        throw missingError(url, 429, `still throttled after ${attempt} attempts`);
      }
      await sleep(wait);
      continue;
    }
    if (response.status < 200 || response.status > 299) {
      // Intel PCS tags every answer with a Request-ID; it is what Intel support asks for.
      const requestId = response.headers.get('request-id');
      discard.abort();
      throw missingError(url, response.status, requestId === null ? 'endorsement not served' : `endorsement not served (Request-ID ${requestId})`);
    }

    const declared = Number(response.headers.get('content-length') ?? 'NaN');
    if (Number.isFinite(declared) && declared > limits.maxBytes) {
      discard.abort();
      throw missingError(url, response.status, `body of ${declared} bytes exceeds the ${limits.maxBytes}-byte limit`);
    }
    let body: Uint8Array;
    try {
      body = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      throw connectError(url, `body not received: ${reason(error, timeout, limits.timeoutMs)}`, error);
    }
    if (body.byteLength > limits.maxBytes) {
      throw missingError(url, response.status, `body of ${body.byteLength} bytes exceeds the ${limits.maxBytes}-byte limit`);
    }
    const headers: Record<string, string> = {};
    for (const name of [...CACHE_METADATA_HEADERS, ...options.keepHeaders]) {
      const value = response.headers.get(name);
      if (value !== null) headers[name.toLowerCase()] = value;
    }
    return { status: response.status, body, headers };
  }
}
