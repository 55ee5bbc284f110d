/**
 * Reads the http(s) URIs of a certificate's CRL Distribution Points
 * extension (RFC 5280 §4.2.1.13): where the Intel SGX Root CA says its CRL
 * lives. Only the fullName URI form is read; Intel uses nothing else.
 */
import { DER_TAG, derChildren, expectTag, readCertificateFields, readDerExact } from '../intel/der.js';

const CRL_DISTRIBUTION_POINTS_OID = '2.5.29.31';
/** Context tags: [0] distributionPoint, [0] fullName (both constructed), [6] uniformResourceIdentifier. */
const TAG_CONSTRUCTED_0 = 0xa0;
const TAG_URI = 0x86;

/** The http(s) CRL distribution point URIs of `certDer`, in order; empty when it has none. */
export function crlDistributionPoints(certDer: Uint8Array): string[] {
  const ext = readCertificateFields(certDer, 'certificate').extensions.get(CRL_DISTRIBUTION_POINTS_OID);
  if (ext === undefined) return [];
  const uris: string[] = [];
  const points = derChildren(expectTag(readDerExact(ext.value, 'CRL distribution points'), DER_TAG.sequence, 'CRL distribution points'), 'CRL distribution points');
  for (const point of points) {
    const name = derChildren(point, 'distribution point').find((n) => n.tag === TAG_CONSTRUCTED_0);
    if (name === undefined) continue;
    const fullName = derChildren(name, 'distribution point name').find((n) => n.tag === TAG_CONSTRUCTED_0);
    if (fullName === undefined) continue;
    for (const general of derChildren(fullName, 'fullName')) {
      if (general.tag !== TAG_URI) continue;
      const uri = Buffer.from(general.content).toString('latin1');
      if (/^https?:\/\//i.test(uri)) uris.push(uri);
    }
  }
  return uris;
}
