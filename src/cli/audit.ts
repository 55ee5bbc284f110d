/**
 * `enclave-gate audit verify LOG… [--cert CERT.pem] [--allow-simulated]
 * [--reference-values F] [--json]`: checks a signed decision log
 * (docs/audit.md). Exit 0 when the chain, every signature and the signing
 * key's attestation verify; otherwise the exit code of the first failure
 * class (docs/errors.md).
 */
import { readFileSync } from 'node:fs';
import { describeThrown, EXIT, VerifyError } from '../errors.js';
import { formatAuditReport, verifyAuditLog } from '../verify/audit-log.js';
import { parseReferenceValues } from '../verify/reference-values.js';
import { parseFlags } from './args.js';

export const AUDIT_USAGE = `Usage: enclave-gate audit verify LOG... [options]

Verifies a decision log written with --decision-log: the hash chain (any edited,
dropped, reordered or inserted event is reported with its position), every
batch signature, and that the signing key is bound into attested RA-TLS
evidence. Give rotated files together (LOG LOG.1 ...), in any order.

Options:
  --cert CERT.pem           check the key against this certificate instead of the ones in the log
  --allow-simulated         accept simulated evidence (development only)
  --reference-values FILE   what the evidence must show (docs/verify.md)
  --json                    print the report as JSON
  -h, --help                show this help

Exit codes: 0 ok, 2 unparsable record, 3 bad batch signature, 7 key not bound,
13 chain broken, 14 unsigned events; a certificate that does not verify exits
with the verifier's code (docs/errors.md).
`;

function read(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new VerifyError('EG_VERIFY_USAGE', `cannot read ${what} ${path}: ${describeThrown(cause)}`, { cause });
  }
}

/** Runs `audit`; returns the exit code. */
export function audit(argv: string[]): number {
  const { values, positionals } = parseFlags(argv, {
    cert: { type: 'string' },
    'allow-simulated': { type: 'boolean' },
    'reference-values': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  const [sub, ...logs] = positionals;
  if (values.help === true) {
    process.stdout.write(AUDIT_USAGE);
    return EXIT.ok;
  }
  if (sub !== 'verify' || logs.length === 0) {
    process.stderr.write(`enclave-gate audit: ${sub === 'verify' ? 'name at least one log file' : 'the only subcommand is "verify"'}\n\n${AUDIT_USAGE}`);
    return EXIT.usage;
  }
  const referenceValues = values['reference-values'] === undefined ? undefined : parseReferenceValues(read(values['reference-values'], 'reference values'));
  const report = verifyAuditLog(
    logs.map((name) => ({ name, text: read(name, 'decision log') })),
    {
      ...(values.cert === undefined ? {} : { certificate: read(values.cert, 'certificate') }),
      ...(referenceValues === undefined ? {} : { referenceValues }),
      allowSimulated: values['allow-simulated'] === true,
    },
  );
  process.stdout.write(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatAuditReport(report));
  return report.exitCode;
}
