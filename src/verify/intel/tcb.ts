/**
 * TCB status evaluation: where a verified platform sits in Intel's signed TCB
 * info, and whether its Quoting Enclave and TDX module match their signed
 * identities. These are facts derived from signed data, so they belong to
 * verification; whether a status is acceptable is appraisal's business.
 */
import { VerifyError } from '../../errors.js';
import type { VerifyContext } from '../types.js';
import type { IsvTcbLevel, QeIdentity, TcbInfo } from './collateral.js';
import { bytesEqual, toHex } from './der.js';
import type { SgxReportBody, TdReportBody } from './parse.js';
import type { PckExtensions } from './pck.js';

/** TCB statuses Intel publishes, best first. */
export const TCB_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'TDRelaunchAdvised',
  'TDRelaunchAdvisedConfigurationNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
] as const;

/** One of Intel's TCB statuses. */
export type IntelTcbStatus = (typeof TCB_STATUSES)[number];

/**
 * Status reported when no TCB level matches: the platform is older than
 * every level Intel still lists (Intel's QVL calls this "TCB not supported").
 * It is ranked worse than Revoked and can never be accepted by appraisal.
 */
export const NO_MATCHING_TCB_LEVEL = 'NoMatchingTcbLevel';

/** A status with the advisories of the level that produced it. */
export interface TcbVerdict {
  readonly status: string;
  readonly advisoryIds: readonly string[];
  readonly tcbDate?: string;
}

function severity(status: string): number {
  const i = (TCB_STATUSES as readonly string[]).indexOf(status);
  // Unknown statuses (a future Intel value, or NoMatchingTcbLevel) rank worst: fail closed.
  return i === -1 ? TCB_STATUSES.length + (status === NO_MATCHING_TCB_LEVEL ? 0 : 1) : i;
}

/**
 * Combines platform, TDX module and QE verdicts into one: the worst status,
 * with OutOfDate + a configuration status becoming OutOfDateConfigurationNeeded
 * (so neither half of the news is lost), and the union of advisories.
 */
export function mergeTcbVerdicts(verdicts: readonly TcbVerdict[]): TcbVerdict {
  let worst = verdicts[0] ?? { status: 'UpToDate', advisoryIds: [] };
  for (const v of verdicts.slice(1)) if (severity(v.status) > severity(worst.status)) worst = v;
  let status = worst.status;
  if (status === 'OutOfDate' && verdicts.some((v) => v.status.includes('ConfigurationNeeded'))) {
    status = 'OutOfDateConfigurationNeeded';
  }
  const advisoryIds = [...new Set(verdicts.flatMap((v) => v.advisoryIds))];
  return { status, advisoryIds };
}

function tcbFail(step: string, detail: string, ctx: VerifyContext): never {
  ctx.transcript.fail(step, 'EG_VERIFY_TCB', detail);
  throw new VerifyError('EG_VERIFY_TCB', detail);
}

function firstIsvLevel(levels: readonly IsvTcbLevel[], isvSvn: number): TcbVerdict {
  // Levels are published highest first; the first one the SVN reaches is the platform's.
  const level = levels.find((l) => isvSvn >= l.isvSvn);
  if (level === undefined) return { status: NO_MATCHING_TCB_LEVEL, advisoryIds: [] };
  return { status: level.tcbStatus, advisoryIds: level.advisoryIds, tcbDate: level.tcbDate };
}

/**
 * Checks that a TCB info applies to this platform: TEE kind, FMSPC and PCE-ID
 * must match the PCK certificate (EG_VERIFY_TCB otherwise: collateral for
 * another platform says nothing about this one).
 */
export function checkTcbInfoApplies(info: TcbInfo, tee: 'sgx' | 'tdx', pck: PckExtensions, ctx: VerifyContext): void {
  const wantId = tee === 'tdx' ? 'TDX' : 'SGX';
  if (info.id !== wantId) tcbFail('intel.tcbinfo.match', `TCB info is for ${info.id}, the quote is ${wantId}`, ctx);
  if (info.fmspc !== pck.fmspc) tcbFail('intel.tcbinfo.match', `TCB info FMSPC ${info.fmspc} ≠ PCK FMSPC ${pck.fmspc}`, ctx);
  if (info.pceId !== pck.pceId) tcbFail('intel.tcbinfo.match', `TCB info PCE-ID ${info.pceId} ≠ PCK PCE-ID ${pck.pceId}`, ctx);
  ctx.transcript.pass('intel.tcbinfo.match', `${info.id} TCB info for FMSPC ${info.fmspc}, tcbEvaluationDataNumber ${info.tcbEvaluationDataNumber}`);
}

/**
 * Finds the platform's TCB level: the first level (Intel lists them highest
 * first) whose 16 SGX components and PCESVN the PCK certificate reaches and,
 * for TDX, whose TDX components TEE_TCB_SVN reaches. When TEE_TCB_SVN[1] (the
 * TDX module major version) is non-zero, bytes 0–1 are the module's SVN and
 * version and are judged by the module identity instead, as Intel's QVL does.
 */
export function evaluatePlatformTcb(info: TcbInfo, pck: PckExtensions, td: TdReportBody | undefined): TcbVerdict {
  const teeTcbSvn = td?.teeTcbSvn;
  const tdxStart = teeTcbSvn !== undefined && teeTcbSvn[1]! > 0 ? 2 : 0;
  for (const level of info.tcbLevels) {
    if (pck.pceSvn < level.pceSvn) continue;
    if (level.sgxComponents.some((svn, i) => (pck.tcbComponents[i] ?? 0) < svn)) continue;
    if (teeTcbSvn !== undefined) {
      const comps = level.tdxComponents ?? [];
      let below = false;
      for (let i = tdxStart; i < 16; i++) if (teeTcbSvn[i]! < (comps[i] ?? 0)) below = true;
      if (below) continue;
    }
    return { status: level.tcbStatus, advisoryIds: level.advisoryIds, tcbDate: level.tcbDate };
  }
  return { status: NO_MATCHING_TCB_LEVEL, advisoryIds: [] };
}

function maskedEqual(actual: Uint8Array, expected: Uint8Array, mask: Uint8Array): boolean {
  for (let i = 0; i < expected.length; i++) {
    if (((actual[i] ?? 0) & mask[i]!) !== (expected[i]! & mask[i]!)) return false;
  }
  return true;
}

/**
 * Checks the TDX module against the TCB info's module identity and returns
 * the module's own verdict (undefined for TDX 1.0 modules, which have no
 * separate levels). MRSIGNERSEAM and masked SEAMATTRIBUTES must match
 * (EG_VERIFY_TCB otherwise: the SEAM module is not one Intel signed).
 */
export function evaluateTdxModule(info: TcbInfo, td: TdReportBody, ctx: VerifyContext): TcbVerdict | undefined {
  const svn = td.teeTcbSvn[0]!;
  const major = td.teeTcbSvn[1]!;
  let identity = info.tdxModule;
  if (major > 0 && info.tdxModuleIdentities.length > 0) {
    const id = `TDX_${major.toString(16).toUpperCase().padStart(2, '0')}`;
    identity = info.tdxModuleIdentities.find((m) => m.id?.toUpperCase() === id);
    if (identity === undefined) tcbFail('intel.tdx-module', `TCB info lists no TDX module identity ${id}`, ctx);
  }
  if (identity === undefined) tcbFail('intel.tdx-module', 'TDX TCB info has no tdxModule', ctx);
  if (!bytesEqual(td.mrSignerSeam, identity.mrSigner)) {
    tcbFail('intel.tdx-module', `MRSIGNERSEAM ${toHex(td.mrSignerSeam)} ≠ ${toHex(identity.mrSigner)}`, ctx);
  }
  if (!maskedEqual(td.seamAttributes, identity.attributes, identity.attributesMask)) {
    tcbFail('intel.tdx-module', `SEAMATTRIBUTES ${toHex(td.seamAttributes)} do not match ${toHex(identity.attributes)} under mask`, ctx);
  }
  if (identity.id === undefined) {
    ctx.transcript.pass('intel.tdx-module', 'TDX module signer and attributes match tdxModule');
    return undefined;
  }
  const verdict = firstIsvLevel(identity.tcbLevels, svn);
  ctx.transcript.pass('intel.tdx-module', `${identity.id} svn ${svn} → ${verdict.status}`);
  return verdict;
}

/**
 * Checks the QE report against a signed QE identity (MRSIGNER, ISVPRODID,
 * masked MISCSELECT and ATTRIBUTES; EG_VERIFY_TCB on mismatch: it is not the
 * Quoting Enclave Intel vouches for) and returns the QE's TCB verdict.
 */
export function evaluateQeIdentity(identity: QeIdentity, tee: 'sgx' | 'tdx', qe: SgxReportBody, ctx: VerifyContext): TcbVerdict {
  const wantId = tee === 'tdx' ? 'TD_QE' : 'QE';
  if (identity.id !== wantId) tcbFail('intel.qe.identity', `QE identity is "${identity.id}", a ${tee.toUpperCase()} quote needs "${wantId}"`, ctx);
  if (!bytesEqual(qe.mrSigner, identity.mrSigner)) {
    tcbFail('intel.qe.identity', `QE MRSIGNER ${toHex(qe.mrSigner)} ≠ ${toHex(identity.mrSigner)}`, ctx);
  }
  if (qe.isvProdId !== identity.isvProdId) tcbFail('intel.qe.identity', `QE ISVPRODID ${qe.isvProdId} ≠ ${identity.isvProdId}`, ctx);
  if (!maskedEqual(qe.miscSelect, identity.miscSelect, identity.miscSelectMask)) {
    tcbFail('intel.qe.identity', `QE MISCSELECT ${toHex(qe.miscSelect)} does not match under mask`, ctx);
  }
  if (!maskedEqual(qe.attributes, identity.attributes, identity.attributesMask)) {
    tcbFail('intel.qe.identity', `QE ATTRIBUTES ${toHex(qe.attributes)} do not match under mask`, ctx);
  }
  const verdict = firstIsvLevel(identity.tcbLevels, qe.isvSvn);
  ctx.transcript.pass('intel.qe.identity', `${wantId} isvsvn ${qe.isvSvn} → ${verdict.status}`);
  return verdict;
}
