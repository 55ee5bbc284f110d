/**
 * Writes a signed decision log through the real file sink, for
 * test/integration/audit.test.ts, which runs it under `ulimit -f` so that the
 * file hits the size limit (EFBIG) partway through a batch.
 *
 * Usage: vite-node test/helpers/limited-file-log.ts PATH EVENTS
 * Prints one JSON line: the errors of the batches the sink could not write.
 */
import { AuditSigner, DecisionLog, type DecisionLogEntry } from '../../src/audit/decision-log.js';
import { FileSink } from '../../src/audit/file-sink.js';
import { createSimulatedProvider } from '../../src/evidence/simulated.js';
import { createLogger } from '../../src/observability/logger.js';
import { issueCertificate } from '../../src/ratls/issue.js';

const [path, events] = process.argv.slice(2);
if (path === undefined || events === undefined) throw new Error('usage: limited-file-log.ts PATH EVENTS');

const signer = new AuditSigner();
const { certPem } = await issueCertificate({
  provider: createSimulatedProvider(),
  policyHash: { alg: 'sha-384', digest: new Uint8Array(48) },
  keyAlgorithm: 'P-256',
  validitySeconds: 600,
  subjectAltNames: ['localhost'],
  commonName: 'audit',
  auditKeyHash: signer.keyHash,
});
const lines: string[] = [];
const logger = createLogger('error', { write: (line: string) => void lines.push(line) });
const sink = await FileSink.open({ path, maxBytes: 1 << 30, maxFiles: 20 });
const log = new DecisionLog({ sinks: [sink], signer, certificate: () => certPem, batchEvents: 16, flushIntervalMs: 60_000, logger });

const entry = (n: number): DecisionLogEntry => ({
  requestId: `r${n}`,
  timestamp: Date.UTC(2026, 11, 5, 3, 0, 0, n),
  method: 'POST',
  url: '/v1/chat/completions',
  address: '127.0.0.1',
  port: 40000 + n,
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

for (let n = 0; n < Number(events); n += 1) {
  log.record(entry(n));
  if (n % 16 === 15) await log.flush();
}
await log.close();
const failed = lines.filter((line) => line.includes('decision log batch not written')).map((line) => (JSON.parse(line) as { err: string }).err);
process.stdout.write(`${JSON.stringify({ failed })}\n`);
