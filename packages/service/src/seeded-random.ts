// In the service runtime, not the test harness: production code (the forecast subgraph's synthetic training data,
// the fraud benchmark) generates seeded data too, and the production image carries no test harness.

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so seeded data and failures replay identically. */
export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
