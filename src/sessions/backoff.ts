// When to retry a failed back-channel logout delivery: 1x, 6x, 24x, 120x, 720x the base delay
// (with the default 5 s base: 5 s, 30 s, 2 min, 10 min, 1 h; then hourly), each with +/-20 %
// jitter so the deliveries of many sessions ended at once (a disabled client, a receiver
// outage) do not come back in lockstep.
const STEPS = [1, 6, 24, 120, 720];

/** Delay in ms before attempt `failed + 1`, after `failed` failed attempts (>= 1). */
export const retryDelayMs = (
  failed: number,
  baseMs: number,
  random: () => number = Math.random,
): number => {
  const step = STEPS[Math.min(Math.max(failed, 1), STEPS.length) - 1]!;
  return Math.round(baseMs * step * (0.8 + 0.4 * random()));
};
