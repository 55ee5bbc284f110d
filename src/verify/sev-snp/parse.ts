/**
 * SEV-SNP ATTESTATION_REPORT parsing: 1184 bytes → typed structure.
 *
 * No cryptography here (go-sev-guest's `abi` package does the same split):
 * this module checks the size, the version, the fixed signature algorithm and
 * every must-be-zero (MBZ) range, and decodes the bit fields. Anything it
 * cannot vouch for is rejected with the offset that failed, because a parser
 * that "mostly" understands a report is how reserved bits turn into
 * unverified claims later on.
 *
 * Layout: AMD SEV-SNP Firmware ABI specification (#56860), table
 * ATTESTATION_REPORT. Report v2 = ABI 1.55; v3 = 1.56 adds CPUID
 * family/model/stepping; v4 keeps the v3 layout; v5 = 1.58 adds the
 * mitigation vectors. All integers are little-endian.
 */
import { VerifyError } from '../../errors.js';

/** Byte size of an ATTESTATION_REPORT. */
export const SNP_REPORT_SIZE = 0x4a0;
/** The signature covers bytes 0x000..0x29F; the signature itself starts here. */
export const SNP_SIGNED_LENGTH = 0x2a0;
/** Lowest report version this parser understands (ABI 1.55). */
export const SNP_MIN_REPORT_VERSION = 2;
/** Highest report version this parser understands (ABI 1.58). */
export const SNP_MAX_REPORT_VERSION = 5;
/** SIGNATURE_ALGO value for ECDSA P-384 with SHA-384, the only one AMD defines. */
export const SNP_SIG_ALGO_ECDSA_P384_SHA384 = 1;
/** Length of each of R and S in the report (zero-extended little-endian). */
export const SNP_SIGNATURE_COMPONENT_SIZE = 72;

/** AMD EPYC generations with a pinned root; each has its own ARK and TCB layout. */
export type SnpProduct = 'milan' | 'genoa' | 'turin';

/** Every product, in the order a v2 report without a product hint tries them. */
export const SNP_PRODUCTS: readonly SnpProduct[] = ['milan', 'genoa', 'turin'];

/** Which key signed the report (SIGNER_INFO bits 4:2). */
export type SnpSigningKey = 'vcek' | 'vlek' | 'none';

/** Guest policy (report offset 0x08), decoded. */
export interface SnpPolicy {
  /** The raw 64-bit value. */
  readonly raw: bigint;
  readonly abiMinor: number;
  readonly abiMajor: number;
  /** Bit 16: SMT may be enabled on the host. */
  readonly smt: boolean;
  /** Bit 18: a migration agent may be associated with the guest. */
  readonly migrateMa: boolean;
  /** Bit 19: the hypervisor may use the debug commands (read guest memory). */
  readonly debug: boolean;
  /** Bit 20: the guest may only run on a single socket. */
  readonly singleSocket: boolean;
  /** Bit 21: CXL may be populated with devices or memory. */
  readonly cxlAllowed: boolean;
  /** Bit 22: AES-256-XTS is required for memory encryption. */
  readonly memAes256Xts: boolean;
  /** Bit 23: RAPL must be disabled. */
  readonly raplDis: boolean;
  /** Bit 24: ciphertext hiding for DRAM must be enabled. */
  readonly ciphertextHiding: boolean;
  /** Bit 25: page move / swap commands are disabled for the guest (ABI 1.58). */
  readonly pageSwapDisable: boolean;
}

/** PLATFORM_INFO (report offset 0x40), decoded. */
export interface SnpPlatformInfo {
  readonly raw: bigint;
  readonly smtEnabled: boolean;
  readonly tsmeEnabled: boolean;
  readonly eccEnabled: boolean;
  readonly raplDisabled: boolean;
  readonly ciphertextHidingEnabled: boolean;
  readonly aliasCheckComplete: boolean;
  readonly tioEnabled: boolean;
  /**
   * Bits this parser does not know (bit 6 and bits 63:8). Kept rather than
   * rejected: AMD adds platform flags without a new report version, and the
   * flags describe the host, not the guest's security promises.
   */
  readonly unknownBits: bigint;
}

/** SIGNER_INFO (report offset 0x48), decoded. */
export interface SnpSignerInfo {
  readonly raw: number;
  /** Bit 0: the ID key is certified by an author key (AUTHOR_KEY_DIGEST is meaningful). */
  readonly authorKeyEn: boolean;
  /** Bit 1: the guest asked to mask CHIP_ID (it is then all zeros). */
  readonly maskChipKey: boolean;
  readonly signingKey: SnpSigningKey;
}

/** A firmware version triple (major.minor.build). */
export interface SnpFirmwareVersion {
  readonly major: number;
  readonly minor: number;
  readonly build: number;
}

/** CPUID family/model/stepping the firmware wrote into a v3+ report. */
export interface SnpCpuid {
  readonly family: number;
  readonly model: number;
  readonly stepping: number;
}

/** A TCB_VERSION decoded with the layout of a given product. */
export interface SnpTcb {
  /** The eight bytes as they appear in the report, hex. */
  readonly raw: string;
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  /** Turin only: the FMC (first mutable code) SPL. */
  readonly fmc?: number;
  /** Bytes the layout reserves, hex; AMD defines them as zero today. */
  readonly reserved: string;
}

/** A parsed ATTESTATION_REPORT. Byte fields are copies, never views of the input. */
export interface SnpReport {
  /** The 1184 report bytes (a copy). */
  readonly bytes: Uint8Array;
  readonly version: number;
  readonly guestSvn: number;
  readonly policy: SnpPolicy;
  readonly familyId: Uint8Array;
  readonly imageId: Uint8Array;
  readonly vmpl: number;
  readonly signatureAlgo: number;
  /** TCB_VERSION fields stay raw: their layout depends on the product (Turin differs). */
  readonly currentTcb: Uint8Array;
  readonly platformInfo: SnpPlatformInfo;
  readonly signerInfo: SnpSignerInfo;
  readonly reportData: Uint8Array;
  readonly measurement: Uint8Array;
  readonly hostData: Uint8Array;
  readonly idKeyDigest: Uint8Array;
  readonly authorKeyDigest: Uint8Array;
  readonly reportId: Uint8Array;
  readonly reportIdMa: Uint8Array;
  readonly reportedTcb: Uint8Array;
  /** Present from report version 3 on. */
  readonly cpuid: SnpCpuid | undefined;
  readonly chipId: Uint8Array;
  readonly committedTcb: Uint8Array;
  readonly currentVersion: SnpFirmwareVersion;
  readonly committedVersion: SnpFirmwareVersion;
  readonly launchTcb: Uint8Array;
  /** Present from report version 5 on. */
  readonly launchMitVector: bigint | undefined;
  /** Present from report version 5 on. */
  readonly currentMitVector: bigint | undefined;
  /** R and S exactly as stored: 72 bytes each, little-endian. */
  readonly signatureR: Uint8Array;
  readonly signatureS: Uint8Array;
}

const POLICY_RESERVED_MUST_BE_ONE = 1n << 17n;
/** Bits 63:26 of the policy are reserved and must be zero. */
const POLICY_MBZ_MASK = ~((1n << 26n) - 1n) & 0xffff_ffff_ffff_ffffn;
/** Platform-info bits this parser names: 0–5 and 7 (6 is reserved). */
const PLATFORM_INFO_KNOWN = 0b1011_1111n;

function hex2(value: number): string {
  return `0x${value.toString(16).padStart(3, '0')}`;
}

/** Throws EG_VERIFY_PARSE naming the first non-zero byte of report[lo, hi). */
function mustBeZero(report: Uint8Array, lo: number, hi: number, what: string): void {
  for (let i = lo; i < hi; i++) {
    if (report[i] !== 0) {
      throw new VerifyError(
        'EG_VERIFY_PARSE',
        `SNP report: ${what} at ${hex2(lo)}..${hex2(hi - 1)} must be zero, found 0x${report[i]!
          .toString(16)
          .padStart(2, '0')} at offset ${hex2(i)}`,
        { details: { offset: i } },
      );
    }
  }
}

function bit(value: bigint, n: number): boolean {
  return ((value >> BigInt(n)) & 1n) === 1n;
}

/** Decodes the guest policy; rejects the reserved-must-be-one bit clear or MBZ bits set. */
export function decodeSnpPolicy(raw: bigint): SnpPolicy {
  if ((raw & POLICY_RESERVED_MUST_BE_ONE) === 0n) {
    throw new VerifyError('EG_VERIFY_PARSE', `SNP report: policy 0x${raw.toString(16)} has reserved bit 17 clear (must be 1), offset 0x008`);
  }
  if ((raw & POLICY_MBZ_MASK) !== 0n) {
    throw new VerifyError(
      'EG_VERIFY_PARSE',
      `SNP report: policy 0x${raw.toString(16)} sets reserved bits 63:26 (must be zero), offset 0x008`,
    );
  }
  return {
    raw,
    abiMinor: Number(raw & 0xffn),
    abiMajor: Number((raw >> 8n) & 0xffn),
    smt: bit(raw, 16),
    migrateMa: bit(raw, 18),
    debug: bit(raw, 19),
    singleSocket: bit(raw, 20),
    cxlAllowed: bit(raw, 21),
    memAes256Xts: bit(raw, 22),
    raplDis: bit(raw, 23),
    ciphertextHiding: bit(raw, 24),
    pageSwapDisable: bit(raw, 25),
  };
}

/** Decodes PLATFORM_INFO; unknown bits are kept in `unknownBits`, not rejected. */
export function decodeSnpPlatformInfo(raw: bigint): SnpPlatformInfo {
  return {
    raw,
    smtEnabled: bit(raw, 0),
    tsmeEnabled: bit(raw, 1),
    eccEnabled: bit(raw, 2),
    raplDisabled: bit(raw, 3),
    ciphertextHidingEnabled: bit(raw, 4),
    aliasCheckComplete: bit(raw, 5),
    tioEnabled: bit(raw, 7),
    unknownBits: raw & ~PLATFORM_INFO_KNOWN,
  };
}

/** Decodes SIGNER_INFO; bits 31:5 are MBZ and signing-key values 2–6 are reserved. */
export function decodeSnpSignerInfo(raw: number): SnpSignerInfo {
  if (raw >>> 5 !== 0) {
    throw new VerifyError(
      'EG_VERIFY_PARSE',
      `SNP report: signer_info 0x${raw.toString(16)} sets reserved bits 31:5 (must be zero), offset 0x048`,
    );
  }
  const key = (raw >>> 2) & 0b111;
  let signingKey: SnpSigningKey;
  if (key === 0) signingKey = 'vcek';
  else if (key === 1) signingKey = 'vlek';
  else if (key === 7) signingKey = 'none';
  else {
    throw new VerifyError('EG_VERIFY_PARSE', `SNP report: signer_info SIGNING_KEY ${key} is reserved (0 VCEK, 1 VLEK, 7 none), offset 0x048`);
  }
  return { raw, authorKeyEn: (raw & 1) !== 0, maskChipKey: (raw & 2) !== 0, signingKey };
}

/**
 * Decodes an 8-byte TCB_VERSION with the product's layout.
 * Milan and Genoa: byte 0 boot loader, 1 TEE, 2–5 reserved, 6 SNP, 7 microcode.
 * Turin: byte 0 FMC, 1 boot loader, 2 TEE, 3 SNP, 4–6 reserved, 7 microcode.
 */
export function decodeSnpTcb(raw: Uint8Array, product: SnpProduct): SnpTcb {
  if (raw.length !== 8) throw new VerifyError('EG_VERIFY_PARSE', `SNP TCB_VERSION must be 8 bytes, got ${raw.length}`);
  const hex = Buffer.from(raw).toString('hex');
  if (product === 'turin') {
    return {
      raw: hex,
      fmc: raw[0]!,
      bootloader: raw[1]!,
      tee: raw[2]!,
      snp: raw[3]!,
      microcode: raw[7]!,
      reserved: Buffer.from(raw.subarray(4, 7)).toString('hex'),
    };
  }
  return {
    raw: hex,
    bootloader: raw[0]!,
    tee: raw[1]!,
    snp: raw[6]!,
    microcode: raw[7]!,
    reserved: Buffer.from(raw.subarray(2, 6)).toString('hex'),
  };
}

/**
 * Maps the CPUID family/model of a v3+ report to the product whose ARK signs
 * its endorsements. Genoa's KDS product also covers Bergamo and Siena
 * (family 0x19 models 0xA0–0xAF); Turin covers family 0x1A models 0x00–0x11.
 * Undefined for anything else (Venice, pre-Milan, zeros): no pinned root.
 */
export function snpProductFromCpuid(cpuid: SnpCpuid): SnpProduct | undefined {
  const { family, model } = cpuid;
  if (family === 0x19) {
    if (model <= 0x0f) return 'milan';
    if ((model >= 0x10 && model <= 0x1f) || (model >= 0xa0 && model <= 0xaf)) return 'genoa';
    return undefined;
  }
  if (family === 0x1a && model <= 0x11) return 'turin';
  return undefined;
}

/**
 * Parses an ATTESTATION_REPORT. Throws EG_VERIFY_PARSE for a wrong size, a
 * non-zero reserved range (naming the offset) or a malformed bit field, and
 * EG_VERIFY_UNSUPPORTED for a version or signature algorithm it does not know.
 */
export function parseSnpReport(input: Uint8Array): SnpReport {
  if (!(input instanceof Uint8Array)) {
    throw new VerifyError('EG_VERIFY_PARSE', 'SNP report must be a byte array');
  }
  if (input.length !== SNP_REPORT_SIZE) {
    throw new VerifyError(
      'EG_VERIFY_PARSE',
      `SNP report is ${input.length} bytes, an ATTESTATION_REPORT is exactly ${SNP_REPORT_SIZE} (0x4a0)`,
      { details: { length: input.length } },
    );
  }
  // Copy first: callers may reuse their buffer, and every field below must
  // describe the bytes whose signature is checked later.
  const b = new Uint8Array(input);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u32 = (off: number): number => view.getUint32(off, true);
  const u64 = (off: number): bigint => view.getBigUint64(off, true);
  const bytes = (off: number, len: number): Uint8Array => b.slice(off, off + len);

  const version = u32(0x000);
  if (version < SNP_MIN_REPORT_VERSION || version > SNP_MAX_REPORT_VERSION) {
    throw new VerifyError(
      'EG_VERIFY_UNSUPPORTED',
      `SNP report version ${version} is not supported (this verifier reads versions ${SNP_MIN_REPORT_VERSION}..${SNP_MAX_REPORT_VERSION}), offset 0x000`,
      { details: { version } },
    );
  }
  const signatureAlgo = u32(0x034);
  if (signatureAlgo !== SNP_SIG_ALGO_ECDSA_P384_SHA384) {
    throw new VerifyError(
      'EG_VERIFY_UNSUPPORTED',
      `SNP report signature_algo ${signatureAlgo} is not supported (only 1 = ECDSA P-384 with SHA-384), offset 0x034`,
    );
  }
  const policy = decodeSnpPolicy(u64(0x008));
  const signerInfo = decodeSnpSignerInfo(u32(0x048));
  mustBeZero(b, 0x04c, 0x050, 'reserved');

  // CPUID family/model/stepping exist from v3 on; in v2 those bytes are reserved.
  const cpuid: SnpCpuid | undefined = version >= 3 ? { family: b[0x188]!, model: b[0x189]!, stepping: b[0x18a]! } : undefined;
  mustBeZero(b, version >= 3 ? 0x18b : 0x188, 0x1a0, 'reserved');
  mustBeZero(b, 0x1eb, 0x1ec, 'reserved');
  mustBeZero(b, 0x1ef, 0x1f0, 'reserved');
  // The mitigation vectors arrived with v5; before that 0x1F8..0x207 is reserved too.
  mustBeZero(b, version >= 5 ? 0x208 : 0x1f8, SNP_SIGNED_LENGTH, 'reserved');
  // ECDSA P-384 uses 2 × 72 bytes of the 512-byte signature field; the rest is MBZ.
  mustBeZero(b, SNP_SIGNED_LENGTH + 2 * SNP_SIGNATURE_COMPONENT_SIZE, SNP_REPORT_SIZE, 'signature padding');

  return {
    bytes: b,
    version,
    guestSvn: u32(0x004),
    policy,
    familyId: bytes(0x010, 16),
    imageId: bytes(0x020, 16),
    vmpl: u32(0x030),
    signatureAlgo,
    currentTcb: bytes(0x038, 8),
    platformInfo: decodeSnpPlatformInfo(u64(0x040)),
    signerInfo,
    reportData: bytes(0x050, 64),
    measurement: bytes(0x090, 48),
    hostData: bytes(0x0c0, 32),
    idKeyDigest: bytes(0x0e0, 48),
    authorKeyDigest: bytes(0x110, 48),
    reportId: bytes(0x140, 32),
    reportIdMa: bytes(0x160, 32),
    reportedTcb: bytes(0x180, 8),
    cpuid,
    chipId: bytes(0x1a0, 64),
    committedTcb: bytes(0x1e0, 8),
    currentVersion: { build: b[0x1e8]!, minor: b[0x1e9]!, major: b[0x1ea]! },
    committedVersion: { build: b[0x1ec]!, minor: b[0x1ed]!, major: b[0x1ee]! },
    launchTcb: bytes(0x1f0, 8),
    launchMitVector: version >= 5 ? u64(0x1f8) : undefined,
    currentMitVector: version >= 5 ? u64(0x200) : undefined,
    signatureR: bytes(SNP_SIGNED_LENGTH, SNP_SIGNATURE_COMPONENT_SIZE),
    signatureS: bytes(SNP_SIGNED_LENGTH + SNP_SIGNATURE_COMPONENT_SIZE, SNP_SIGNATURE_COMPONENT_SIZE),
  };
}
