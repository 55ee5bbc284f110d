/**
 * The adversarial suite's shared setup: the real gateway (real TLS listener,
 * default compiled policy) with short limits so timeouts are observable in a
 * test, in front of a recording upstream; plus the check every case ends with:
 * the proxy still serves the next, ordinary request.
 */
import { expect } from 'vitest';
import type { PolicyEngine } from '../../../src/policy/engine.js';
import type { Gateway } from '../../../src/proxy/gateway.js';
import { startTestGateway } from '../../helpers/gateway.js';
import { exchange, head } from '../../helpers/raw-http.js';
import { startUpstream, type TestUpstream } from '../../helpers/upstream.js';

/** Limits the suite's gateway runs with (docs/security.md quotes them). */
export const LIMITS = {
  requestBodyBytes: 4096,
  responseBodyBytes: 1024 * 1024,
  headerBytes: 8192,
  headerCount: 100,
  requestTimeoutMs: 1500,
  upstreamHeadersTimeoutMs: 800,
  upstreamBodyTimeoutMs: 800,
} as const;

export interface Fixture {
  readonly gateway: Gateway;
  readonly upstream: TestUpstream;
  close(): Promise<void>;
}

/** The model answer served on GET /v1/models. */
export const MODELS = { object: 'list', data: [{ id: 'm' }] };

/** Starts upstream and gateway; `policy` replaces the default compiled policy. */
export async function startFixture(overrides: Record<string, unknown> = {}, policy?: PolicyEngine): Promise<Fixture> {
  const upstream = await startUpstream();
  upstream.route('/v1/models', (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(MODELS));
  });
  upstream.route('/v1/chat/completions', (_req, body, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ echoed: body.length }));
  });
  const gateway = await startTestGateway(upstream.url, { limits: LIMITS, ...overrides }, policy === undefined ? {} : { policy });
  return {
    gateway,
    upstream,
    async close() {
      await gateway.close();
      await upstream.close();
    },
  };
}

/** Asserts that an ordinary request on a fresh connection is still answered 200. */
export async function expectStillServing(gateway: Gateway): Promise<void> {
  const result = await exchange(gateway, head('GET /v1/models HTTP/1.1', ['Connection: close']));
  expect(result.responses.map((r) => r.status), 'the proxy must keep serving after the case').toEqual([200]);
}

/** Paths the upstream was asked for, in order. */
export function upstreamPaths(upstream: TestUpstream, since = 0): string[] {
  return upstream.received.slice(since).map((r) => r.url);
}
