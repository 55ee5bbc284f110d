/**
 * Child processes for the benchmarks: start and wait for a ready line, free
 * loopback ports, and CPU time from /proc summed over a process and its
 * descendants (nginx workers, enclave-gate workers).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

/** Spawns `cmd` and resolves once its output matches `ready` (30 s at most). */
export function start(cmd: string, args: readonly string[], ready: RegExp, env: NodeJS.ProcessEnv = process.env): Promise<ChildProcess> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let seen = '';
    const timer = setTimeout(() => fail(new Error(`${cmd} not ready after 30 s: ${seen.slice(-2000)}`)), 30_000);
    timer.unref();
    const onData = (c: Buffer): void => {
      seen += c.toString();
      if (seen.length > 100_000) seen = seen.slice(-50_000);
      if (ready.test(seen)) {
        clearTimeout(timer);
        ok(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`${cmd} exited with ${code}: ${seen.slice(-2000)}`));
    });
  });
}

/** Sends SIGTERM and resolves once the process has exited (SIGKILL after 10 s). */
export function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

/** Resolves once `url` answers (any status), polling every 100 ms for up to 20 s. */
export async function waitForHttp(url: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${url} did not answer within 20 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function statOf(pid: number): string[] | undefined {
  try {
    // Fields after the command name, which may contain spaces: state is [0], ppid [1], utime [11], stime [12].
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  } catch {
    return undefined;
  }
}

/** The process and every descendant, from /proc. */
function tree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = Number(statOf(Number(name))?.[1]);
    if (!Number.isFinite(ppid)) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** utime + stime in seconds of each of `roots` and their descendants, summed. */
export function cpuSeconds(roots: readonly number[]): number {
  let ticks = 0;
  for (const root of roots) {
    for (const pid of tree(root)) {
      const fields = statOf(pid);
      if (fields) ticks += Number(fields[11]) + Number(fields[12]);
    }
  }
  return ticks / 100;
}

/** Resident set size in MiB of `roots` and their descendants. */
export function rssMiB(roots: readonly number[]): number {
  let pages = 0;
  for (const root of roots) {
    for (const pid of tree(root)) {
      try {
        pages += Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
      } catch {
        // gone
      }
    }
  }
  return (pages * 4096) / 2 ** 20;
}
