/**
 * A real HTTP upstream for integration tests: it records exactly what reached
 * it (method, path, headers, raw body bytes) and answers per route as the
 * test tells it to, including slow and streaming answers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

export type Route = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void | Promise<void>;

export interface TestUpstream {
  readonly url: string;
  readonly port: number;
  readonly received: RecordedRequest[];
  route(path: string, handler: Route): void;
  close(): Promise<void>;
}

/** Starts a recording upstream on 127.0.0.1 with a random port. */
export async function startUpstream(): Promise<TestUpstream> {
  const routes = new Map<string, Route>();
  const received: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const handler = routes.get((req.url ?? '/').split('?')[0]!);
      if (!handler) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no route"}');
        return;
      }
      Promise.resolve(handler(req, body, res)).catch(() => res.destroy());
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    route: (path, handler) => void routes.set(path, handler),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A free TCP port on 127.0.0.1 with nothing listening (for "upstream down"). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
