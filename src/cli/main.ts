#!/usr/bin/env node
/**
 * The `enclave-gate` command. Subcommands live in their own modules; this
 * file only dispatches and turns catalogue errors into exit codes. Nothing
 * imports cli/.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnclaveGateError, EXIT, describeThrown } from '../errors.js';
import { PACKAGE_ROOT } from '../util/package-root.js';

const USAGE = `Usage: enclave-gate <command> [options]

Commands:
  serve      run the RA-TLS proxy in front of a model server (see: enclave-gate serve --help)
  demo       run the proxy in front of the bundled demo model server, simulated attestation
  verify     verify a server's RA-TLS certificate, a certificate file or evidence (see: enclave-gate verify --help)
  audit      verify a signed decision log (see: enclave-gate audit --help)
  version    print the version

Run 'enclave-gate <command> --help' for a command's options.
`;

async function main(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { serve } = await import('./serve.js');
      await serve(rest);
      return undefined;
    }
    case 'demo': {
      const { demo } = await import('./demo.js');
      await demo(rest);
      return undefined;
    }
    case 'verify': return (await import('./verify.js')).verify(rest);
    case 'audit': return (await import('./audit.js')).audit(rest);
    case 'version':
    case '--version': {
      const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
      process.stdout.write(`enclave-gate ${pkg.version}\n`);
      return EXIT.ok;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? EXIT.usage : EXIT.ok;
    default:
      process.stderr.write(`enclave-gate: unknown command "${command}"\n\n${USAGE}`);
      return EXIT.usage;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof EnclaveGateError) {
      process.stderr.write(`enclave-gate: ${err.code}: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`enclave-gate: unexpected error: ${describeThrown(err)}\n`);
      process.exitCode = EXIT.startup;
    }
  },
);
