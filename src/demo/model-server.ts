/**
 * The demo model server that enclave-gate fronts in the Quick start: an
 * OpenAI-compatible API (models, chat completions, text completions,
 * embeddings) plus `/inference` for the fraud model, on node:http.
 *
 *   node dist/demo/model-server.js [--host 127.0.0.1] [--port 8000] [--socket /path]
 *                                  [--stream-delay 0-5] [--model path] [--quiet]
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { defaultFraudModel, loadFraudModel, type FraudModelFile } from './fraud-model.js';
import { DEFAULT_BODY_LIMIT, HttpError, sendError } from './http-io.js';
import { isMainModule } from './is-main.js';
import { MODEL_ID } from './openai.js';
import { createRng } from './prng.js';
import { resolveRoute, type RouteContext } from './routes.js';

/** Options of `startModelServer`. */
export interface ModelServerOptions {
  /** Interface to bind; default `127.0.0.1`. Ignored with `socketPath`. */
  host?: string;
  /** TCP port; default 8000, 0 picks a free one. Ignored with `socketPath`. */
  port?: number;
  /** Listen on a Unix domain socket instead of TCP. */
  socketPath?: string;
  /** Log one line per request to stdout; default false. */
  log?: boolean;
  /** Pause between streamed chunks, ms: fixed, or drawn from a range. Default 0–5. */
  streamDelayMs?: number | { readonly min: number; readonly max: number };
  /** Request body limit in bytes; default 1 MiB. */
  bodyLimit?: number;
  /** Fraud model to serve; default the committed `fraud-model.json`. */
  model?: FraudModelFile;
  /** How long `close()` waits for in-flight requests before cutting them, ms; default 5000. */
  closeGraceMs?: number;
}

/** A running model server. */
export interface ModelServer {
  /** `http://host:port`, or `unix:/path` for a socket. */
  readonly url: string;
  /** The socket path when listening on a Unix socket. */
  readonly socketPath?: string;
  /** Stops accepting connections and waits for in-flight requests; idempotent. */
  close(): Promise<void>;
}

// Longer than the idle timeout of any sane client pool (undici: 4 s), so the
// proxy, not this server, is always the side that retires an idle connection.
// Otherwise a request can race a server-side close and fail with ECONNRESET.
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

function delaySource(option: ModelServerOptions['streamDelayMs']): () => number {
  const range = typeof option === 'number' ? { min: option, max: option } : (option ?? { min: 0, max: 5 });
  const min = Math.max(0, Math.floor(range.min));
  const max = Math.max(min, Math.floor(range.max));
  if (min === max) return () => min;
  // Seeded, so a streamed response has the same rhythm on every run.
  const rng = createRng(0x5ee);
  return () => min + rng.int(max - min + 1);
}

const isClientGone = (error: unknown): boolean => {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE' || (error as Error | undefined)?.message === 'aborted';
};

/** Starts the demo model server; resolves once it is listening. */
export async function startModelServer(options: ModelServerOptions = {}): Promise<ModelServer> {
  const ctx: RouteContext = {
    model: options.model ?? defaultFraudModel(),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    nextDelayMs: delaySource(options.streamDelayMs),
  };
  const log = options.log ?? false;
  let closing = false;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const method = req.method ?? 'GET';
    // Only the path matters for routing; not parsed with `new URL`, which
    // would read a request target such as `//evil/x` as a host name.
    const pathname = (req.url ?? '/').split('?', 1)[0] ?? '/';
    res.on('close', () => {
      if (log) {
        const ms = (performance.now() - started).toFixed(1);
        const status = res.writableFinished ? String(res.statusCode) : `${res.statusCode} (aborted)`;
        console.log(`${method} ${pathname} ${status} ${ms}ms`);
      }
      // Connections that turn idle during shutdown would otherwise linger
      // until the keep-alive timeout.
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
    try {
      await resolveRoute(method, pathname)(req, res, ctx);
    } catch (error) {
      if (res.headersSent) {
        // Mid-stream failure: the status is already out, so cut the
        // connection rather than let the client take a truncated body as
        // complete.
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        sendError(res, error);
        return;
      }
      if (isClientGone(error)) return;
      console.error(`model server: ${method} ${pathname} failed:`, error);
      sendError(res, new HttpError(500, 'server_error', 'internal error in the demo model server'));
    }
  };

  const server = createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    void handle(req, res);
  });
  // A client that sends `Expect: 100-continue` (curl does for large bodies)
  // waits for permission before uploading. Withholding it for an oversized
  // declared body lets the 413 go out before a single body byte is sent.
  server.on('checkContinue', (req, res) => {
    if (!(Number(req.headers['content-length']) > ctx.bodyLimit)) res.writeContinue();
    void handle(req, res);
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  // Must exceed keepAliveTimeout, or node may drop a connection that is just
  // starting a new request after a long idle spell.
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1000;

  await listen(server, options);
  const address = server.address();
  let url: string;
  if (typeof address === 'string') {
    url = `unix:${address}`;
  } else if (address !== null) {
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    url = `http://${host}:${address.port}`;
  } else {
    throw new Error('model server: no listening address');
  }

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve, reject) => {
      closing = true;
      const force = setTimeout(() => server.closeAllConnections(), options.closeGraceMs ?? 5000);
      force.unref();
      server.close((error) => {
        clearTimeout(force);
        if (error) reject(error);
        else resolve();
      });
      server.closeIdleConnections();
    });
    return closed;
  };

  return options.socketPath === undefined ? { url, close } : { url, socketPath: options.socketPath, close };
}

async function listen(server: ReturnType<typeof createServer>, options: ModelServerOptions): Promise<void> {
  const attempt = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      server.once('error', onError);
      const done = (): void => {
        server.off('error', onError);
        resolve();
      };
      if (options.socketPath !== undefined) server.listen({ path: options.socketPath }, done);
      else server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8000 }, done);
    });
  try {
    await attempt();
  } catch (error) {
    const path = options.socketPath;
    if (path === undefined || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    // A socket file left behind by a killed server blocks the path. Remove it
    // only if it is a socket and nothing answers on it.
    if (!(await isStaleSocket(path))) throw error;
    unlinkSync(path);
    await attempt();
  }
}

async function isStaleSocket(path: string): Promise<boolean> {
  try {
    if (!lstatSync(path).isSocket()) return false;
  } catch {
    return false;
  }
  return new Promise((resolve) => {
    const probe = connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(false);
    });
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

function parseDelay(text: string): { min: number; max: number } {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (match === null) throw new Error('--stream-delay must be N or MIN-MAX (milliseconds)');
  const min = Number(match[1]);
  const max = match[2] === undefined ? min : Number(match[2]);
  if (max < min) throw new Error('--stream-delay: MAX must not be below MIN');
  return { min, max };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8000' },
      socket: { type: 'string' },
      'stream-delay': { type: 'string' },
      model: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error('--port must be 0–65535');
  const server = await startModelServer({
    host: values.host,
    port,
    ...(values.socket !== undefined && { socketPath: values.socket }),
    ...(values['stream-delay'] !== undefined && { streamDelayMs: parseDelay(values['stream-delay']) }),
    ...(values.model !== undefined && { model: loadFraudModel(values.model) }),
    log: !values.quiet,
  });
  console.log(`demo model server (${MODEL_ID}) listening on ${server.url}`);

  const shutdown = (signal: string): void => {
    console.log(`${signal} received, closing`);
    server.close().then(
      () => console.log('closed'),
      (error: unknown) => {
        console.error('close failed:', error);
        process.exitCode = 1;
      },
    );
  };
  // `once`: a second Ctrl-C falls through to node's default and kills the
  // process, for when a stuck stream makes the graceful path too slow.
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (isMainModule(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
