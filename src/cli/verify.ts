/**
 * `enclave-gate verify`: verifies a live server's RA-TLS certificate, a
 * certificate file, or a raw evidence file, prints the transcript, and exits
 * with the code of the first failed check's class (docs/verify.md).
 *
 * This is the one place the verifier reads the wall clock (`--at` defaults to
 * now); the library always takes the instant as an argument.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { parseArgs } from 'node:util';
import { EXIT, VerifyError, describeThrown } from '../errors.js';
import { loadAppraisalPolicy, type AppraisalPolicy } from '../verify/appraisal-policy.js';
import { readTarGz } from '../policy/tar.js';
import { verifyCertificate, verifyFreshAttestation } from '../verify/certificate.js';
import { exchangeFreshness, type FreshExchange } from '../verify/fresh-client.js';
import { PLATFORMS, verifyEvidence } from '../verify/evidence.js';
import type { IntelCollateral } from '../verify/intel/index.js';
import { parseReferenceValues, type ReferenceValues } from '../verify/reference-values.js';
import { SNP_PRODUCTS, type SnpEndorsements, type SnpProduct } from '../verify/sev-snp/index.js';
import { Transcript, type Platform } from '../verify/types.js';
import { failureVerdict, formatVerdict, verdictExitCode, verdictJson, type Verdict } from '../verify/verdict.js';

/** Where the command writes; tests pass their own. */
export interface VerifyIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const PROCESS_IO: VerifyIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export const VERIFY_USAGE = `Usage:
  enclave-gate verify https://HOST:PORT [options]
  enclave-gate verify --cert FILE.pem|FILE.der [options]
  enclave-gate verify --evidence FILE --platform sev-snp|tdx|sgx|nitro|azure-sev-snp|azure-tdx|nvidia-gpu|simulated [options]

Options:
  --reference-values FILE   JSON reference values (docs/verify.md)
  --appraisal-policy FILE   Rego appraisal policy: an opa build -t wasm bundle (.tar.gz) or its policy.wasm;
                            it must return {"allow": true} for the verified result (docs/verify.md)
  --appraisal-entrypoint E  entrypoint of the appraisal policy (needed when it has more than one)
  --allow-simulated         accept simulated evidence (development only)
  --allow-debug             accept debug TEEs
  --at ISO-8601             validation instant (default: now)
  --json                    print the verdict as JSON
  --endorsements FILE ...   SEV-SNP: the VCEK/VLEK, then the ASK/ARK PEM bundle (repeatable);
                            azure-sev-snp: the ASK/ARK bundle (the VCEK is usually in the evidence)
  --collateral FILE         TDX/SGX/azure-tdx: collateral JSON (dcap-qvl QuoteCollateralV3 or Intel PCS shape)
  --product P               SEV-SNP: milan, genoa or turin (v2 reports)
  --allow-trailing-data     TDX/SGX: accept unsigned bytes after the quote (refused by default)
  --fresh                   https:// targets: also fetch fresh evidence over the same connection
                            (GET /.well-known/attestation) bound to a new nonce and the TLS session
  --timeout MS              connection timeout for https:// targets (default 10000)
  --save-cert FILE          https:// and --cert: write the verified certificate (PEM) to FILE, only when
                            every check passed, for clients that pin it (docs/clients.md)

Exit codes: 0 verified; 1 usage; 2 parse; 3 signature; 4 chain; 5 validity;
6 revoked; 7 binding; 8 TCB; 9 reference values, debug or simulated; 10 connect.
`;

const OPTIONS = {
  cert: { type: 'string' },
  evidence: { type: 'string' },
  platform: { type: 'string' },
  endorsements: { type: 'string', multiple: true },
  collateral: { type: 'string' },
  product: { type: 'string' },
  'reference-values': { type: 'string' },
  'allow-simulated': { type: 'boolean' },
  'allow-debug': { type: 'boolean' },
  at: { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  fresh: { type: 'boolean' },
  'appraisal-policy': { type: 'string' },
  'appraisal-entrypoint': { type: 'string' },
  'allow-trailing-data': { type: 'boolean' },
  'save-cert': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(message: string): never {
  throw new VerifyError('EG_VERIFY_USAGE', message);
}

function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_USAGE', `cannot read ${what} ${path}: ${describeThrown(cause)}`, { cause });
  }
}

/** True when every byte is printable ASCII or whitespace, i.e. the file is text. */
function isText(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d);
}

/**
 * Evidence files come as raw bytes, or as hex or base64 text (the Nitro
 * `.b64` vectors, `virtee-*.hex`). Binary evidence is never all printable
 * ASCII (SNP reports, Intel quotes and CBOR documents all hold small and
 * high bytes), so text is decoded and binary is taken as is.
 */
export function decodeEvidenceFile(bytes: Uint8Array): Uint8Array {
  if (!isText(bytes)) return bytes;
  const text = Buffer.from(bytes).toString('latin1').replace(/\s+/g, '');
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text)) return new Uint8Array(Buffer.from(text, 'hex'));
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return new Uint8Array(Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64'));
  return bytes;
}

function parseAt(text: string | undefined): Date {
  if (text === undefined) return new Date();
  const at = new Date(text);
  if (Number.isNaN(at.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(text)) usage(`--at must be an ISO-8601 instant, got "${text}"`);
  return at;
}

function loadReferenceValues(path: string | undefined): ReferenceValues | undefined {
  if (path === undefined) return undefined;
  return parseReferenceValues(readInput(path, 'reference values').toString('utf8'));
}

function loadEndorsements(paths: readonly string[] | undefined): SnpEndorsements | undefined {
  if (paths === undefined || paths.length === 0) return undefined;
  const [vek, ...chain] = paths.map((p) => new Uint8Array(readInput(p, 'endorsements')));
  return { vek: vek!, ...(chain.length === 0 ? {} : { chain }) };
}

function loadCollateral(path: string | undefined): IntelCollateral | undefined {
  if (path === undefined) return undefined;
  const text = readInput(path, 'collateral').toString('utf8');
  try {
    return JSON.parse(text) as IntelCollateral;
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_USAGE', `collateral ${path} is not JSON: ${describeThrown(cause)}`, { cause });
  }
}

/** Reads an appraisal policy: a bundle's /policy.wasm, or a bare .wasm module. */
async function loadAppraisal(path: string | undefined, entrypoint: string | undefined): Promise<AppraisalPolicy | undefined> {
  if (path === undefined) {
    if (entrypoint !== undefined) usage('--appraisal-entrypoint needs --appraisal-policy');
    return undefined;
  }
  const bytes = readInput(path, 'appraisal policy');
  let wasm: Uint8Array = bytes;
  if (/\.(tar\.gz|tgz)$/.test(path)) {
    let files: ReadonlyMap<string, Uint8Array>;
    try {
      files = readTarGz(bytes);
    } catch (cause) {
      throw new VerifyError('EG_VERIFY_USAGE', `--appraisal-policy ${path} is not a readable bundle`, { cause });
    }
    const found = files.get('/policy.wasm');
    if (found === undefined) usage(`--appraisal-policy ${path} has no /policy.wasm (build it with opa build -t wasm)`);
    wasm = found;
  }
  return loadAppraisalPolicy(wasm, entrypoint);
}

function connectFailure(detail: string): Verdict {
  const transcript = new Transcript();
  transcript.fail('connect', 'EG_VERIFY_CONNECT', detail);
  return failureVerdict(new VerifyError('EG_VERIFY_CONNECT', detail), transcript);
}

/** What one connection yielded: the peer certificate and, with --fresh, the freshness exchange made over it. */
interface Peer {
  readonly cert: Uint8Array;
  readonly fresh?: FreshExchange;
}

/**
 * Connects with TLS (no CA check: trust comes from the evidence) and returns
 * the peer certificate's DER; with `fresh`, also runs the freshness exchange
 * on that same connection, so its answer is bound to the session whose
 * certificate is verified.
 */
function fetchPeerCertificate(target: URL, timeoutMs: number, fresh: boolean): Promise<Peer | Verdict> {
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const port = target.port === '' ? 443 : Number(target.port);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (value: Peer | Verdict): void => {
      if (settled) return;
      settled = true;
      resolve(value);
    };
    const socket = tlsConnect({
      host,
      port,
      ...(isIP(host) === 0 ? { servername: host } : {}),
      rejectUnauthorized: false,
      // Nothing but the optional freshness request is sent over this connection.
      ALPNProtocols: ['http/1.1'],
    });
    socket.setTimeout(timeoutMs, () => {
      finish(connectFailure(`no TLS handshake with ${host}:${port} within ${timeoutMs} ms`));
      socket.destroy();
    });
    socket.once('secureConnect', () => {
      const raw = socket.getPeerCertificate(true)?.raw;
      if (raw === undefined || raw.length === 0) {
        socket.end();
        finish(connectFailure(`${host}:${port} presented no certificate`));
        return;
      }
      const cert = new Uint8Array(raw);
      if (!fresh) {
        socket.end();
        finish({ cert });
        return;
      }
      exchangeFreshness(socket, `${target.host}`, timeoutMs).then(
        (exchange) => {
          socket.end();
          finish({ cert, fresh: exchange });
        },
        (error: unknown) => {
          socket.destroy();
          const verdict = failureVerdict(error, new Transcript());
          finish(verdict);
        },
      );
    });
    socket.once('error', (error) => {
      finish(connectFailure(`could not connect to ${host}:${port}: ${describeThrown(error)}`));
    });
  });
}

interface Parsed {
  readonly values: {
    cert?: string;
    evidence?: string;
    platform?: string;
    endorsements?: string[];
    collateral?: string;
    product?: string;
    'reference-values'?: string;
    'allow-simulated'?: boolean;
    'allow-debug'?: boolean;
    at?: string;
    json?: boolean;
    timeout?: string;
    fresh?: boolean;
    'appraisal-policy'?: string;
    'appraisal-entrypoint'?: string;
    'allow-trailing-data'?: boolean;
    'save-cert'?: string;
    help?: boolean;
  };
  readonly positionals: string[];
}

/** A verdict, and the certificate it is about when one was verified (for --save-cert). */
interface Outcome {
  readonly verdict: Verdict;
  readonly cert?: Uint8Array;
}

async function run(parsed: Parsed): Promise<Outcome> {
  const { values, positionals } = parsed;
  const modes = [positionals.length > 0, values.cert !== undefined, values.evidence !== undefined].filter(Boolean).length;
  if (modes !== 1 || positionals.length > 1) usage('give exactly one of: an https:// URL, --cert FILE, --evidence FILE');
  if (values.product !== undefined && !(SNP_PRODUCTS as readonly string[]).includes(values.product)) {
    usage(`--product must be one of ${SNP_PRODUCTS.join(', ')}`);
  }
  const at = parseAt(values.at);
  const referenceValues = loadReferenceValues(values['reference-values']);
  const endorsements = loadEndorsements(values.endorsements);
  const collateral = loadCollateral(values.collateral);
  const appraisalPolicy = await loadAppraisal(values['appraisal-policy'], values['appraisal-entrypoint']);
  const common = {
    ...(appraisalPolicy === undefined ? {} : { appraisalPolicy }),
    at,
    ...(referenceValues === undefined ? {} : { referenceValues }),
    ...(endorsements === undefined ? {} : { endorsements }),
    ...(collateral === undefined ? {} : { collateral }),
    ...(values.product === undefined ? {} : { product: values.product as SnpProduct }),
    allowSimulated: values['allow-simulated'] === true,
    allowDebug: values['allow-debug'] === true,
    allowTrailingData: values['allow-trailing-data'] === true,
  };

  if (values.evidence !== undefined) {
    if (values.platform === undefined || !(PLATFORMS as readonly string[]).includes(values.platform)) {
      usage(`--evidence needs --platform ${PLATFORMS.join('|')}`);
    }
    if (values['save-cert'] !== undefined) usage('--save-cert needs an https:// URL or --cert');
    const evidence = decodeEvidenceFile(new Uint8Array(readInput(values.evidence, 'evidence')));
    return { verdict: verifyEvidence({ ...common, platform: values.platform as Platform, evidence }) };
  }
  if (values.platform !== undefined) usage('--platform applies to --evidence only');
  if (values.cert !== undefined) {
    const cert = new Uint8Array(readInput(values.cert, 'certificate'));
    return { verdict: verifyCertificate(cert, common), cert };
  }

  let target: URL;
  try {
    target = new URL(positionals[0]!);
  } catch {
    return usage(`"${positionals[0]}" is not a URL; expected https://HOST:PORT`);
  }
  if (target.protocol !== 'https:') usage(`only https:// URLs can be verified, got ${target.protocol}`);
  const timeout = values.timeout === undefined ? 10_000 : Number(values.timeout);
  if (!Number.isInteger(timeout) || timeout <= 0) usage('--timeout must be a positive number of milliseconds');
  const peer = await fetchPeerCertificate(target, timeout, values.fresh === true);
  if (!('cert' in peer)) return { verdict: peer };
  const verdict = verifyCertificate(peer.cert, common);
  if (!verdict.ok || peer.fresh === undefined) return { verdict, cert: peer.cert };
  const fresh = verifyFreshAttestation(peer.fresh.answer, { ...common, certificate: peer.cert, nonce: peer.fresh.nonce, tlsExporter: peer.fresh.tlsExporter });
  // One transcript: the certificate's checks, then the fresh answer's.
  return { verdict: { ...fresh, steps: [...verdict.steps, ...fresh.steps] }, cert: peer.cert };
}

/**
 * Writes the certificate that was just verified, as PEM. Only a passing
 * verdict gets here, so a client that pins this file pins exactly what the
 * evidence vouched for (no second connection that could meet another key).
 */
function saveCertificate(path: string, cert: Uint8Array): void {
  try {
    writeFileSync(path, new X509Certificate(cert).toString(), { mode: 0o644 });
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_USAGE', `cannot write --save-cert ${path}: ${describeThrown(cause)}`, { cause });
  }
}

/**
 * Runs `enclave-gate verify` with `argv` (the arguments after `verify`) and
 * returns the exit code: 0 only when every check passed, 1 for usage errors,
 * otherwise the EXIT class of the first failure's code.
 */
export async function verify(argv: string[], io: VerifyIo = PROCESS_IO): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true }) as Parsed;
  } catch (error) {
    io.stderr(`enclave-gate verify: ${describeThrown(error).replace(/^TypeError[^:]*: /, '')}\n\n${VERIFY_USAGE}`);
    return EXIT.usage;
  }
  if (parsed.values.help === true) {
    io.stdout(VERIFY_USAGE);
    return EXIT.ok;
  }
  let verdict: Verdict;
  try {
    const outcome = await run(parsed);
    verdict = outcome.verdict;
    const savePath = parsed.values['save-cert'];
    if (verdict.ok && savePath !== undefined && outcome.cert !== undefined) saveCertificate(savePath, outcome.cert);
  } catch (error) {
    verdict = failureVerdict(error, new Transcript());
    if (verdict.code === 'EG_VERIFY_USAGE' && parsed.values.json !== true) {
      io.stderr(`enclave-gate verify: ${verdict.message ?? 'invalid arguments'}\n\n${VERIFY_USAGE}`);
      return EXIT.usage;
    }
  }
  io.stdout(parsed.values.json === true ? `${JSON.stringify(verdictJson(verdict), null, 2)}\n` : formatVerdict(verdict));
  return verdictExitCode(verdict);
}
