/**
 * The short CI version of bench/fault-load.ts: 20 s of load over real TLS
 * while the model server restarts, the policy bundle changes and the
 * certificate rotates. Zero wrong decisions, zero planted PII reaching the
 * client or PII-carrying requests reaching the model server, and the only
 * failures are the model server being away (502) — never a 500, never a
 * dropped connection.
 */
import { describe, expect, it } from 'vitest';
import { runFaultLoad } from '../../../bench/fault-load-run.js';
import { ensurePolicyBundle } from '../../helpers/gateway.js';

describe('load with faults (short run)', () => {
  it('keeps every decision right and every planted PII value out while faults happen', async () => {
    ensurePolicyBundle();
    const report = await runFaultLoad({
      durationMs: 20_000,
      concurrency: 6,
      upstreamRestartEveryMs: 4000,
      bundleChangeEveryMs: 3000,
      certRotateEveryMs: 2500,
    });
    console.log(`fault-load: ${JSON.stringify({ ...report, rss: undefined })}`);
    expect(report.wrongDecisions, report.wrongDecisionSamples.join('; ')).toBe(0);
    expect(report.piiLeaksToClient).toBe(0);
    expect(report.piiLeaksToUpstream).toBe(0);
    // The planted PII was really there and caught (redacted), so the zero above means something.
    expect(report.redactedAnswers).toBeGreaterThan(10);
    expect(report.faults.upstreamRestarts).toBeGreaterThanOrEqual(3);
    expect(report.faults.bundleChanges).toBeGreaterThanOrEqual(4);
    expect(report.faults.certRotations).toBeGreaterThanOrEqual(5);
    expect(report.faults.faultErrors).toBe(0);
    expect(report.requests).toBeGreaterThan(500);
    // Every answer is one the design allows under these faults.
    const allowed = new Set(['200', '403 EG_POLICY_DENIED', '502 EG_UPSTREAM_UNAVAILABLE']);
    expect(Object.keys(report.answers).filter((a) => !allowed.has(a))).toEqual([]);
    expect(report.answers['200']).toBeGreaterThan(report.requests / 3);
  }, 90_000);
});
