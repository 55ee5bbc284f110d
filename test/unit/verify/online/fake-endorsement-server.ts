/**
 * A real HTTP server on 127.0.0.1 standing in for AMD KDS and Intel PCS in
 * tests. Routes match the exact request target (path and query), so a URL
 * built from the wrong report fields gets a 404 like the real services give;
 * every request is recorded so tests can count what reached the network.
 * Bodies and headers come from the shared vectors (see fixtures below).
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

/** One scripted answer. */
export interface FakeAnswer {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
  /** Answer after this many ms (to let concurrent callers pile up). */
  readonly delayMs?: number;
  /** Never answer (timeout tests). */
  readonly hang?: boolean;
}

/** A fixed answer, or one chosen by how many times this target was requested (1 = first). */
export type FakeRoute = FakeAnswer | ((nth: number) => FakeAnswer);

/** The running fake. */
export interface FakeServer {
  /** Base URL, e.g. http://127.0.0.1:43121 */
  readonly url: string;
  /** Every request target received, in order. */
  readonly requests: string[];
  /** Requests received for `target`, or in total. */
  count(target?: string): number;
  route(target: string, route: FakeRoute): void;
  close(): Promise<void>;
}

/** Starts a fake with the given routes (request target → answer). */
export async function startFakeServer(routes: ReadonlyMap<string, FakeRoute> = new Map()): Promise<FakeServer> {
  const table = new Map(routes);
  const requests: string[] = [];
  const seen = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const target = req.url ?? '/';
    requests.push(target);
    const nth = (seen.get(target) ?? 0) + 1;
    seen.set(target, nth);
    const route = table.get(target);
    const answer: FakeAnswer =
      route === undefined ? { status: 404, body: 'Not Found' } : typeof route === 'function' ? route(nth) : route;
    if (answer.hang === true) return;
    const send = (): void => {
      const body = answer.body === undefined ? Buffer.alloc(0) : Buffer.from(answer.body);
      res.writeHead(answer.status ?? 200, { 'content-length': String(body.length), ...answer.headers });
      res.end(body);
    };
    if (answer.delayMs === undefined) send();
    else setTimeout(send, answer.delayMs);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    count: (target) => (target === undefined ? requests.length : requests.filter((r) => r === target).length),
    route: (target, route) => void table.set(target, route),
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}
