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

/** One queue's backoff: the variable that may override its base, its default base, its cap. */
export interface BackoffPolicy {
  /** An optional Worker variable (seconds ≥ 0); tests set 0 so retry paths run at once. */
  baseVariable: string;
  defaultBaseSeconds: number;
  maxDelaySeconds: number;
}

/** A queue consumer's backoff: its base read from the environment, and the delay per attempt. */
export function queueBackoff(policy: BackoffPolicy) {
  return {
    ...policy,
    /** The base delay for this environment: the variable when it holds a number ≥ 0, else the default. */
    baseSeconds: (env: Env): number =>
      backoffBaseSeconds(Reflect.get(env, policy.baseVariable), policy.defaultBaseSeconds),
    /** Whole seconds before the next attempt: base, 2·base, 4·base... (`attempt` counts from 1), capped. */
    delaySeconds: (baseSeconds: number, attempt: number): number =>
      backoffDelaySeconds(baseSeconds, attempt, policy.maxDelaySeconds),
  };
}
