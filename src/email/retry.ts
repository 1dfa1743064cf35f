/**
 * Backoff for failed sends. The base delay comes from `EMAIL_RETRY_BASE_SECONDS` (tests set 0 so
 * the retry and dead-letter paths run in seconds); it is read here rather than in `config.ts`
 * because it only matters to this consumer.
 */
import { backoffBaseSeconds, backoffDelaySeconds } from "../queues/backoff.ts";

export const DEFAULT_RETRY_BASE_SECONDS = 30;
/** Cloudflare Queues accepts retry delays up to 12 hours. */
export const MAX_RETRY_DELAY_SECONDS = 12 * 60 * 60;

interface RetryEnv {
  EMAIL_RETRY_BASE_SECONDS?: unknown;
}

export function retryBaseSeconds(env: Env): number {
  return backoffBaseSeconds((env as Env & RetryEnv).EMAIL_RETRY_BASE_SECONDS, DEFAULT_RETRY_BASE_SECONDS);
}

/** Delay before the next attempt, doubling per attempt: base, 2·base, 4·base... (attempt starts at 1). */
export function retryDelaySeconds(baseSeconds: number, attempt: number): number {
  return backoffDelaySeconds(baseSeconds, attempt, MAX_RETRY_DELAY_SECONDS);
}
