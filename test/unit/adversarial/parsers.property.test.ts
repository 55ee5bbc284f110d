/**
 * Every parser of untrusted bytes, under one reproducible property harness
 * (test/helpers/property.ts: fixed seeds plus one random seed per run, FC_SEED
 * to replay): whatever arrives, the parser returns or throws its own typed
 * error — never a TypeError, RangeError or anything else — and the work it
 * does is bounded, counted in steps (items produced, bytes kept) rather than
 * wall time. Inputs are mutations of real, valid inputs (hardware vectors, a
 * real bundle, real claims) so they reach deep into each parser.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { EnclaveGateError, ERRORS, VerifyError } from '../../../src/errors.js';
import { loadConfig } from '../../../src/config/index.js';
import { readTarGz, readTar, DEFAULT_MAX_ENTRIES } from '../../../src/policy/tar.js';
import { LineSplitter, LineTooLongError } from '../../../src/proxy/stream/lines.js';
import { NdjsonParser } from '../../../src/proxy/stream/ndjson.js';
import { SseParser, StreamSyntaxError } from '../../../src/proxy/stream/sse.js';
import { decodeStapledIntelCollateral, decodeStapledSnpEndorsements, encodeStapledEndorsements } from '../../../src/verify/certificate.js';
import { verifyCertificate } from '../../../src/verify/index.js';
import { parseIntelQuote } from '../../../src/verify/intel/parse.js';
import { parseNitroDocument } from '../../../src/verify/nitro/parse.js';
import { parseReferenceValues } from '../../../src/verify/reference-values.js';
import { parseVekExtensions } from '../../../src/verify/sev-snp/certs.js';
import { parseSnpReport } from '../../../src/verify/sev-snp/parse.js';
import { parseCertificate } from '../../../src/verify/x509.js';
import { decodeClaims, encodeClaims } from '../../../src/wire/claims.js';
import { decodeCmwExtension, decodeTaggedEvidence, EVIDENCE_TAG, encodeCmwExtension, encodeTaggedEvidence } from '../../../src/wire/extension.js';
import { decodeFreshnessAnswer, parseNonceQuery } from '../../../src/wire/freshness.js';
import { decodeSimulatedEvidence } from '../../../src/wire/simulated-evidence.js';
import { ensurePolicyBundle } from '../../helpers/gateway.js';
import { checkProperty, mutationsOf, propertySeeds, propertyTally } from '../../helpers/property.js';
import { vector } from '../../helpers/vectors.js';

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs `fn`; passes when it returns or throws one of `allowed`; any other
 * exception fails the property (and is rethrown so fast-check shrinks it).
 */
function typedOnly(fn: () => unknown, allowed: readonly ErrorClass[] = [VerifyError]): 'ok' | 'refused' {
  try {
    fn();
    return 'ok';
  } catch (error) {
    if (allowed.some((cls) => error instanceof cls)) {
      if (error instanceof EnclaveGateError) expect(ERRORS[error.code]).toBeDefined();
      return 'refused';
    }
    throw error;
  }
}

const bytes = (path: string): Uint8Array => new Uint8Array(vector(path));

/**
 * Work a parse result stands for, counted in steps: one per object, array
 * element or map entry, plus the length of every byte array and string.
 * A parser that amplifies its input (a length field taken at its word, a
 * loop that repeats) shows up here as a count out of proportion to the input.
 */
function resultSteps(value: unknown, seen = new Set<unknown>()): number {
  if (value === null || typeof value !== 'object') return typeof value === 'string' ? value.length + 1 : 1;
  if (seen.has(value)) return 1;
  seen.add(value);
  if (ArrayBuffer.isView(value)) return value.byteLength + 1;
  if (value instanceof Map) {
    let n = 1;
    for (const [k, v] of value) n += resultSteps(k, seen) + resultSteps(v, seen);
    return n;
  }
  // X509Certificate and similar wrappers: their DER is already counted in the input bound.
  if (!Array.isArray(value) && Object.getPrototypeOf(value) !== Object.prototype) return 1;
  let n = 1;
  for (const v of Object.values(value as Record<string, unknown>)) n += resultSteps(v, seen);
  return n;
}

/** Parses, allowing only `allowed` errors; a result must cost at most a few steps per input byte. */
function parsesBounded(parse: () => unknown, inputLength: number, allowed: readonly ErrorClass[] = [VerifyError]): void {
  let result: unknown;
  if (typedOnly(() => (result = parse()), allowed) === 'ok') expect(resultSteps(result)).toBeLessThanOrEqual(4 * inputLength + 2000);
}

describe('evidence parsers (mutations of real hardware evidence)', () => {
  it.each([
    ['SEV-SNP report', 'sev-snp/gosev-milan-report.bin', (b: Uint8Array) => parseSnpReport(b)],
    ['SEV-SNP report (Genoa)', 'sev-snp/trustee-genoa-report.bin', (b: Uint8Array) => parseSnpReport(b)],
    // The seed must parse, or the mutations only exercise error paths (this vector has trailing bytes).
    ['TDX v4 quote', 'tdx/gotdx-v4-spr-e4-quote.dat', (b: Uint8Array) => parseIntelQuote(b, { allowTrailingData: true })],
    ['TDX v4 quote (no trailing data)', 'tdx/trustee-v4-quote.dat', (b: Uint8Array) => parseIntelQuote(b)],
    ['TDX v5 quote', 'tdx/gotdx-v5-quote.dat', (b: Uint8Array) => parseIntelQuote(b)],
    ['SGX v3 quote', 'sgx/phala-v3-quote.dat', (b: Uint8Array) => parseIntelQuote(b)],
    ['Nitro document', 'nitro/veracruz-2022-11-09.cbor', (b: Uint8Array) => parseNitroDocument(b)],
    ['VCEK extensions', 'sev-snp/gosev-milan-vcek.der', (b: Uint8Array) => parseVekExtensions(b, 'VCEK')],
    ['X.509 DER', 'sev-snp/trustee-milan-vcek.der', (b: Uint8Array) => parseCertificate(b, 'certificate')],
  ] as const)('%s: VerifyError or a result', (name, path, parse) => {
    const seed = bytes(path);
    expect(() => parse(seed), 'the unmutated seed must parse').not.toThrow();
    checkProperty(name, fc.property(mutationsOf(seed), (input) => parsesBounded(() => parse(input), input.length)), 150);
  });

  it('random bytes: VerifyError or a result for every evidence parser', () => {
    const parsers = [parseSnpReport, (b: Uint8Array) => parseIntelQuote(b), parseNitroDocument, (b: Uint8Array) => parseCertificate(b, 'c')];
    checkProperty(
      'evidence parsers on random bytes',
      fc.property(fc.uint8Array({ maxLength: 4096 }), (input) => {
        for (const parse of parsers) typedOnly(() => parse(input));
      }),
      100,
    );
  });
});

describe('RA-TLS certificate extensions and claims (CBOR)', () => {
  const claims = encodeClaims({ pubkeyHash: { alg: 'sha-384', digest: new Uint8Array(48).fill(7) }, policyHash: { alg: 'sha-384', digest: new Uint8Array(48).fill(9) }, nonce: new Uint8Array(16) });
  const tagged = encodeTaggedEvidence({ tag: EVIDENCE_TAG.sevSnp, evidence: bytes('sev-snp/gosev-milan-report.bin'), claims });
  const cmw = encodeCmwExtension(tagged);
  const stapledSnp = encodeStapledEndorsements(EVIDENCE_TAG.sevSnp, { vek: bytes('sev-snp/gosev-milan-vcek.der'), chain: [bytes('sev-snp/trustee-milan-vcek.der')] });

  it('claims buffer: VerifyError or a result', () => {
    checkProperty('claims', fc.property(mutationsOf(claims), (input) => parsesBounded(() => decodeClaims(input), input.length)), 300);
  });

  it('tagged-evidence extension: VerifyError or a result', () => {
    checkProperty('tagged evidence', fc.property(mutationsOf(tagged), (input) => parsesBounded(() => decodeTaggedEvidence(input), input.length)), 200);
  });

  it('CMW extension: VerifyError or a result', () => {
    checkProperty('cmw', fc.property(mutationsOf(cmw), (input) => void typedOnly(() => decodeCmwExtension(input))), 200);
  });

  it('stapled endorsements (SEV-SNP and Intel): VerifyError or a result', () => {
    checkProperty(
      'stapled endorsements',
      fc.property(mutationsOf(stapledSnp), (input) => {
        parsesBounded(() => decodeStapledSnpEndorsements(input), input.length);
        parsesBounded(() => decodeStapledIntelCollateral(input), input.length);
      }),
      200,
    );
  });

  it('simulated evidence: VerifyError or a result', () => {
    checkProperty('simulated evidence', fc.property(fc.uint8Array({ maxLength: 512 }), (input) => void typedOnly(() => decodeSimulatedEvidence(input))), 200);
  });

  it('a real RA-TLS certificate, mutated: a failure verdict with a catalogue code, never an exception', () => {
    const cert = bytes('ratls-certs/evervault-nitro-san-2023-01-18.der');
    checkProperty(
      'ratls certificate',
      fc.property(mutationsOf(cert), (input) => {
        const verdict = verifyCertificate(input, { at: new Date('2023-01-18T12:00:00Z'), allowSimulated: true });
        if (!verdict.ok) expect(ERRORS[verdict.code!]).toBeDefined();
      }),
      60,
    );
  });

  it('freshness answers and nonce queries: VerifyError or a result', () => {
    checkProperty('freshness answer', fc.property(fc.anything(), (value) => void typedOnly(() => decodeFreshnessAnswer(value))), 200);
    checkProperty(
      'nonce query',
      fc.property(fc.string({ maxLength: 300 }), (query) => {
        const nonce = parseNonceQuery(query);
        if (nonce !== undefined) expect(nonce.length).toBeLessThanOrEqual(64);
      }),
      200,
    );
  });

  it('reference values documents: EnclaveGateError or a result', () => {
    checkProperty('reference values', fc.property(fc.anything(), (value) => void typedOnly(() => parseReferenceValues(value), [EnclaveGateError])), 200);
  });
});

describe('stream framing (SSE, NDJSON, lines): typed errors and bounded steps', () => {
  const LIMIT = 256;
  /** Bytes biased towards what framing cares about: line ends, colons, field names, UTF-8 fragments. */
  const framingBytes = fc
    .array(
      fc.oneof(
        fc.constantFrom(...['\n', '\r', '\r\n', ':', 'data:', 'data: x', 'event: e', 'id: 1', 'retry: 5', ' ', '{}', '[DONE]'].map((s) => Buffer.from(s))),
        fc.uint8Array({ maxLength: 8 }).map((u) => Buffer.from(u)),
        fc.constantFrom(Buffer.from([0xe2, 0x98]), Buffer.from([0x83]), Buffer.from([0xff])),
      ),
      { maxLength: 80 },
    )
    .map((parts) => Buffer.concat(parts));
  /** Cut points: the same bytes fed in arbitrary chunks. */
  const chunked = framingBytes.chain((all) =>
    fc.uniqueArray(fc.nat({ max: all.length }), { maxLength: 10 }).map((cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), all.length];
      return { all, chunks: points.slice(1).map((end, i) => all.subarray(points[i]!, end)) };
    }),
  );
  const terminators = (b: Buffer): number => b.reduce((n, c) => n + (c === 0x0a || c === 0x0d ? 1 : 0), 0);

  it('SSE: typed errors only; events ≤ line terminators + 1; raw bytes out ≤ bytes in; chunking does not change the events', () => {
    const run = (chunks: readonly Buffer[]): { events: string[]; raw: number } | 'refused' => {
      const parser = new SseParser({ maxLineBytes: LIMIT, maxEventBytes: LIMIT * 2 });
      const events: string[] = [];
      let raw = 0;
      const outcome = typedOnly(() => {
        const take = (e: { raw: Buffer }): void => {
          events.push(e.raw.toString('latin1'));
          raw += e.raw.length;
        };
        for (const c of chunks) parser.push(c).forEach(take);
        parser.end().events.forEach(take);
      }, [StreamSyntaxError, LineTooLongError]);
      return outcome === 'refused' ? 'refused' : { events, raw };
    };
    checkProperty(
      'sse framing',
      fc.property(chunked, ({ all, chunks }) => {
        const whole = run([all]);
        const pieces = run(chunks);
        if (whole === 'refused') return;
        expect(whole.events.length).toBeLessThanOrEqual(terminators(all) + 1);
        expect(whole.raw).toBeLessThanOrEqual(all.length);
        // The same bytes in other chunks: the same events (a refusal can come earlier or later, never a different event).
        if (pieces !== 'refused') expect(pieces.events).toEqual(whole.events);
      }),
      300,
    );
  });

  it('NDJSON: typed errors only; lines ≤ LF count + 1; raw bytes out ≤ bytes in', () => {
    checkProperty(
      'ndjson framing',
      fc.property(chunked, ({ all, chunks }) => {
        const parser = new NdjsonParser(LIMIT);
        let lines = 0;
        let raw = 0;
        typedOnly(() => {
          const take = (l: { raw: Buffer }): void => {
            lines++;
            raw += l.raw.length;
          };
          for (const c of chunks) parser.push(c).forEach(take);
          parser.end().forEach(take);
        }, [StreamSyntaxError, LineTooLongError]);
        expect(lines).toBeLessThanOrEqual(all.filter((c) => c === 0x0a).length + 1);
        expect(raw).toBeLessThanOrEqual(all.length);
      }),
      300,
    );
  });

  it('line splitter: never holds more than the line limit', () => {
    checkProperty(
      'line splitter',
      fc.property(chunked, fc.constantFrom('sse' as const, 'lf' as const), ({ chunks }, endings) => {
        const splitter = new LineSplitter(endings, LIMIT);
        typedOnly(() => {
          for (const c of chunks) {
            splitter.push(c);
            expect(splitter.pendingBytes).toBeLessThanOrEqual(LIMIT);
          }
          splitter.end();
        }, [LineTooLongError]);
      }),
      300,
    );
  });
});

describe('policy bundle archive (tar.gz)', () => {
  const bundle = new Uint8Array(readFileSync(ensurePolicyBundle()));
  const tar = new Uint8Array(gunzipSync(bundle));

  it('mutated bundle.tar.gz: EnclaveGateError or files within the limits', () => {
    checkProperty(
      'bundle tar.gz',
      fc.property(mutationsOf(bundle), (input) => {
        typedOnly(() => {
          const files = readTarGz(input, { maxUncompressedBytes: 4 * 1024 * 1024 });
          expect(files.size).toBeLessThanOrEqual(DEFAULT_MAX_ENTRIES);
          for (const path of files.keys()) expect(path).toMatch(/^\/[^\\]*$/);
        }, [EnclaveGateError]);
      }),
      60,
    );
  });

  it('mutated inner tar: EnclaveGateError or files whose total size is bounded by the input', () => {
    checkProperty(
      'bundle tar',
      fc.property(mutationsOf(tar), (input) => {
        typedOnly(() => {
          const files = readTar(input);
          // Steps: one entry per 512-byte header at most, and no file larger than the archive.
          expect(files.size).toBeLessThanOrEqual(Math.ceil(input.length / 512));
          let total = 0;
          for (const data of files.values()) total += data.length;
          expect(total).toBeLessThanOrEqual(input.length);
          for (const path of files.keys()) expect(path.split('/').slice(1)).not.toContain('..');
        }, [EnclaveGateError]);
      }),
      60,
    );
  });
});

describe('configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eg-config-prop-'));
  let n = 0;

  it('any YAML text: EG_CONFIG_INVALID or a valid config', () => {
    const yamlish = fc.array(
      fc.oneof(
        fc.constantFrom('listen: ', 'limits:\n  headerCount: ', 'tls:\n  minVersion: ', 'policy:\n  url: ', '- ', ': ', '{', '[', '&a ', '*a', '!!binary ', '\n', '  ', '"', "'", '#', '<<: '),
        fc.string({ maxLength: 12 }),
      ),
      { maxLength: 30 },
    );
    // The yaml library reports unknown tags (`!x`) as process warnings; hundreds of them would bury the test output.
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      checkProperty(
        'config yaml',
        fc.property(yamlish, (parts) => {
          const file = join(dir, `c${n++}.yaml`);
          writeFileSync(file, parts.join(''));
          typedOnly(() => loadConfig({ file }), [EnclaveGateError]);
        }),
        150,
      );
    } finally {
      warnings.mockRestore();
    }
  });

  it('any JSON tree: EG_CONFIG_INVALID or a valid config', () => {
    checkProperty(
      'config json',
      fc.property(fc.dictionary(fc.constantFrom('listen', 'admin', 'upstream', 'limits', 'tls', 'policy', 'log', 'freshness', 'x'), fc.jsonValue({ maxDepth: 3 })), (tree) => {
        const file = join(dir, `c${n++}.json`);
        writeFileSync(file, JSON.stringify(tree));
        typedOnly(() => loadConfig({ file }), [EnclaveGateError]);
      }),
      150,
    );
  });
});

describe('the harness itself', () => {
  it('fails on an untyped exception and names the seed to replay', () => {
    const buggy = (b: Uint8Array): number => {
      if (b.length > 3 && b[0]! > 200) throw new TypeError('simulated parser bug');
      return b.length;
    };
    expect(() => checkProperty('deliberately buggy parser', fc.property(fc.uint8Array(), (b) => void typedOnly(() => buggy(b))), 200)).toThrow(
      /failed with seed \d+; reproduce with: FC_SEED=\d+ npx vitest run/,
    );
  });
});

afterAll(() => {
  // One line per run for docs/security.md's figures; the seeds make it repeatable.
  console.log(`property tests: ${propertyTally.properties} properties, ${propertyTally.cases} cases, seeds ${propertySeeds().join(',')}`);
});
