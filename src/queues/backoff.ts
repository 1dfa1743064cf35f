/**
 * Exponential backoff for queue messages that failed: base, 2·base, 4·base... seconds, capped.
 * Each consumer picks its own base (from an optional variable, so tests can retry at once) and
 * its own cap; the rule itself lives only here.
 */

/** The base delay from an optional variable: a number of seconds ≥ 0, else `fallback`. */
export function backoffBaseSeconds(raw: unknown, fallback: number): number {
  const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

/** Whole seconds before attempt `attempt + 1` (`attempt` counts from 1), at most `maxSeconds`. */
export function backoffDelaySeconds(baseSeconds: number, attempt: number, maxSeconds: number): number {
  // The exponent is capped so a message retried for days cannot overflow to Infinity.
  const exponent = Math.min(30, Math.max(0, attempt - 1));
  return Math.min(maxSeconds, Math.round(baseSeconds * 2 ** exponent));
}
