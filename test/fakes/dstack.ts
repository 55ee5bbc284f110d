/**
 * A stand-in for the dstack guest agent: node:http on a unix socket in a
 * temporary directory, answering POST /GetQuote as the agent documents it
 * (Dstack-TEE/dstack sdk/curl/api.md).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One request the fake saw. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

/** How the fake agent answers. */
export interface FakeDstackOptions {
  /** Quote returned (hex-encoded) by /GetQuote. */
  readonly quote?: Uint8Array;
  /** Overrides the whole answer: status and raw body. */
  readonly answer?: { readonly status: number; readonly body: string };
  /** Delay before answering. */
  readonly delayMs?: number;
}

/** A running fake agent. */
export interface FakeDstack {
  readonly socket: string;
  readonly requests: SeenRequest[];
  close(): Promise<void>;
}

/** Starts the fake agent. */
export async function startFakeDstack(options: FakeDstackOptions): Promise<FakeDstack> {
  const dir = await mkdtemp(join(tmpdir(), 'eg-fake-dstack-'));
  const socket = join(dir, 'dstack.sock');
  const requests: SeenRequest[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? '', path: req.url ?? '', body });
      const reply = (): void => {
        if (options.answer !== undefined) {
          res.writeHead(options.answer.status, { 'content-type': 'application/json' }).end(options.answer.body);
          return;
        }
        if (req.method !== 'POST' || req.url !== '/GetQuote') {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
          return;
        }
        const reportData = (JSON.parse(body) as { report_data: string }).report_data;
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            quote: Buffer.from(options.quote ?? new Uint8Array(0)).toString('hex'),
            event_log: '[]',
            report_data: reportData,
            vm_config: '{}',
          }),
        );
      };
      if (options.delayMs === undefined) reply();
      else setTimeout(reply, options.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
