/**
 * The pure parts of the cluster primary: worker count resolution and the
 * crash-restart backoff (the process-level behaviour is exercised for real
 * in test/integration/workers.test.ts).
 */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { resolveWorkerCount, restartDelayMs } from '../../../src/proxy/cluster/primary.js';

describe('workers setting', () => {
  it('defaults to 1, and takes a count or auto from the flag, the environment or the file', () => {
    expect(loadConfig({}).workers).toBe(1);
    expect(loadConfig({ flags: { workers: '3' } }).workers).toBe(3);
    expect(loadConfig({ env: { ENCLAVE_GATE_WORKERS: 'auto' } }).workers).toBe('auto');
    expect(loadConfig({ env: { ENCLAVE_GATE_WORKERS: '2' }, flags: { workers: '4' } }).workers).toBe(4);
    expect(resolveWorkerCount('auto')).toBe(availableParallelism());
    expect(resolveWorkerCount(5)).toBe(5);
  });

  it.each(['0', '-1', '1.5', 'two', '', '257'])('refuses %j with a config error naming the key', (value) => {
    expect(() => loadConfig({ flags: { workers: value } })).toThrowError(/workers: must be a whole number from 1 to 256, or "auto"/);
  });
});

describe('restartDelayMs', () => {
  const now = 1_000_000;
  it('is short after an isolated crash and doubles with each recent crash, up to 30 s', () => {
    expect(restartDelayMs([now], now)).toBe(100);
    expect(restartDelayMs([now - 2000, now], now)).toBe(200);
    expect(restartDelayMs([now - 3000, now - 2000, now], now)).toBe(400);
    const loop = Array.from({ length: 20 }, (_, i) => now - i * 100);
    expect(restartDelayMs(loop, now)).toBe(30_000);
  });

  it('forgets crashes older than a minute', () => {
    expect(restartDelayMs([now - 120_000, now - 61_000, now], now)).toBe(100);
  });
});
