/**
 * Path normalisation against path rules: a denied path stays denied under
 * every spelling. The proxy forwards the request target byte for byte, so what
 * the policy matched is what the model server gets; spellings a server could
 * read as another path are refused before the policy (EG_AMBIGUOUS_PATH).
 *
 * Two policies are attacked: the default allowlist (rego/policy), and a
 * deliberately naive denylist ("deny paths starting with /admin") in front of
 * a lenient model server that normalises paths the way many servers do
 * (percent-decoding, `\` as `/`, NFKC, dot segments, `//`). The denylist only
 * holds because the proxy refuses the ambiguous spellings; without the guard
 * the second case fails.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../../../src/policy/engine.js';
import { defaultOpaPath } from '../../../src/util/package-root.js';
import { exchange, head } from '../../helpers/raw-http.js';
import { startTestGateway } from '../../helpers/gateway.js';
import type { Gateway } from '../../../src/proxy/gateway.js';
import { expectStillServing, LIMITS, startFixture, upstreamPaths, type Fixture } from './fixture.js';

const SECRET = '{"rows":[{"email":"alice@example.com"}]}';

let allowlist: Fixture;
let denylist: Gateway;
let lenient: Server;
const lenientSaw: string[] = [];
let scratch: string;

/** How a lenient server might read a path: decode (twice), `\` → `/`, NFKC, collapse `//`, resolve dot segments. */
function lenientPath(target: string): string {
  let path = target.split(/[?#;]/, 1)[0]!;
  for (let i = 0; i < 2; i++) {
    try {
      path = decodeURIComponent(path);
    } catch {
      break;
    }
  }
  path = path.replace(/\\/g, '/').normalize('NFKC').replace(/\/+/g, '/').split('\u0000', 1)[0]!;
  return new URL(path, 'http://lenient').pathname.replace(/\/+$/, '') || '/';
}

beforeAll(async () => {
  allowlist = await startFixture();
  scratch = await mkdtemp(join(tmpdir(), 'enclave-gate-paths-'));
  await writeFile(
    join(scratch, 'request.rego'),
    [
      'package enclave_gate.request',
      '',
      'default decision := {"allow": true, "reasons": []}',
      '',
      'decision := {"allow": false, "reasons": ["admin"]} if startswith(input.path, "/admin")',
      '',
    ].join('\n'),
  );
  await writeFile(join(scratch, 'response.rego'), 'package enclave_gate.response\n\ndecision := {"allow": true, "reasons": []}\n');
  const naive = await loadPolicy(scratch, { opaPath: defaultOpaPath() });
  lenient = createServer((req, res) => {
    lenientSaw.push(req.url ?? '');
    const path = lenientPath(req.url ?? '/');
    const secret = path === '/admin' || path.startsWith('/admin/');
    res.writeHead(secret ? 200 : 404, { 'content-type': 'application/json' }).end(secret ? SECRET : '{"error":"no route"}');
  });
  lenient.listen(0, '127.0.0.1');
  await once(lenient, 'listening');
  denylist = await startTestGateway(`http://127.0.0.1:${(lenient.address() as AddressInfo).port}`, { limits: LIMITS }, { policy: naive });
  allowlist.upstream.route('/raw_customer_data', (_req, _body, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(SECRET));
});

afterAll(async () => {
  await allowlist?.close();
  await denylist?.close();
  lenient?.closeAllConnections();
  await new Promise<void>((resolve) => (lenient ? lenient.close(() => resolve()) : resolve()));
  await rm(scratch, { recursive: true, force: true });
});

/** Spellings that could reach the denied resource on some server; each must be refused or denied, never forwarded. */
function spellings(denied: string, allowedPrefix: string): string[] {
  const name = denied.slice(1);
  const first = name[0]!;
  const hex = first.charCodeAt(0).toString(16);
  return [
    denied,
    `/${denied}`,
    `//${name}`,
    `/.${denied}`,
    `/./${name}`,
    `${denied}/.`,
    `/x/..${denied}`,
    `${allowedPrefix}/../..${denied}`,
    `${allowedPrefix}/%2e%2e/%2e%2e${denied}`,
    `${allowedPrefix}/%2E%2E/%2E%2E${denied}`,
    `${allowedPrefix}/..%2f..%2f${name}`,
    `${allowedPrefix}/..%2F..%2F${name}`,
    `${allowedPrefix}/..%5c..%5c${name}`,
    `${allowedPrefix}/%252e%252e/%252e%252e${denied}`,
    `${allowedPrefix}/%c0%ae%c0%ae/%c0%ae%c0%ae${denied}`,
    `${allowedPrefix}\\..\\..${denied.replace('/', '\\')}`,
    `/%${hex}${name.slice(1)}`,
    `/%${hex.toUpperCase()}${name.slice(1)}`,
    `${denied}%00`,
    `${denied}%2f`,
    `${denied}#x`,
    `${denied}.`,
    `${denied}..`,
    `${denied}...`,
    `${denied}/..`,
    `/${first.toUpperCase()}${name.slice(1)}`,
    denied.toUpperCase(),
    `${denied};x=1`,
    `${denied}/`,
    `${denied}?q=1`,
    `${denied}%20`,
    `/%ef%bc%8e%ef%bc%8e${denied}`,
    `${allowedPrefix}/%ef%bc%8e%ef%bc%8e/%ef%bc%8e%ef%bc%8e${denied}`,
    `${allowedPrefix}/..%e2%88%95..%e2%88%95${name}`,
  ];
}

interface Outcome {
  readonly target: string;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly forwarded: string[];
}

async function attempt(fx: Fixture, target: string): Promise<Outcome> {
  const before = fx.upstream.received.length;
  const result = await exchange(fx.gateway, head(`GET ${target} HTTP/1.1`, ['Connection: close']));
  const response = result.responses[0];
  return { target, status: response?.status, code: response?.code, forwarded: upstreamPaths(fx.upstream, before) };
}

/** Figures for docs/security.md: spellings tried and held, per policy. */
const tally = { tried: 0, held: 0 };

describe('a denied path stays denied under every spelling', () => {
  it('default allowlist policy: /raw_customer_data', async () => {
    const outcomes: Outcome[] = [];
    for (const target of spellings('/raw_customer_data', '/v1/models')) outcomes.push(await attempt(allowlist, target));
    for (const o of outcomes) {
      tally.tried++;
      // Refused as ambiguous (before policy), refused by node's parser, or denied by the policy; never forwarded.
      expect([['EG_AMBIGUOUS_PATH', 400], ['EG_BAD_REQUEST', 400], ['EG_POLICY_DENIED', 403]], o.target).toContainEqual([o.code, o.status]);
      expect(o.forwarded, o.target).toEqual([]);
      tally.held++;
    }
    // The separator and dot tricks are stopped by the proxy itself, not left to the policy's regex.
    const byGuard = outcomes.filter((o) => o.code === 'EG_AMBIGUOUS_PATH').map((o) => o.target);
    expect(byGuard).toEqual(expect.arrayContaining(['//raw_customer_data', '/v1/models/../../raw_customer_data', '/v1/models/..%2f..%2fraw_customer_data']));
    await expectStillServing(allowlist.gateway);
  });

  it('naive denylist policy (deny "/admin*") before a lenient server: no alias of /admin reaches it', async () => {
    for (const denied of ['/admin', '/admin/users']) {
      for (const target of spellings(denied, '/v1/models')) {
        const before = lenientSaw.length;
        const result = await exchange(denylist, head(`GET ${target} HTTP/1.1`, ['Connection: close']));
        const response = result.responses[0];
        tally.tried++;
        // Whatever was forwarded went byte for byte, and the lenient server did not read it as /admin.
        const forwarded = lenientSaw.slice(before);
        for (const seen of forwarded) expect(seen, target).toBe(target);
        expect(response?.body.toString('utf8') ?? '', target).not.toContain('alice@example.com');
        if (forwarded.length === 0) {
          expect([['EG_AMBIGUOUS_PATH', 400], ['EG_BAD_REQUEST', 400], ['EG_POLICY_DENIED', 403]], target).toContainEqual([response?.code, response?.status]);
        } else {
          // Case is not folded by the lenient server (nor by the proxy): /ADMIN is another path.
          expect(response?.status, target).toBe(404);
        }
        tally.held++;
      }
    }
    const ok = await exchange(denylist, head('GET /v1/models HTTP/1.1', ['Connection: close']));
    expect(ok.responses.map((r) => r.status)).toEqual([404]);
  });

  it('keeps ordinary paths working: model names with dots, dashes, colons and slashes', async () => {
    for (const target of ['/v1/models', '/v1/models/gpt-3.5-turbo', '/v1/models/llama3:8b', '/v1/models/meta-llama/Llama-3-8B', '/v1/models?limit=10&x=%2F']) {
      const o = await attempt(allowlist, target);
      expect(o.code, target).toBeUndefined();
      expect(o.forwarded, target).toEqual([target]);
    }
  });

  afterAll(() => {
    // Printed for docs/security.md's figures.
    console.log(`path spellings: ${tally.held}/${tally.tried} held`);
  });
});
