/**
 * A stand-in for Azure's instance metadata service on loopback: THIM
 * (`GET /metadata/THIM/amd/certification` → `{vcekCert, certificateChain,
 * tcbm}`, PEM) and the TD quote service (`POST /acc/tdquote` `{report}` →
 * `{quote}`, base64url), both requiring the `Metadata: true` header as IMDS
 * does. It serves real certificates and quotes from the vectors.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeImdsOptions {
  readonly vcekPem?: string;
  readonly chainPem?: string;
  readonly tdQuote?: Uint8Array;
  /** HTTP status to answer every request with instead. */
  readonly failWith?: number;
}

export interface FakeImds {
  readonly url: string;
  readonly requests: { readonly method: string; readonly path: string; readonly body: string }[];
  close(): Promise<void>;
}

export async function startFakeImds(options: FakeImdsOptions): Promise<FakeImds> {
  const requests: { method: string; path: string; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', body });
      const answer = (status: number, json: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      if (options.failWith !== undefined) return answer(options.failWith, { error: 'unavailable' });
      if (req.headers['metadata'] !== 'true') return answer(400, { error: 'Required metadata header not specified' });
      if (req.method === 'GET' && req.url === '/metadata/THIM/amd/certification' && options.vcekPem !== undefined) {
        return answer(200, { vcekCert: options.vcekPem, certificateChain: options.chainPem ?? '', tcbm: '5417000000000010' });
      }
      if (req.method === 'POST' && req.url === '/acc/tdquote' && options.tdQuote !== undefined) {
        return answer(200, { quote: Buffer.from(options.tdQuote).toString('base64url') });
      }
      answer(404, { error: 'not found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
