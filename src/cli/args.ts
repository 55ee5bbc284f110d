/**
 * Flag parsing shared by the subcommands: node:util parseArgs in strict mode,
 * so an unknown or misspelt flag is an error rather than silently ignored.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EnclaveGateError } from '../errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** What `parseFlags` returns for a given option table. */
export type ParsedFlags<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: true }>>;

/** Parses `argv` against `options`; usage problems become EG_CONFIG_INVALID. */
export function parseFlags<T extends Options>(argv: string[], options: T): ParsedFlags<T> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (cause) {
    throw new EnclaveGateError('EG_CONFIG_INVALID', (cause as Error).message, { cause });
  }
}
