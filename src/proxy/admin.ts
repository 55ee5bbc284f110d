/**
 * The admin listener (loopback by default): liveness, readiness and metrics,
 * on a plain HTTP port separate from the RA-TLS listener so that scraping and
 * probing never pass the request policy or touch the model server.
 */
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { EnclaveGateError } from '../errors.js';
import type { Registry } from 'prom-client';
import { problemBody, toProblem } from './respond.js';

/** What the admin endpoints report on. */
export interface AdminDeps {
  /** What /metrics exposes: a proxy's own registry, or (cluster primary) one that merges every worker's. */
  readonly metrics: { readonly registry: Pick<Registry, 'metrics' | 'contentType'> };
  /** Ready once the policy is loaded and the certificate issued, and not draining. Async for a cluster primary, which asks its workers. */
  readonly readiness: () => Readiness | Promise<Readiness>;
}

interface Readiness {
  readonly ready: boolean;
  readonly detail: Record<string, unknown>;
}

/** Creates (does not start) the admin server. */
export function createAdminServer(deps: AdminDeps): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    const json = (status: number, value: unknown): void => {
      const body = JSON.stringify(value);
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const { body, headers } = problemBody(toProblem(new EnclaveGateError('EG_NOT_FOUND', 'admin endpoints accept GET only'), randomUUID(), undefined, 405));
      res.writeHead(405, { ...headers, allow: 'GET, HEAD' });
      res.end(body);
      return;
    }
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz') {
      Promise.resolve()
        .then(deps.readiness)
        .then(
          ({ ready, detail }) => json(ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', ...detail }),
          () => json(503, { status: 'not ready' }),
        );
      return;
    }
    if (path === '/metrics') {
      deps.metrics.registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
          res.end(text);
        })
        .catch(() => {
          res.writeHead(500).end();
        });
      return;
    }
    const { body, headers } = problemBody(toProblem(new EnclaveGateError('EG_NOT_FOUND', `no admin endpoint ${path}`), randomUUID()));
    res.writeHead(404, headers);
    res.end(body);
  });
}
