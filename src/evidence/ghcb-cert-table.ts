/**
 * The SEV-SNP certificate table the host hands to the guest (GHCB spec
 * v2.03, section 4.1.8.1, MSG_REPORT_REQ), which configfs-tsm exposes as
 * `auxblob` when the provider is `sev_guest`. Layout: 24-byte entries
 * { GUID (16 bytes, in the order the text form is written), u32 LE offset,
 * u32 LE length } ending with an all-zero entry; offsets count from the start
 * of the table. The host is untrusted, so every offset is bounds-checked and
 * the certificates are only stapled, never believed: clients verify them.
 */

/** GUIDs of the certificates the GHCB spec names (cross-checked with the kernel docs and go-sev-guest). */
export const GHCB_CERT_GUID = {
  vcek: '63da758d-e664-4564-adc5-f4b93be8accd',
  vlek: 'a8074bc2-a25a-483e-aae6-39c045a0b8a1',
  ask: '4ab7b379-bbac-4fe4-a02f-05aef327c782',
  ark: 'c0b406a4-a803-4952-9743-3fb6014cd0ae',
} as const;

/** Certificate kinds enclave-gate staples. */
export type GhcbCertKind = keyof typeof GHCB_CERT_GUID;

/** What a certificate table holds. */
export interface GhcbCertificates {
  /** DER certificates by kind (ASK here may be an ASVK when the host provisioned a VLEK). */
  readonly certs: Partial<Record<GhcbCertKind, Uint8Array>>;
  /** GUIDs present that enclave-gate does not staple (e.g. a CRL), for diagnostics. */
  readonly other: readonly string[];
}

const ENTRY_SIZE = 24;
/** Far more than any host uses (four certificates and a CRL); bounds the loop on hostile input. */
const MAX_ENTRIES = 64;

const KIND_BY_GUID = new Map<string, GhcbCertKind>(Object.entries(GHCB_CERT_GUID).map(([kind, guid]) => [guid, kind as GhcbCertKind]));

/** Text form of 16 GUID bytes taken in order. */
export function guidText(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Bytes of a GUID's text form, in order (the inverse of guidText). */
export function guidBytes(text: string): Uint8Array {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text)) throw new TypeError(`not a GUID: ${text}`);
  return new Uint8Array(Buffer.from(text.replaceAll('-', ''), 'hex'));
}

/**
 * Parses a certificate table. An empty blob is an empty table (the host
 * installed no certificates). Throws a plain Error naming the defect when
 * the table is malformed; the caller decides whether that is fatal.
 */
export function parseGhcbCertTable(blob: Uint8Array): GhcbCertificates {
  const certs: Partial<Record<GhcbCertKind, Uint8Array>> = {};
  const other: string[] = [];
  if (blob.length === 0) return { certs, other };
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const seen = new Set<string>();
  for (let index = 0; ; index++) {
    if (index >= MAX_ENTRIES) throw new Error(`certificate table has no terminator within ${MAX_ENTRIES} entries`);
    const at = index * ENTRY_SIZE;
    if (at + ENTRY_SIZE > blob.length) throw new Error(`certificate table ends without its all-zero terminator (entry ${index})`);
    const guid = blob.subarray(at, at + 16);
    const offset = view.getUint32(at + 16, true);
    const length = view.getUint32(at + 20, true);
    if (guid.every((b) => b === 0)) {
      if (offset !== 0 || length !== 0) throw new Error(`certificate table terminator (entry ${index}) is not all zero`);
      break;
    }
    const text = guidText(guid);
    if (seen.has(text)) throw new Error(`certificate table lists ${text} twice`);
    seen.add(text);
    if (length === 0 || offset + length > blob.length) {
      throw new Error(`certificate table entry ${index} (${text}) points outside the table: offset ${offset}, length ${length}, table ${blob.length} bytes`);
    }
    const kind = KIND_BY_GUID.get(text);
    // Copy: the caller may keep certificates long after the blob is gone.
    if (kind === undefined) other.push(text);
    else certs[kind] = blob.slice(offset, offset + length);
  }
  return { certs, other };
}
