import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runFraudBenchmark } from './benchmark.js';
import { OPEN_SCORE, combinedScore, fraudSignals, severityOfFraud } from './scoring.js';

describe('fraud detection', () => {
  it('meets recall >= 90 % at precision >= 80 % on the labelled synthetic benchmark (hard negatives included)', () => {
    const result = runFraudBenchmark({ tenants: 4_000, seed: 21 });
    assert.ok(result.frauds > 800, 'the benchmark has enough frauds');
    assert.ok(result.recall >= 0.9, `recall ${result.recall}`);
    assert.ok(result.precision >= 0.8, `precision ${result.precision}`);
    // Ordinary tenants never open a case; the hard negatives sometimes do (that is what makes the numbers honest).
    assert.equal(result.scenarios['ordinary hour']!.flagged, 0);
    assert.ok(result.falsePositives > 0, 'the benchmark contains confusable legitimate cases');
  });

  it('scores each signal and combines independent evidence', () => {
    const now = new Date('2026-06-10T15:00:00Z');
    const quiet = new Float64Array(24 * 14 + 1).fill(10);
    const base = {
      now,
      createdAt: new Date('2025-01-01T00:00:00Z'),
      hourly: quiet,
      maxHourlyUnits: 600,
      failures24h: 0,
      declines7d: 0,
      lastTopUp: null,
      costSinceTopUpMinor: 0n,
    };
    assert.deepEqual(fraudSignals(base), []);
    const burst = Float64Array.from(quiet);
    burst[0] = 400;
    const signals = fraudSignals({ ...base, hourly: burst });
    assert.equal(signals[0]?.kind, 'USAGE_BURST');
    assert.ok(combinedScore(signals) >= OPEN_SCORE);
    const oneFailure = fraudSignals({ ...base, failures24h: 2 });
    assert.ok(combinedScore(oneFailure) < OPEN_SCORE, 'two failed top-ups alone open no case');
    const drained = fraudSignals({
      ...base,
      declines7d: 2,
      failures24h: 2,
      lastTopUp: { at: new Date(now.getTime() - 3_600_000), amountMinor: 10_000n },
      costSinceTopUpMinor: 9_000n,
    });
    assert.deepEqual(drained.map((signal) => signal.kind).sort(), ['DRAIN_AFTER_DECLINED_CARD', 'TOP_UP_FAILURES']);
    assert.equal(severityOfFraud(combinedScore(drained)), 'CRITICAL');
  });
});
