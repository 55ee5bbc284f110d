/**
 * Intel DCAP quotes: bytes → typed structures. Sizes, versions, body types,
 * certification-data nesting and must-be-zero reserved ranges are checked
 * here; nothing is verified cryptographically (that is verify.ts).
 *
 * Supported: SGX quotes v3 (and v4/v5 with an SGX body), TDX quotes v4
 * (TD 1.0 body) and v5 (TD 1.0 or TD 1.5 body), all with ECDSA-P256
 * attestation keys and QE-report certification data carrying a PEM PCK chain.
 */
import { VerifyError } from '../../errors.js';

/** Header `tee_type` values. */
export const TEE_TYPE = { sgx: 0x00, tdx: 0x81 } as const;

/** Header `att_key_type` for ECDSA-256 with P-256; the only one Intel's QEs emit today. */
export const ATT_KEY_TYPE_ECDSA_P256 = 2;

/** Certification data types (Intel DCAP quote format, Appendix A). */
export const CERT_DATA_TYPE = { pckChainPem: 5, qeReport: 6 } as const;

/** Sizes fixed by the quote format. */
export const QUOTE_SIZES = {
  header: 48,
  sgxBody: 384,
  td10Body: 584,
  td15Body: 648,
  v5BodyDescriptor: 6,
  signature: 64,
  attestationKey: 64,
} as const;

/** v5 body descriptor types. */
export const BODY_TYPE = { sgx: 1, td10: 2, td15: 3 } as const;

/** The 48-byte quote header. */
export interface IntelQuoteHeader {
  readonly version: number;
  readonly attestationKeyType: number;
  readonly teeType: number;
  readonly qeSvn: number;
  readonly pceSvn: number;
  readonly qeVendorId: Uint8Array;
  readonly userData: Uint8Array;
}

/** An SGX enclave report body (384 B): the application enclave's, or the QE's. */
export interface SgxReportBody {
  readonly cpuSvn: Uint8Array;
  /** MISCSELECT as the 4 little-endian bytes of the report. */
  readonly miscSelect: Uint8Array;
  readonly isvExtProdId: Uint8Array;
  /** ATTRIBUTES (16 B): FLAGS u64 LE then XFRM u64 LE. */
  readonly attributes: Uint8Array;
  readonly mrEnclave: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly configId: Uint8Array;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly configSvn: number;
  readonly isvFamilyId: Uint8Array;
  readonly reportData: Uint8Array;
  /** ATTRIBUTES.FLAGS bit 1. */
  readonly debug: boolean;
}

/** A TD report body: TD 1.0 (584 B) or, with the two trailing fields, TD 1.5 (648 B). */
export interface TdReportBody {
  readonly kind: 'td10' | 'td15';
  readonly teeTcbSvn: Uint8Array;
  readonly mrSeam: Uint8Array;
  readonly mrSignerSeam: Uint8Array;
  readonly seamAttributes: Uint8Array;
  /** TD_ATTRIBUTES as the 8 little-endian bytes of the report. */
  readonly tdAttributes: Uint8Array;
  readonly xfam: Uint8Array;
  readonly mrTd: Uint8Array;
  readonly mrConfigId: Uint8Array;
  readonly mrOwner: Uint8Array;
  readonly mrOwnerConfig: Uint8Array;
  readonly rtmrs: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  readonly reportData: Uint8Array;
  /** TD 1.5 only. */
  readonly teeTcbSvn2?: Uint8Array;
  /** TD 1.5 only. */
  readonly mrServiceTd?: Uint8Array;
  /** TD_ATTRIBUTES bit 0 (TUD.DEBUG). */
  readonly debug: boolean;
}

/** The quote body, tagged by what it attests. */
export type IntelQuoteBody =
  | { readonly tee: 'sgx'; readonly report: SgxReportBody }
  | { readonly tee: 'tdx'; readonly report: TdReportBody };

/** The ECDSA quote signature data with its QE report certification data. */
export interface IntelQuoteSignatureData {
  /** r‖s over header‖body (big-endian, 32 B each). */
  readonly signature: Uint8Array;
  /** Raw P-256 point x‖y (no 0x04 prefix). */
  readonly attestationKey: Uint8Array;
  /** The raw 384-byte QE report the PCK signs. */
  readonly qeReportRaw: Uint8Array;
  readonly qeReport: SgxReportBody;
  /** r‖s by the PCK over `qeReportRaw`. */
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  /** The PEM PCK chain (certification data type 5), leaf first. */
  readonly pckChainPem: string;
}

/** A parsed quote. Byte fields are views into the input. */
export interface IntelQuote {
  readonly tee: 'sgx' | 'tdx';
  readonly header: IntelQuoteHeader;
  /** v5 body descriptor type (1 SGX, 2 TD 1.0, 3 TD 1.5); undefined for v3/v4. */
  readonly bodyType?: number;
  readonly body: IntelQuoteBody;
  /** The bytes the attestation key signs: header, v5 descriptor and body. */
  readonly signedData: Uint8Array;
  readonly signatureData: IntelQuoteSignatureData;
  /** The quote itself, without trailing bytes. */
  readonly quoteBytes: Uint8Array;
  /** Bytes after the end of the quote (all zero unless `allowTrailingData`). */
  readonly trailingBytes: number;
}

/** Parse options. */
export interface ParseIntelQuoteOptions {
  /**
   * Accept non-zero bytes after the end of the quote. Default false.
   *
   * Zero padding is always accepted: configfs-tsm and Azure return quotes in
   * fixed-size buffers (tdx/gotdx-cos113-quote.dat ends in 3065 zero bytes,
   * several others in 70), and zeros cannot carry a hidden message.
   * Non-zero trailing data is refused by default because it is covered by no
   * signature: a consumer that hashes or forwards the whole blob would treat
   * unauthenticated bytes as part of the evidence (tdx/gotdx-v4-spr-e4-quote.dat
   * carries 39 such ASCII bytes, appended by go-tdx-guest for testing).
   * Callers that know their transport appends data opt in explicitly.
   */
  readonly allowTrailingData?: boolean;
}

/** Bounds-checked little-endian reader; every overrun is a parse error naming the field. */
class Reader {
  offset = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly label: string,
  ) {}

  take(length: number, what: string): Uint8Array {
    if (length < 0 || this.offset + length > this.bytes.length) {
      throw new VerifyError(
        'EG_VERIFY_PARSE',
        `${this.label}: truncated at ${what} (needs ${length} bytes at offset ${this.offset}, ${Math.max(0, this.bytes.length - this.offset)} left)`,
      );
    }
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  u16(what: string): number {
    const b = this.take(2, what);
    return b[0]! | (b[1]! << 8);
  }

  u32(what: string): number {
    const b = this.take(4, what);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }
}

function u16le(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}

function mustBeZero(bytes: Uint8Array, from: number, to: number, what: string): void {
  for (let i = from; i < to; i++) {
    if (bytes[i] !== 0) {
      throw new VerifyError('EG_VERIFY_PARSE', `${what}: reserved byte at offset ${i} is 0x${bytes[i]!.toString(16)}, must be zero`);
    }
  }
}

/**
 * Parses a 384-byte SGX report body (an application enclave's or a QE's).
 * Reserved ranges (offsets 20–31, 96–127, 160–191, 262–303) must be zero.
 */
export function parseSgxReportBody(bytes: Uint8Array, what: string): SgxReportBody {
  if (bytes.length !== QUOTE_SIZES.sgxBody) {
    throw new VerifyError('EG_VERIFY_PARSE', `${what}: SGX report body must be 384 bytes, got ${bytes.length}`);
  }
  mustBeZero(bytes, 20, 32, what);
  mustBeZero(bytes, 96, 128, what);
  mustBeZero(bytes, 160, 192, what);
  mustBeZero(bytes, 262, 304, what);
  const attributes = bytes.subarray(48, 64);
  return {
    cpuSvn: bytes.subarray(0, 16),
    miscSelect: bytes.subarray(16, 20),
    isvExtProdId: bytes.subarray(32, 48),
    attributes,
    mrEnclave: bytes.subarray(64, 96),
    mrSigner: bytes.subarray(128, 160),
    configId: bytes.subarray(192, 256),
    isvProdId: u16le(bytes, 256),
    isvSvn: u16le(bytes, 258),
    configSvn: u16le(bytes, 260),
    isvFamilyId: bytes.subarray(304, 320),
    reportData: bytes.subarray(320, 384),
    debug: (attributes[0]! & 0x02) !== 0,
  };
}

/** Parses a TD 1.0 (584 B) or TD 1.5 (648 B) report body. */
export function parseTdReportBody(bytes: Uint8Array, what: string): TdReportBody {
  if (bytes.length !== QUOTE_SIZES.td10Body && bytes.length !== QUOTE_SIZES.td15Body) {
    throw new VerifyError('EG_VERIFY_PARSE', `${what}: TD report body must be 584 or 648 bytes, got ${bytes.length}`);
  }
  const tdAttributes = bytes.subarray(120, 128);
  const base = {
    teeTcbSvn: bytes.subarray(0, 16),
    mrSeam: bytes.subarray(16, 64),
    mrSignerSeam: bytes.subarray(64, 112),
    seamAttributes: bytes.subarray(112, 120),
    tdAttributes,
    xfam: bytes.subarray(128, 136),
    mrTd: bytes.subarray(136, 184),
    mrConfigId: bytes.subarray(184, 232),
    mrOwner: bytes.subarray(232, 280),
    mrOwnerConfig: bytes.subarray(280, 328),
    rtmrs: [bytes.subarray(328, 376), bytes.subarray(376, 424), bytes.subarray(424, 472), bytes.subarray(472, 520)] as const,
    reportData: bytes.subarray(520, 584),
    debug: (tdAttributes[0]! & 0x01) !== 0,
  };
  if (bytes.length === QUOTE_SIZES.td10Body) return { kind: 'td10', ...base };
  return { kind: 'td15', ...base, teeTcbSvn2: bytes.subarray(584, 600), mrServiceTd: bytes.subarray(600, 648) };
}

function parseHeader(r: Reader): IntelQuoteHeader {
  const version = r.u16('header.version');
  // Version first, so that a v2/EPID or a future format is reported as unsupported, not as garbage.
  if (version !== 3 && version !== 4 && version !== 5) {
    throw new VerifyError('EG_VERIFY_UNSUPPORTED', `Intel quote version ${version} is not supported (3, 4 and 5 are)`);
  }
  const attestationKeyType = r.u16('header.att_key_type');
  if (attestationKeyType !== ATT_KEY_TYPE_ECDSA_P256) {
    throw new VerifyError('EG_VERIFY_UNSUPPORTED', `attestation key type ${attestationKeyType} is not supported (2 = ECDSA-P256 is)`);
  }
  const teeType = r.u32('header.tee_type');
  if (teeType !== TEE_TYPE.sgx && teeType !== TEE_TYPE.tdx) {
    throw new VerifyError('EG_VERIFY_UNSUPPORTED', `TEE type 0x${teeType.toString(16)} is not supported (0 SGX, 0x81 TDX)`);
  }
  if (version === 3 && teeType !== TEE_TYPE.sgx) {
    // Only SGX v3 quotes exist; a TDX quote claiming v3 is a format we do not know (go-tdx-guest: "quote format not supported").
    throw new VerifyError('EG_VERIFY_UNSUPPORTED', `version 3 quote with TEE type 0x${teeType.toString(16)}: v3 is SGX only`);
  }
  return {
    version,
    attestationKeyType,
    teeType,
    qeSvn: r.u16('header.qe_svn'),
    pceSvn: r.u16('header.pce_svn'),
    qeVendorId: r.take(16, 'header.qe_vendor_id'),
    userData: r.take(20, 'header.user_data'),
  };
}

function parseBody(
  r: Reader,
  header: IntelQuoteHeader,
): { body: IntelQuoteBody; bodyType?: number } {
  const tee = header.teeType === TEE_TYPE.tdx ? 'tdx' : 'sgx';
  if (header.version !== 5) {
    if (tee === 'sgx') return { body: { tee, report: parseSgxReportBody(r.take(QUOTE_SIZES.sgxBody, 'SGX report body'), 'SGX report body') } };
    return { body: { tee, report: parseTdReportBody(r.take(QUOTE_SIZES.td10Body, 'TD report body'), 'TD report body') } };
  }
  const bodyType = r.u16('body descriptor type');
  const bodySize = r.u32('body descriptor size');
  const expected: Record<number, { tee: 'sgx' | 'tdx'; size: number }> = {
    [BODY_TYPE.sgx]: { tee: 'sgx', size: QUOTE_SIZES.sgxBody },
    [BODY_TYPE.td10]: { tee: 'tdx', size: QUOTE_SIZES.td10Body },
    [BODY_TYPE.td15]: { tee: 'tdx', size: QUOTE_SIZES.td15Body },
  };
  const want = expected[bodyType];
  if (want === undefined) throw new VerifyError('EG_VERIFY_UNSUPPORTED', `v5 body type ${bodyType} is not supported (1 SGX, 2 TD 1.0, 3 TD 1.5)`);
  if (want.tee !== tee) throw new VerifyError('EG_VERIFY_PARSE', `v5 body type ${bodyType} does not match TEE type 0x${header.teeType.toString(16)}`);
  if (bodySize !== want.size) throw new VerifyError('EG_VERIFY_PARSE', `v5 body type ${bodyType} must be ${want.size} bytes, descriptor says ${bodySize}`);
  const bytes = r.take(bodySize, 'quote body');
  if (tee === 'sgx') return { body: { tee, report: parseSgxReportBody(bytes, 'SGX report body') }, bodyType };
  return { body: { tee, report: parseTdReportBody(bytes, 'TD report body') }, bodyType };
}

/** Reads a certification data header and its data, which must be of type `wantType`. */
function certificationData(r: Reader, wantType: number, what: string): Uint8Array {
  const type = r.u16(`${what} type`);
  const size = r.u32(`${what} size`);
  if (type !== wantType) {
    // Types 1–7 are defined by Intel: 1–4 (encrypted PPID) and 7 (platform manifest) need PCS
    // look-ups we do not do offline, so they are unsupported; any other value means the
    // structure is corrupt (e.g. a wrong QE auth data size shifted the read).
    const code = type >= 1 && type <= 7 ? 'EG_VERIFY_UNSUPPORTED' : 'EG_VERIFY_PARSE';
    throw new VerifyError(code, `${what}: certification data type ${type} where ${wantType} is required`);
  }
  return r.take(size, `${what} data`);
}

function parseQeReportPart(r: Reader): Omit<IntelQuoteSignatureData, 'signature' | 'attestationKey'> {
  const qeReportRaw = r.take(QUOTE_SIZES.sgxBody, 'QE report');
  const qeReport = parseSgxReportBody(qeReportRaw, 'QE report');
  const qeReportSignature = r.take(QUOTE_SIZES.signature, 'QE report signature');
  const authSize = r.u16('QE auth data size');
  const qeAuthData = r.take(authSize, 'QE auth data');
  const pem = certificationData(r, CERT_DATA_TYPE.pckChainPem, 'PCK certification data');
  // PEM is ASCII; latin1 maps bytes 1:1 so nothing is silently replaced before the PEM parser sees it.
  const pckChainPem = Buffer.from(pem.buffer, pem.byteOffset, pem.byteLength).toString('latin1');
  return { qeReportRaw, qeReport, qeReportSignature, qeAuthData, pckChainPem };
}

function parseSignatureData(bytes: Uint8Array, version: number): IntelQuoteSignatureData {
  const r = new Reader(bytes, 'quote signature data');
  const signature = r.take(QUOTE_SIZES.signature, 'quote signature');
  const attestationKey = r.take(QUOTE_SIZES.attestationKey, 'attestation key');
  let rest: Omit<IntelQuoteSignatureData, 'signature' | 'attestationKey'>;
  if (version === 3) {
    // v3 inlines the QE report certification data directly after the key.
    rest = parseQeReportPart(r);
  } else {
    const inner = certificationData(r, CERT_DATA_TYPE.qeReport, 'QE report certification data');
    const ir = new Reader(inner, 'QE report certification data');
    rest = parseQeReportPart(ir);
    if (ir.remaining !== 0) {
      throw new VerifyError('EG_VERIFY_PARSE', `QE report certification data: ${ir.remaining} bytes after the PCK chain`);
    }
  }
  if (r.remaining !== 0) {
    throw new VerifyError('EG_VERIFY_PARSE', `quote signature data: declared size exceeds its contents by ${r.remaining} bytes`);
  }
  return { signature, attestationKey, ...rest };
}

/**
 * Parses an Intel DCAP quote (see the module comment for the versions).
 * Throws `VerifyError` with EG_VERIFY_UNSUPPORTED for a well-formed quote of
 * a kind we do not verify, EG_VERIFY_PARSE for anything malformed. Trailing
 * bytes: see {@link ParseIntelQuoteOptions.allowTrailingData}.
 */
export function parseIntelQuote(bytes: Uint8Array, options: ParseIntelQuoteOptions = {}): IntelQuote {
  if (!(bytes instanceof Uint8Array)) throw new VerifyError('EG_VERIFY_PARSE', 'Intel quote must be a byte array');
  const r = new Reader(bytes, 'Intel quote');
  const header = parseHeader(r);
  const { body, bodyType } = parseBody(r, header);
  const signedEnd = r.offset;
  const sigLength = r.u32('signature data length');
  const sigBytes = r.take(sigLength, 'signature data');
  const signatureData = parseSignatureData(sigBytes, header.version);
  const end = r.offset;
  const trailing = bytes.subarray(end);
  if (!options.allowTrailingData && trailing.some((b) => b !== 0)) {
    throw new VerifyError(
      'EG_VERIFY_PARSE',
      `Intel quote ends at byte ${end} but ${trailing.length} non-zero trailing bytes follow (allowTrailingData is off)`,
    );
  }
  const parsed = {
    tee: body.tee,
    header,
    body,
    signedData: bytes.subarray(0, signedEnd),
    signatureData,
    quoteBytes: bytes.subarray(0, end),
    trailingBytes: trailing.length,
  };
  return bodyType === undefined ? parsed : { ...parsed, bodyType };
}
