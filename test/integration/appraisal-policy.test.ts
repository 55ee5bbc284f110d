/**
 * Rego appraisal policies, compiled to wasm with the pinned OPA, applied by
 * the client library after the built-in checks, on a simulated RA-TLS
 * certificate and on real SEV-SNP evidence; and through the CLI.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { verify as verifyCli } from '../../src/cli/verify.js';
import { DEFAULT_SIMULATED_MEASUREMENT, createSimulatedProvider } from '../../src/evidence/simulated.js';
import { issueCertificate, type IssuedCertificate } from '../../src/ratls/issue.js';
import { defaultOpaPath } from '../../src/util/package-root.js';
import { loadAppraisalPolicy, verifyCertificate, verifyEvidence, type AppraisalPolicy } from '../../src/verify/index.js';
import { hashEntry } from '../../src/wire/hash-entry.js';
import { vector } from '../helpers/vectors.js';

const scratch = mkdtempSync(join(tmpdir(), 'eg-appraisal-'));
const simulatedMeasurement = Buffer.from(DEFAULT_SIMULATED_MEASUREMENT).toString('hex');

/** Compiles one Rego file with `opa build -t wasm` and returns the bundle path. */
function build(name: string, rego: string, entrypoint = 'appraisal/decision'): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'policy.rego'), rego);
  const out = join(scratch, `${name}.tar.gz`);
  execFileSync(defaultOpaPath(), ['build', '-t', 'wasm', '-e', entrypoint, '-o', out, dir], { stdio: 'pipe' });
  return out;
}

const measurementPolicy = (hex: string) => `package appraisal

default decision := {"allow": false, "reasons": ["measurement_not_approved"]}

decision := {"allow": true, "reasons": ["approved"]} if {
	input.measurement == "${hex}"
	startswith(input.ratls.policyHash, "sha-384:")
}
`;

async function load(bundle: string): Promise<AppraisalPolicy> {
  const { readTarGz } = await import('../../src/policy/tar.js');
  return loadAppraisalPolicy(readTarGz(readFileSync(bundle)).get('/policy.wasm')!);
}

let cert: IssuedCertificate;
let allowBundle: string;
let denyBundle: string;

beforeAll(async () => {
  cert = await issueCertificate({
    provider: createSimulatedProvider(),
    policyHash: hashEntry('sha-384', new Uint8Array([7])),
    keyAlgorithm: 'P-384',
    validitySeconds: 3600,
    subjectAltNames: ['localhost'],
    commonName: 'appraisal-test',
  });
  allowBundle = build('allow', measurementPolicy(simulatedMeasurement));
  denyBundle = build('deny', measurementPolicy('00'.repeat(48)));
}, 120_000);

describe('appraisal policy in the library', () => {
  it('allows when the policy approves the verified measurement', async () => {
    const verdict = verifyCertificate(cert.certDer, { at: new Date(), allowSimulated: true, appraisalPolicy: await load(allowBundle) });
    expect(verdict.ok).toBe(true);
    expect(verdict.steps.at(-1)).toMatchObject({ step: 'appraise.policy', ok: true });
  });

  it('turns a policy deny into EG_VERIFY_REFERENCE_VALUES with its reasons', async () => {
    const verdict = verifyCertificate(cert.certDer, { at: new Date(), allowSimulated: true, appraisalPolicy: await load(denyBundle) });
    expect(verdict.ok).toBe(false);
    expect(verdict.code).toBe('EG_VERIFY_REFERENCE_VALUES');
    expect(verdict.message).toMatch(/measurement_not_approved/);
    expect(verdict.measurement).toBeUndefined();
  });

  it('fails closed on a malformed decision', async () => {
    const bundle = build('malformed', 'package appraisal\n\ndecision := "yes"\n');
    const verdict = verifyCertificate(cert.certDer, { at: new Date(), allowSimulated: true, appraisalPolicy: await load(bundle) });
    expect(verdict.code).toBe('EG_VERIFY_REFERENCE_VALUES');
    expect(verdict.message).toMatch(/not an object/);
  });

  it('never runs on evidence the built-in checks refused', async () => {
    const verdict = verifyCertificate(cert.certDer, { at: new Date(), appraisalPolicy: await load(allowBundle) });
    expect(verdict.code).toBe('EG_VERIFY_SIMULATED');
    expect(verdict.steps.some((s) => s.step === 'appraise.policy')).toBe(false);
  });

  it('appraises real SEV-SNP evidence on its TCB', async () => {
    const tcbPolicy = (min: number) => `package appraisal

default decision := {"allow": false, "reasons": ["microcode_too_old"]}

decision := {"allow": true} if input.tcb.reported.microcode >= ${min}
`;
    const snp = (policy: AppraisalPolicy) =>
      verifyEvidence({
        platform: 'sev-snp',
        evidence: vector('sev-snp/gosev-milan-report.bin'),
        endorsements: { vek: vector('sev-snp/gosev-milan-vcek.der'), chain: vector('sev-snp/amd-milan-ask-ark.pem').toString() },
        product: 'milan',
        at: new Date('2022-09-24T01:00:00Z'),
        allowDebug: true,
        appraisalPolicy: policy,
      });
    expect(snp(await load(build('tcb-ok', tcbPolicy(68)))).ok).toBe(true);
    const tooOld = snp(await load(build('tcb-high', tcbPolicy(100))));
    expect(tooOld.code).toBe('EG_VERIFY_REFERENCE_VALUES');
    expect(tooOld.message).toMatch(/microcode_too_old/);
  });
});

describe('appraisal policy in the CLI', () => {
  it('exit 0 when the bundle allows, 9 when it denies, 1 for a bundle without wasm', async () => {
    const certFile = join(scratch, 'cert.pem');
    writeFileSync(certFile, cert.certPem);
    const io = { stdout: () => undefined, stderr: () => undefined };
    expect(await verifyCli(['--cert', certFile, '--allow-simulated', '--appraisal-policy', allowBundle], io)).toBe(0);
    expect(await verifyCli(['--cert', certFile, '--allow-simulated', '--appraisal-policy', denyBundle], io)).toBe(9);
    const notBundle = join(scratch, 'empty.tar.gz');
    execFileSync('tar', ['czf', notBundle, '-C', scratch, 'cert.pem']);
    expect(await verifyCli(['--cert', certFile, '--allow-simulated', '--appraisal-policy', notBundle], io)).toBe(1);
  });
});
