/**
 * The Intel SGX extension (OID 1.2.840.113741.1.13.1) of PCK certificates:
 * the platform's FMSPC, PCE-ID, PCESVN and the 16 CPU TCB components that TCB
 * info levels are compared with. Pure DER decoding; the certificate's
 * signature is checked elsewhere (verify.ts) before these values are trusted.
 */
import { VerifyError } from '../../errors.js';
import {
  DER_TAG,
  derBoolean,
  derChildren,
  derOctets,
  derOid,
  derSmallInt,
  expectTag,
  readCertificateFields,
  readDerExact,
  toHex,
  type DerNode,
} from './der.js';

/** Root of Intel's SGX extension arc. */
export const SGX_EXTENSIONS_OID = '1.2.840.113741.1.13.1';

/** SGX Type values (.5): which key hierarchy the platform uses. */
export const SGX_TYPES = ['Standard', 'Scalable', 'ScalableWithIntegrity'] as const;

/** What a PCK certificate says about its platform. Byte values are lower-case hex. */
export interface PckExtensions {
  /** Platform provisioning ID (16 B). */
  readonly ppid: string;
  /** TCB components 1–16 (.2.1–.2.16), in order. */
  readonly tcbComponents: readonly number[];
  /** PCESVN (.2.17). */
  readonly pceSvn: number;
  /** CPUSVN (.2.18, 16 B). */
  readonly cpuSvn: string;
  /** PCE-ID (2 B). */
  readonly pceId: string;
  /** FMSPC (6 B): selects the TCB info. */
  readonly fmspc: string;
  /** SGX Type by name, or the raw number when Intel adds one we do not know. */
  readonly sgxType: (typeof SGX_TYPES)[number] | number;
  /** Platform instance ID (Platform CA certificates only). */
  readonly platformInstanceId?: string;
  /** Configuration flags (Platform CA certificates only). */
  readonly configuration?: { readonly dynamicPlatform?: boolean; readonly cachedKeys?: boolean; readonly smtEnabled?: boolean };
}

function fail(message: string): never {
  throw new VerifyError('EG_VERIFY_PARSE', `PCK certificate SGX extension: ${message}`);
}

/** Splits a SEQUENCE OF SEQUENCE { OID, value } into a map, rejecting duplicates and unknown shapes. */
function oidValuePairs(node: DerNode, what: string): Map<string, DerNode> {
  const out = new Map<string, DerNode>();
  for (const entry of derChildren(expectTag(node, DER_TAG.sequence, what), what)) {
    const parts = derChildren(expectTag(entry, DER_TAG.sequence, what), what);
    if (parts.length !== 2) fail(`${what}: entry must be (OID, value)`);
    const oid = derOid(parts[0]!, what);
    if (out.has(oid)) fail(`duplicate ${oid}`);
    out.set(oid, parts[1]!);
  }
  return out;
}

function required(map: Map<string, DerNode>, oid: string, name: string): DerNode {
  const node = map.get(oid);
  if (node === undefined) fail(`${name} (${oid}) is missing`);
  return node;
}

/**
 * Extracts the SGX extension of a PCK certificate (DER). Every field Intel
 * documents as mandatory must be present with its documented size.
 */
export function parsePckExtensions(certDer: Uint8Array): PckExtensions {
  const fields = readCertificateFields(certDer, 'PCK certificate');
  const ext = fields.extensions.get(SGX_EXTENSIONS_OID);
  if (ext === undefined) fail('not present (is this a PCK certificate?)');
  const top = oidValuePairs(readDerExact(ext.value, 'SGX extension'), 'SGX extension');
  const o = (n: string): string => `${SGX_EXTENSIONS_OID}.${n}`;

  const ppid = derOctets(required(top, o('1'), 'PPID'), 'PPID', 16);
  const tcb = oidValuePairs(required(top, o('2'), 'TCB'), 'TCB');
  const tcbComponents: number[] = [];
  for (let i = 1; i <= 16; i++) {
    const value = derSmallInt(required(tcb, o(`2.${i}`), `TCB component ${i}`), `TCB component ${i}`);
    if (value > 255) fail(`TCB component ${i} is ${value}, must fit one byte`);
    tcbComponents.push(value);
  }
  const pceSvn = derSmallInt(required(tcb, o('2.17'), 'PCESVN'), 'PCESVN');
  if (pceSvn > 0xffff) fail(`PCESVN ${pceSvn} does not fit 16 bits`);
  const cpuSvn = derOctets(required(tcb, o('2.18'), 'CPUSVN'), 'CPUSVN', 16);
  const pceId = derOctets(required(top, o('3'), 'PCE-ID'), 'PCE-ID', 2);
  const fmspc = derOctets(required(top, o('4'), 'FMSPC'), 'FMSPC', 6);
  const typeNumber = derSmallInt(required(top, o('5'), 'SGX Type'), 'SGX Type', DER_TAG.enumerated);
  const sgxType = SGX_TYPES[typeNumber] ?? typeNumber;

  const result: PckExtensions = {
    ppid: toHex(ppid),
    tcbComponents,
    pceSvn,
    cpuSvn: toHex(cpuSvn),
    pceId: toHex(pceId),
    fmspc: toHex(fmspc),
    sgxType,
  };
  const instance = top.get(o('6'));
  const config = top.get(o('7'));
  let configuration: PckExtensions['configuration'];
  if (config !== undefined) {
    const flags = oidValuePairs(config, 'Configuration');
    const flag = (n: string, name: string): boolean | undefined => {
      const node = flags.get(o(`7.${n}`));
      return node === undefined ? undefined : derBoolean(node, name);
    };
    configuration = {
      ...(flag('1', 'dynamicPlatform') === undefined ? {} : { dynamicPlatform: flag('1', 'dynamicPlatform') }),
      ...(flag('2', 'cachedKeys') === undefined ? {} : { cachedKeys: flag('2', 'cachedKeys') }),
      ...(flag('3', 'smtEnabled') === undefined ? {} : { smtEnabled: flag('3', 'smtEnabled') }),
    };
  }
  return {
    ...result,
    ...(instance === undefined ? {} : { platformInstanceId: toHex(derOctets(instance, 'PlatformInstanceID', 16)) }),
    ...(configuration === undefined ? {} : { configuration }),
  };
}
