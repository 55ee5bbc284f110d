/**
 * Reads one extension out of a certificate with @peculiar/x509, an
 * implementation independent of the code under test's encoder.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export function findExtension(certDer: Uint8Array, oid: string): { critical: boolean; value: Uint8Array } {
  const cert = new x509.X509Certificate(certDer);
  const ext = cert.extensions.find((e) => e.type === oid);
  if (!ext) throw new Error(`certificate has no extension ${oid}`);
  return { critical: ext.critical, value: new Uint8Array(ext.value) };
}
