/**
 * Backoff for ingest messages that failed. Most failures are transient (a dropped Postgres
 * connection, a connection-limit burst when many chunks start at once, an R2 hiccup), and
 * retrying at once tends to hit the same wall; doubling delays let it clear. The delays stay
 * small because an upload waits on its slowest chunk: with the queue's 5 retries a chunk that
 * can never succeed is dead-lettered (and its upload failed) after about 1 + 2 + 4 + 8 + 16 = 31 s.
 * `INGEST_RETRY_BASE_SECONDS` may override the 1 s base (0 retries at once); it is read here
 * rather than in config.ts because only this consumer uses it.
 */
import { backoffBaseSeconds, backoffDelaySeconds } from "../queues/backoff.ts";

export const DEFAULT_INGEST_RETRY_BASE_SECONDS = 1;
export const MAX_INGEST_RETRY_DELAY_SECONDS = 60;

interface RetryEnv {
  INGEST_RETRY_BASE_SECONDS?: unknown;
}

export function ingestRetryBaseSeconds(env: Env): number {
  return backoffBaseSeconds((env as Env & RetryEnv).INGEST_RETRY_BASE_SECONDS, DEFAULT_INGEST_RETRY_BASE_SECONDS);
}

/** Whole seconds before the next attempt: base, 2·base, 4·base... (`attempts` counts from 1). */
export function ingestRetryDelaySeconds(baseSeconds: number, attempts: number): number {
  return backoffDelaySeconds(baseSeconds, attempts, MAX_INGEST_RETRY_DELAY_SECONDS);
}
