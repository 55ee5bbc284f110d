/** What the decision-log tests share: a finished request to record, and a certificate that binds a log's signing key. */
import type { AuditSigner, DecisionLogEntry } from '../../src/audit/decision-log.js';
import { createSimulatedProvider } from '../../src/evidence/simulated.js';
import { issueCertificate } from '../../src/ratls/issue.js';

/** The n-th finished request: allowed, without an input, its own request id, port and second. */
export const logEntry = (n: number): DecisionLogEntry => ({
  requestId: `r${n}`,
  timestamp: Date.UTC(2026, 11, 4, 12, 0, n),
  method: 'POST',
  url: '/v1/chat/completions?secret=1',
  address: '127.0.0.1',
  port: 5000 + n,
  input: undefined,
  result: { allow: true, reasons: [] },
  status: 200,
  outcome: 'allow',
  code: 'ok',
  reasons: undefined,
  policyMs: 0.02,
  totalMs: 1.5,
  policy: { revision: 'r1', digest: { alg: 'sha-384', hex: '00' } },
});

/** A simulated RA-TLS certificate that binds `signer`'s key, as the proxy issues one. */
export async function auditCertificate(signer: AuditSigner): Promise<string> {
  return (
    await issueCertificate({
      provider: createSimulatedProvider(),
      policyHash: { alg: 'sha-384', digest: new Uint8Array(48) },
      keyAlgorithm: 'P-256',
      validitySeconds: 600,
      subjectAltNames: ['localhost'],
      commonName: 'audit',
      auditKeyHash: signer.keyHash,
    })
  ).certPem;
}
