/**
 * Runs the real CLI from source (vite-node src/cli/main.ts) as a child
 * process, for tests that need `enclave-gate serve` as a user starts it
 * (signals, exit codes, files written on shutdown).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/util/package-root.js';

export const VITE_NODE = join(PACKAGE_ROOT, 'node_modules', '.bin', 'vite-node');
export const CLI_MAIN = join(PACKAGE_ROOT, 'src', 'cli', 'main.ts');

/** Starts `enclave-gate serve ARGS` and resolves with its URL once it logs that it serves (90 s at most). */
export async function serveChild(args: readonly string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(VITE_NODE, [CLI_MAIN, 'serve', ...args], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 90_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /"url":"(https:\/\/127\.0\.0\.1:\d+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}):\n${out}`));
    });
  });
  return { child, url };
}

/** Sends SIGTERM and resolves with the exit code once the child has exited. */
export async function stopChild(child: ChildProcess): Promise<number | null> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  return code;
}
