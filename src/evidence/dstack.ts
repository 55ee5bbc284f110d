/**
 * dstack provider: TDX confidential VMs run by Phala's dstack, whose guest
 * agent serves an HTTP API on a unix socket mounted into the container.
 *
 * API, as documented in Dstack-TEE/dstack `sdk/curl/api.md` (checked against
 * the 2026-08 snapshot): `POST /GetQuote` with JSON `{ "report_data": hex }`
 * (at most 64 bytes; the agent zero-pads shorter input) answers
 * `{ "quote": hex, "event_log": string, "report_data": hex, "vm_config": string }`.
 * The constants below are the only place that knows this, so a future API
 * revision is a one-line change.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { stat } from 'node:fs/promises';
import { EVIDENCE_TAG } from '../wire/extension.js';
import { attestationFailed, attestationUnavailable, deviceError, type ErrnoHints } from './device-errors.js';
import type { Evidence, ProbingProvider } from './provider.js';
import { assertEchoed, assertReportData, intelQuoteReportData } from './report-data.js';

/** Where dstack mounts the guest agent socket. */
export const DEFAULT_DSTACK_SOCKET = '/var/run/dstack.sock';

/** The guest agent's quote endpoint (sdk/curl/api.md, "Get Quote"). */
export const DSTACK_GET_QUOTE = {
  method: 'POST',
  path: '/GetQuote',
  /** The agent ignores the host name; the SDKs send this one. */
  host: 'dstack',
  /** Request body for 64 bytes of report data. */
  body: (reportData: Uint8Array): string => JSON.stringify({ report_data: Buffer.from(reportData).toString('hex') }),
} as const;

/** Options for the dstack provider. */
export interface DstackOptions {
  /** Guest agent socket; default /var/run/dstack.sock. */
  readonly socket?: string;
  /** Whole-request timeout; a TDX quote takes ~1 s on stock kernels, so the default is 30 s. */
  readonly timeoutMs?: number;
  /** Largest response accepted (the event log can be large); default 8 MiB. */
  readonly maxResponseBytes?: number;
}

const SOCKET_HINTS: ErrnoHints = {
  ENOENT: {
    code: 'EG_ATTESTATION_UNAVAILABLE',
    hint: 'the dstack guest agent socket is missing: run inside a dstack CVM and mount /var/run/dstack.sock into the container',
  },
  ECONNREFUSED: { code: 'EG_ATTESTATION_UNAVAILABLE', hint: 'the socket exists but nothing listens: is the dstack guest agent running?' },
  EACCES: { code: 'EG_ATTESTATION_FAILED', hint: 'permission denied on the socket: give enclave-gate\'s user access to it' },
  ENOTSOCK: { code: 'EG_ATTESTATION_UNAVAILABLE', hint: 'the path is not a unix socket' },
};

interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

/** One HTTP request over the unix socket, with a deadline and a body cap. */
function callAgent(socketPath: string, body: string, timeoutMs: number, maxBytes: number): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({
      socketPath,
      method: DSTACK_GET_QUOTE.method,
      path: DSTACK_GET_QUOTE.path,
      headers: { host: DSTACK_GET_QUOTE.host, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > maxBytes) {
          req.destroy(Object.assign(new Error(`response exceeds ${maxBytes} bytes`), { code: 'EFBIG' }));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    req.end(body);
  });
}

/** The agent's `{ "error": "…" }` text, trimmed for a log line. */
function agentError(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { error?: unknown }).error === 'string') {
      return (parsed as { error: string }).error.slice(0, 200);
    }
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return body.slice(0, 200).split('\n', 1)[0] ?? '';
}

/** Extracts the quote bytes from a GetQuote answer. */
function parseQuote(body: string): Uint8Array {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (cause) {
    throw attestationFailed('dstack', 'GetQuote answered with something that is not JSON', {}, cause);
  }
  const quote = typeof parsed === 'object' && parsed !== null ? (parsed as { quote?: unknown }).quote : undefined;
  if (typeof quote !== 'string') throw attestationFailed('dstack', 'GetQuote answer has no "quote" string');
  const hex = quote.startsWith('0x') ? quote.slice(2) : quote;
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) throw attestationFailed('dstack', 'GetQuote "quote" is not hex');
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Creates the dstack provider. Nothing touches the socket until the first call. */
export function createDstackProvider(options: DstackOptions = {}): ProbingProvider {
  const socket = options.socket ?? DEFAULT_DSTACK_SOCKET;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxBytes = options.maxResponseBytes ?? 8 * 1024 * 1024;

  return {
    name: 'dstack',
    platform: 'tdx',
    insecure: false,
    async probe() {
      let isSocket: boolean;
      try {
        isSocket = (await stat(socket)).isSocket();
      } catch (cause) {
        throw deviceError('dstack', 'stat', socket, cause, SOCKET_HINTS);
      }
      if (!isSocket) throw attestationUnavailable('dstack', `${socket} is not a unix socket`, { path: socket });
      // Connecting (without a request) tells a live agent from a stale socket file, without costing a quote.
      await new Promise<void>((resolve, reject) => {
        const conn = connect({ path: socket });
        const timer = setTimeout(() => conn.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), 2_000);
        conn.once('connect', () => {
          clearTimeout(timer);
          conn.end();
          resolve();
        });
        conn.once('error', (cause) => {
          clearTimeout(timer);
          reject(deviceError('dstack', 'connect to', socket, cause, SOCKET_HINTS));
        });
      });
    },
    async getEvidence(reportData: Uint8Array): Promise<Evidence> {
      assertReportData('dstack', reportData);
      let answer: HttpAnswer;
      try {
        answer = await callAgent(socket, DSTACK_GET_QUOTE.body(reportData), timeoutMs, maxBytes);
      } catch (cause) {
        throw deviceError('dstack', `POST ${DSTACK_GET_QUOTE.path} on`, socket, cause, {
          ...SOCKET_HINTS,
          ETIMEDOUT: { code: 'EG_ATTESTATION_FAILED', hint: `the guest agent did not answer within ${timeoutMs} ms` },
          EFBIG: { code: 'EG_ATTESTATION_FAILED', hint: `the answer exceeds ${maxBytes} bytes` },
        });
      }
      if (answer.status !== 200) {
        throw attestationFailed('dstack', `GetQuote answered HTTP ${answer.status}: ${agentError(answer.body)}`, { status: answer.status });
      }
      const quote = parseQuote(answer.body);
      assertEchoed('dstack', intelQuoteReportData(quote), { platform: 'tdx', reportData }, 'quote');
      return { tag: EVIDENCE_TAG.intelQuote, evidence: quote };
    },
  };
}
