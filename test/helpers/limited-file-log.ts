/**
 * Writes a signed decision log through the real file sink, for
 * test/integration/audit.test.ts, which runs it under `ulimit -f` so that the
 * file hits the size limit (EFBIG) partway through a batch.
 *
 * Usage: vite-node test/helpers/limited-file-log.ts PATH EVENTS
 * Prints one JSON line: the errors of the batches the sink could not write.
 */
import { AuditSigner, DecisionLog } from '../../src/audit/decision-log.js';
import { FileSink } from '../../src/audit/file-sink.js';
import { createLogger } from '../../src/observability/logger.js';
import { auditCertificate, logEntry } from './audit.js';

const [path, events] = process.argv.slice(2);
if (path === undefined || events === undefined) throw new Error('usage: limited-file-log.ts PATH EVENTS');

const signer = new AuditSigner();
const certPem = await auditCertificate(signer);
const lines: string[] = [];
const logger = createLogger('error', { write: (line: string) => void lines.push(line) });
const sink = await FileSink.open({ path, maxBytes: 1 << 30, maxFiles: 20 });
const log = new DecisionLog({ sinks: [sink], signer, certificate: () => certPem, batchEvents: 16, flushIntervalMs: 60_000, logger });

for (let n = 0; n < Number(events); n += 1) {
  log.record(logEntry(n));
  if (n % 16 === 15) await log.flush();
}
await log.close();
const failed = lines.filter((line) => line.includes('decision log batch not written')).map((line) => (JSON.parse(line) as { err: string }).err);
process.stdout.write(`${JSON.stringify({ failed })}\n`);
