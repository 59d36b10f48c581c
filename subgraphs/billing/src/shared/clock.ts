/** "Now" for every billing service: tests and operators embedding billing may replace it. */
export interface Clock {
  now(): Date;
}
export const SYSTEM_CLOCK: Clock = { now: () => new Date() };
