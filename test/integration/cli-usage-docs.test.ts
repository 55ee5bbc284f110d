/**
 * The docs show the CLI's usage exactly as the command prints it. Every
 * fenced block in docs/*.md and README.md whose first line starts with
 * `Usage:` is compared with the `--help` output of the command it names, run
 * through the real entry point (src/cli/main.ts) in a child process; and every
 * command's help must appear in some doc, so a block cannot be dropped to
 * silence the test.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/util/package-root.js';

const COMMANDS = ['', 'serve', 'demo', 'verify'] as const;

interface UsageBlock {
  readonly file: string;
  readonly command: string;
  readonly text: string;
}

function usageBlocks(): UsageBlock[] {
  const files = [...readdirSync(join(PACKAGE_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f)), 'README.md'];
  const blocks: UsageBlock[] = [];
  for (const file of files) {
    const markdown = readFileSync(join(PACKAGE_ROOT, file), 'utf8');
    for (const match of markdown.matchAll(/^```[a-z]*\n([\s\S]*?)^```$/gm)) {
      const text = match[1]!;
      if (!text.startsWith('Usage:')) continue;
      // The command is the word after the first `enclave-gate` of the usage line
      // (which may wrap onto the next line); `<command>` means the top-level help.
      const named = /^Usage:\s*enclave-gate (\S+)/.exec(text)?.[1] ?? '';
      blocks.push({ file, command: named.startsWith('<') ? '' : named, text });
    }
  }
  return blocks;
}

const help = new Map<string, string>();

beforeAll(async () => {
  const bin = join(PACKAGE_ROOT, 'node_modules', '.bin', 'vite-node');
  const run = promisify(execFile);
  // One child per command, in sequence: the machine is shared.
  for (const command of COMMANDS) {
    const args = [join(PACKAGE_ROOT, 'src', 'cli', 'main.ts'), ...(command === '' ? [] : [command]), '--help'];
    const { stdout } = await run(bin, args, { cwd: PACKAGE_ROOT, timeout: 60_000 });
    help.set(command, stdout);
  }
}, 240_000);

describe('CLI usage blocks in the docs', () => {
  it('every usage block equals the --help output of its command', () => {
    const blocks = usageBlocks();
    expect(blocks.length).toBeGreaterThanOrEqual(COMMANDS.length);
    for (const block of blocks) {
      expect(help.has(block.command), `${block.file}: a usage block for unknown command "${block.command}"`).toBe(true);
      expect(block.text, `${block.file}: the usage block of "enclave-gate ${block.command}" differs from --help`).toBe(help.get(block.command));
    }
  });

  it('every command has its help in the docs', () => {
    const documented = new Set(usageBlocks().map((b) => b.command));
    for (const command of COMMANDS) expect(documented.has(command), `no usage block for "enclave-gate ${command}"`).toBe(true);
  });
});
