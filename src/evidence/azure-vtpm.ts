/**
 * azure-vtpm provider: Azure confidential VMs (SEV-SNP and TDX), whose
 * hardware report only the paravisor (HCL) can ask for. The guest reaches it
 * through the vTPM (`/dev/tpmrm0`), in plain TPM 2.0 commands (tpm2.ts):
 *
 *  1. NV_Write our 64 bytes of report data to NV 0x01400002 (defined first
 *     when missing). The paravisor then asks the hardware for a new report
 *     whose HCL variable data carries them as "user-data", and stores it in
 *     NV 0x01400001.
 *  2. NV_Read NV 0x01400001 until its user-data is ours (Azure's tooling
 *     sleeps 3 s instead; polling returns as soon as the report is there).
 *  3. Quote with the AK 0x81000003 over SHA-256 PCRs 0–23, with the report
 *     data as the nonce, then PCR_Read the values the quote's digest covers.
 *  4. From the instance metadata service (IMDS): on SEV-SNP the VCEK and its
 *     ASK/ARK (THIM), stapled so clients verify offline; on TDX the TD quote
 *     of the TDREPORT in the HCL report (the TDREPORT alone is MAC'd and
 *     useless off the machine).
 *
 * The evidence is the JSON document CoCo's trustee reads (version 2 for
 * SNP: user-data carries the report data; version 1 for TDX), so
 * `enclave-gate verify --platform azure-sev-snp|azure-tdx` and trustee both
 * verify it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { EVIDENCE_TAG } from '../wire/extension.js';
import { AZURE_VTPM, HCL_LAYOUT, HCL_REPORT_TYPE, hclUserData, readHclFields } from '../wire/azure-hcl.js';
import { attestationFailed, attestationUnavailable, deviceError, type ErrnoHints } from './device-errors.js';
import type { Evidence, ProbingProvider } from './provider.js';
import { assertReportData } from './report-data.js';
import { encodeSnpEndorsements } from './snp-endorsements.js';
import { NV_ATTRIBUTES_OWNER_RW, Tpm, TpmError, openTpm, type TpmOpener } from './tpm2.js';

/** The kernel's TPM resource manager. */
export const DEFAULT_TPM_DEVICE = '/dev/tpmrm0';
/** Azure's instance metadata service. */
export const DEFAULT_IMDS_URL = 'http://169.254.169.254';
/** IMDS paths: the VCEK with its chain (SNP), and the TD quote service (TDX). */
export const AZURE_IMDS = {
  thim: '/metadata/THIM/amd/certification',
  tdQuote: '/acc/tdquote',
} as const;
const QUOTED_PCRS = Array.from({ length: 24 }, (_, i) => i);

/** Options for the azure-vtpm provider. */
export interface AzureVtpmOptions {
  /** TPM: a device (default /dev/tpmrm0), a unix socket path, or tcp://host:port (swtpm, development). */
  readonly device?: string;
  /** Opens the TPM; tests may inject one. */
  readonly open?: TpmOpener;
  /** IMDS base URL; default http://169.254.169.254. */
  readonly imdsUrl?: string;
  /** How long to wait for the paravisor to put our report data into the HCL report; default 10 s. */
  readonly hclWaitMs?: number;
  /** Poll interval while waiting; default 200 ms. */
  readonly hclPollMs?: number;
  /** Deadline of each IMDS request; default 10 s. */
  readonly imdsTimeoutMs?: number;
}

const TPM_HINTS: ErrnoHints = {
  ENOENT: { code: 'EG_ATTESTATION_UNAVAILABLE', hint: 'there is no TPM resource manager: run on an Azure confidential VM (the vTPM is /dev/tpmrm0) and pass the device into the container' },
  EACCES: { code: 'EG_ATTESTATION_FAILED', hint: 'permission denied: run as root or as a member of the "tss" group that owns /dev/tpmrm0' },
  ECONNREFUSED: { code: 'EG_ATTESTATION_UNAVAILABLE', hint: 'nothing listens on the TPM socket: is swtpm running?' },
};

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Fetches JSON from IMDS with the Metadata header it requires; non-2xx and bad JSON are failures. */
async function imdsJson(url: string, init: { method: 'GET' | 'POST'; body?: string }, timeoutMs: number): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: init.method,
    headers: { Metadata: 'true', ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(init.body === undefined ? {} : { body: init.body }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
  const json: unknown = JSON.parse(text);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('the answer is not a JSON object');
  return json as Record<string, unknown>;
}

/** DER certificates from a PEM string (THIM gives PEM). */
function pemCertificates(pem: string): Uint8Array[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g)].map((m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
}

/** Creates the azure-vtpm provider. Nothing is opened until the first call. */
export function createAzureVtpmProvider(options: AzureVtpmOptions = {}): ProbingProvider {
  const device = options.device ?? DEFAULT_TPM_DEVICE;
  const open = options.open ?? openTpm;
  const imds = (options.imdsUrl ?? DEFAULT_IMDS_URL).replace(/\/$/, '');
  const hclWaitMs = options.hclWaitMs ?? 10_000;
  const hclPollMs = options.hclPollMs ?? 200;
  const imdsTimeoutMs = options.imdsTimeoutMs ?? 10_000;
  let platform = 'unknown';

  async function withTpm<T>(fn: (tpm: Tpm) => Promise<T>): Promise<T> {
    let tpm: Tpm;
    try {
      tpm = new Tpm(await open(device));
    } catch (cause) {
      throw deviceError('azure-vtpm', 'open', device, cause, TPM_HINTS);
    }
    try {
      return await fn(tpm);
    } catch (cause) {
      if (cause instanceof TpmError) throw attestationFailed('azure-vtpm', `${cause.message} on ${device}`, { path: device, rc: cause.rc });
      throw deviceError('azure-vtpm', 'a TPM command on', device, cause, TPM_HINTS);
    } finally {
      await tpm.transport.close().catch(() => undefined);
    }
  }

  /** Fails with UNAVAILABLE unless the Azure HCL index and AK exist: a TPM without them is some other vTPM. */
  async function requireAzureHandles(tpm: Tpm): Promise<number> {
    let size: number;
    try {
      size = (await tpm.nvReadPublic(AZURE_VTPM.hclReportIndex)).dataSize;
      await tpm.readPublic(AZURE_VTPM.akHandle);
    } catch (cause) {
      if (cause instanceof TpmError && cause.isHandleMissing) {
        throw attestationUnavailable('azure-vtpm', `the TPM at ${device} has no HCL report (NV 0x01400001) or no attestation key (0x81000003): this is not an Azure confidential VM's vTPM`, { path: device });
      }
      throw cause;
    }
    if (size < HCL_LAYOUT.variableDataOffset) throw attestationFailed('azure-vtpm', `NV 0x01400001 holds ${size} bytes, too few for an HCL report`);
    return size;
  }

  /** Reads the HCL report until its user-data is ours, or gives up. */
  async function awaitHclReport(tpm: Tpm, size: number, reportData: Uint8Array): Promise<Uint8Array> {
    const want = hex(reportData);
    const deadline = Date.now() + hclWaitMs;
    for (;;) {
      const hcl = await tpm.nvRead(AZURE_VTPM.hclReportIndex, size);
      const fields = readHclFields(hcl);
      if (fields === undefined) throw attestationFailed('azure-vtpm', 'NV 0x01400001 does not hold an HCL report ("HCLA" header and variable data)');
      if (hclUserData(fields.variableData) === want) return hcl;
      if (Date.now() >= deadline) {
        throw attestationFailed('azure-vtpm', `the paravisor did not put the report data into the HCL report within ${hclWaitMs} ms (its user-data is still another value); writes to NV 0x01400002 are what make it refresh the report`);
      }
      await sleep(hclPollMs);
    }
  }

  /** SNP: the VCEK (for the evidence) and VCEK + ASK/ARK (stapled), from THIM; a failure is only a warning. */
  async function snpCertificates(): Promise<{ vcek?: Uint8Array; endorsements?: Uint8Array; warning?: string }> {
    try {
      const json = await imdsJson(`${imds}${AZURE_IMDS.thim}`, { method: 'GET' }, imdsTimeoutMs);
      const [vcek] = typeof json['vcekCert'] === 'string' ? pemCertificates(json['vcekCert']) : [];
      const chain = typeof json['certificateChain'] === 'string' ? pemCertificates(json['certificateChain']) : [];
      if (vcek === undefined) return { warning: 'IMDS THIM answered without a VCEK; clients must supply it' };
      return { vcek, ...(chain.length === 0 ? {} : { endorsements: encodeSnpEndorsements({ vek: vcek, chain }, EVIDENCE_TAG.azureVtpm) }) };
    } catch (error) {
      return { warning: `the VCEK could not be fetched from IMDS ${AZURE_IMDS.thim} (${(error as Error).message}); clients must supply it and the ASK/ARK` };
    }
  }

  /** TDX: the TD quote of the HCL's TDREPORT, from IMDS; required, the TDREPORT alone proves nothing off the machine. */
  async function tdQuote(hcl: Uint8Array): Promise<Uint8Array> {
    const tdReport = hcl.subarray(HCL_LAYOUT.hardwareReportOffset, HCL_LAYOUT.hardwareReportOffset + HCL_LAYOUT.tdReportBytes);
    try {
      const json = await imdsJson(`${imds}${AZURE_IMDS.tdQuote}`, { method: 'POST', body: JSON.stringify({ report: Buffer.from(tdReport).toString('base64url') }) }, imdsTimeoutMs);
      if (typeof json['quote'] !== 'string') throw new Error('no "quote" in the answer');
      return new Uint8Array(Buffer.from(json['quote'], 'base64url'));
    } catch (cause) {
      throw attestationFailed('azure-vtpm', `the TD quote could not be obtained from IMDS ${AZURE_IMDS.tdQuote}: ${(cause as Error).message}`, {}, cause);
    }
  }

  return {
    name: 'azure-vtpm',
    get platform() {
      return platform;
    },
    insecure: false,
    async probe() {
      await withTpm(requireAzureHandles);
    },
    async getEvidence(reportData: Uint8Array): Promise<Evidence> {
      assertReportData('azure-vtpm', reportData);
      const collected = await withTpm(async (tpm) => {
        const size = await requireAzureHandles(tpm);
        try {
          await tpm.nvReadPublic(AZURE_VTPM.userDataIndex);
        } catch (cause) {
          if (!(cause instanceof TpmError && cause.isHandleMissing)) throw cause;
          await tpm.nvDefineSpace(AZURE_VTPM.userDataIndex, 64, NV_ATTRIBUTES_OWNER_RW);
        }
        await tpm.nvWrite(AZURE_VTPM.userDataIndex, reportData);
        const hcl = await awaitHclReport(tpm, size, reportData);
        // PCRs can move between the quote and the read (something extends them); the digest tells, so try again once.
        for (let attempt = 1; ; attempt++) {
          const quote = await tpm.quote(AZURE_VTPM.akHandle, reportData, QUOTED_PCRS);
          const values = await tpm.pcrRead(QUOTED_PCRS);
          const pcrs = QUOTED_PCRS.map((i) => values.get(i)!);
          const digest = createHash('sha256');
          for (const p of pcrs) digest.update(p);
          const quotedDigest = quote.message.subarray(quote.message.length - 32);
          if (timingSafeEqual(digest.digest(), quotedDigest)) return { hcl, quote, pcrs };
          if (attempt === 2) throw attestationFailed('azure-vtpm', 'the PCR values changed between TPM2_Quote and TPM2_PCR_Read twice; something is extending PCRs');
        }
      });
      const fields = readHclFields(collected.hcl)!;
      const tpmQuote = { signature: hex(collected.quote.signature), message: hex(collected.quote.message), pcrs: collected.pcrs.map(hex) };
      const hclReport = Buffer.from(collected.hcl).toString('base64url');
      if (fields.reportType === HCL_REPORT_TYPE.snp) {
        platform = 'azure-sev-snp';
        const certs = await snpCertificates();
        const document = { version: 2, tpm_quote: tpmQuote, hcl_report: hclReport, ...(certs.vcek === undefined ? {} : { vcek: Buffer.from(certs.vcek).toString('base64url') }) };
        return {
          tag: EVIDENCE_TAG.azureVtpm,
          evidence: new TextEncoder().encode(JSON.stringify(document)),
          ...(certs.endorsements === undefined ? {} : { endorsements: certs.endorsements }),
          ...(certs.warning === undefined ? {} : { warnings: [certs.warning] }),
        };
      }
      if (fields.reportType === HCL_REPORT_TYPE.tdx) {
        platform = 'azure-tdx';
        const td = await tdQuote(collected.hcl);
        const document = { version: 1, tpm_quote: tpmQuote, hcl_report: hclReport, td_quote: Buffer.from(td).toString('base64url') };
        return { tag: EVIDENCE_TAG.azureVtpm, evidence: new TextEncoder().encode(JSON.stringify(document)) };
      }
      throw attestationFailed('azure-vtpm', `the HCL report has report type ${fields.reportType}, neither SEV-SNP (2) nor TDX (4)`);
    },
  };
}
