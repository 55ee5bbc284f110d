/**
 * Certificate extensions that carry RA-TLS evidence.
 *
 * - 2.23.133.5.4.9 (TCG DICE tagged evidence, CCC Interoperable RA-TLS
 *   encoding): the extension value is the tagged CBOR
 *   `tag(EVIDENCE_TAG) [ evidence: bstr, claims: bstr ]`.
 * - 1.3.6.1.5.5.7.1.35 (IETF `id-pe-cmw`): the DER `CHOICE { cbor OCTET STRING }`
 *   holding a CBOR record CMW `[ media-type, value: bstr, ind: 4 (evidence) ]`
 *   whose value is the same tagged CBOR, so IETF-style verifiers get the same bytes.
 *   With GPU evidence beside the CPU evidence, the CMW is a collection instead:
 *   `{ "cpu": record as above, "gpu0": [GPU_MEDIA_TYPE, bstr (JSON), 4], "gpu1": … }`
 *   (draft-ietf-rats-msg-wrap §3.3; the 2.23.133.5.4.9 extension keeps the CPU evidence alone).
 * - 2.23.133.5.4.2 (TCG DICE endorsement manifest): stapled endorsements, same tag.
 * All are non-critical so ordinary TLS stacks ignore them.
 */
import { Tag, decode, encode, cdeEncodeOptions } from 'cbor2';
import { VerifyError } from '../errors.js';

export const OID_TCG_DICE_TAGGED_EVIDENCE = '2.23.133.5.4.9';
export const OID_TCG_DICE_ENDORSEMENT_MANIFEST = '2.23.133.5.4.2';
export const OID_CMW = '1.3.6.1.5.5.7.1.35';

/**
 * CBOR tags naming the evidence format. 60000 is the IANA tag for Intel TEE
 * quotes (SGX and TDX) that Gramine and rats-tls read. The `0x4547xxxx`
 * ("EG") tags are enclave-gate's own, unregistered, from the first-come
 * range; docs/ratls.md lists them.
 */
export const EVIDENCE_TAG = {
  intelQuote: 60000,
  simulated: 0x45470001,
  sevSnp: 0x45470002,
  nitro: 0x45470003,
  /** Azure vTPM evidence: the JSON document of verify/azure (HCL report, TPM quote, VCEK or TD quote). */
  azureVtpm: 0x45470004,
} as const;

/** Media type of the CMW record that repeats the tagged evidence. */
export const CMW_MEDIA_TYPE = 'application/vnd.enclave-gate.tagged-evidence+cbor';
/**
 * Media type of a GPU entry in the CMW collection: the JSON CoCo's attester
 * produces, `{"device_evidence_list": [{arch, uuid, evidence, certificate}]}`,
 * one device per entry (verify/nvidia reads it).
 */
export const GPU_MEDIA_TYPE = 'application/vnd.enclave-gate.nvidia-gpu-evidence+json';
/** Most GPUs a collection may carry (an 8-GPU HGX board). */
export const MAX_GPU_ENTRIES = 8;
/** cm-type indicator bit for evidence (draft-ietf-rats-msg-wrap). */
const CM_TYPE_EVIDENCE = 4;
/** Evidence plus claims stay well under this; larger values are refused before parsing. */
const MAX_EXTENSION_BYTES = 256 * 1024;

/** What the evidence extension carries. */
export interface TaggedEvidence {
  readonly tag: number;
  readonly evidence: Uint8Array;
  readonly claims: Uint8Array;
}

/** Encodes the 2.23.133.5.4.9 extension value. */
export function encodeTaggedEvidence(value: TaggedEvidence): Uint8Array {
  return encode(new Tag(value.tag, [value.evidence, value.claims]), cdeEncodeOptions);
}

/** Decodes the 2.23.133.5.4.9 extension value. */
export function decodeTaggedEvidence(bytes: Uint8Array): TaggedEvidence {
  if (bytes.length > MAX_EXTENSION_BYTES) throw new VerifyError('EG_VERIFY_PARSE', `evidence extension has ${bytes.length} bytes, limit ${MAX_EXTENSION_BYTES}`);
  let value: unknown;
  try {
    value = decode(bytes, { rejectStreaming: true });
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_PARSE', 'evidence extension is not CBOR', { cause });
  }
  if (!(value instanceof Tag)) throw new VerifyError('EG_VERIFY_PARSE', 'evidence extension is not tagged CBOR');
  const contents = value.contents;
  if (!Array.isArray(contents) || contents.length !== 2 || !(contents[0] instanceof Uint8Array) || !(contents[1] instanceof Uint8Array)) {
    throw new VerifyError('EG_VERIFY_PARSE', 'evidence extension is not [evidence bstr, claims bstr]');
  }
  return { tag: Number(value.tag), evidence: contents[0], claims: contents[1] };
}

/**
 * Encodes the `id-pe-cmw` extension value (DER OCTET STRING around a CBOR
 * CMW): a record of the tagged evidence, or, when `gpus` are given, a
 * collection `{ "cpu": record, "gpu0": record, … }`.
 */
export function encodeCmwExtension(taggedEvidence: Uint8Array, gpus: readonly Uint8Array[] = []): Uint8Array {
  const cpu = [CMW_MEDIA_TYPE, taggedEvidence, CM_TYPE_EVIDENCE];
  if (gpus.length === 0) return derOctetString(encode(cpu, cdeEncodeOptions));
  if (gpus.length > MAX_GPU_ENTRIES) throw new RangeError(`at most ${MAX_GPU_ENTRIES} GPUs fit in the CMW collection`);
  const collection = new Map<string, unknown>([['cpu', cpu]]);
  gpus.forEach((gpu, i) => collection.set(`gpu${i}`, [GPU_MEDIA_TYPE, gpu, CM_TYPE_EVIDENCE]));
  return derOctetString(encode(collection, cdeEncodeOptions));
}

/** What an `id-pe-cmw` extension carries: the CPU's tagged evidence and any GPUs' evidence, in label order. */
export interface CmwContents {
  readonly taggedEvidence: Uint8Array;
  readonly gpus: readonly Uint8Array[];
}

function cmwRecord(value: unknown, mediaType: string, label: string): Uint8Array {
  if (!Array.isArray(value) || value.length < 2 || value.length > 3 || value[0] !== mediaType || !(value[1] instanceof Uint8Array)) {
    throw new VerifyError('EG_VERIFY_UNSUPPORTED', `CMW ${label} is not a record of type ${mediaType}`);
  }
  return value[1];
}

/**
 * Decodes the `id-pe-cmw` extension value: a record (CPU evidence only) or a
 * collection with "cpu" and "gpu0".."gpuN" (contiguous); any other label is refused.
 */
export function decodeCmwContents(bytes: Uint8Array): CmwContents {
  const inner = readDerOctetString(bytes, 'CMW extension');
  let value: unknown;
  try {
    value = decode(inner, { rejectStreaming: true, rejectDuplicateKeys: true });
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_PARSE', 'CMW extension does not hold CBOR', { cause });
  }
  if (Array.isArray(value)) return { taggedEvidence: cmwRecord(value, CMW_MEDIA_TYPE, 'record'), gpus: [] };
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array || value instanceof Map) {
    throw new VerifyError('EG_VERIFY_UNSUPPORTED', 'CMW extension is neither a record nor a collection with text labels');
  }
  const entries = value as Record<string, unknown>;
  const labels = Object.keys(entries);
  const gpuCount = labels.length - 1;
  if (!('cpu' in entries) || gpuCount < 1 || gpuCount > MAX_GPU_ENTRIES) {
    throw new VerifyError('EG_VERIFY_UNSUPPORTED', `CMW collection must hold "cpu" and 1..${MAX_GPU_ENTRIES} GPUs ("gpu0"…), got ${labels.slice(0, 10).join(', ')}`);
  }
  const gpus: Uint8Array[] = [];
  for (let i = 0; i < gpuCount; i++) {
    if (!(`gpu${i}` in entries)) throw new VerifyError('EG_VERIFY_UNSUPPORTED', `CMW collection lacks "gpu${i}" (labels must be cpu, gpu0, gpu1, …)`);
    gpus.push(cmwRecord(entries[`gpu${i}`], GPU_MEDIA_TYPE, `"gpu${i}"`));
  }
  return { taggedEvidence: cmwRecord(entries['cpu'], CMW_MEDIA_TYPE, '"cpu"'), gpus };
}

/** Decodes the `id-pe-cmw` extension value back to the (CPU) tagged evidence bytes. */
export function decodeCmwExtension(bytes: Uint8Array): Uint8Array {
  return decodeCmwContents(bytes).taggedEvidence;
}

/** DER OCTET STRING with definite length. */
export function derOctetString(content: Uint8Array): Uint8Array {
  const len = content.length;
  let header: number[];
  if (len < 0x80) header = [0x04, len];
  else if (len < 0x100) header = [0x04, 0x81, len];
  else if (len < 0x10000) header = [0x04, 0x82, len >> 8, len & 0xff];
  else header = [0x04, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff];
  const out = new Uint8Array(header.length + len);
  out.set(header, 0);
  out.set(content, header.length);
  return out;
}

/** Reads a DER OCTET STRING that spans all of `bytes`. */
export function readDerOctetString(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x04) throw new VerifyError('EG_VERIFY_PARSE', `${what} is not a DER OCTET STRING`);
  let len = bytes[1]!;
  let offset = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || bytes.length < 2 + n) throw new VerifyError('EG_VERIFY_PARSE', `${what} has an invalid DER length`);
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | bytes[2 + i]!;
    offset = 2 + n;
  }
  if (offset + len !== bytes.length) throw new VerifyError('EG_VERIFY_PARSE', `${what} length does not match its content`);
  return bytes.subarray(offset);
}
