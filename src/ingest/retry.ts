/**
 * Backoff for ingest messages that failed. Most failures are transient (a dropped Postgres
 * connection, a connection-limit burst when many chunks start at once, an R2 hiccup), and
 * retrying at once tends to hit the same wall; doubling delays let it clear. The delays stay
 * small because an upload waits on its slowest chunk: with the queue's 5 retries a chunk that
 * can never succeed is dead-lettered (and its upload failed) after about 1 + 2 + 4 + 8 + 16 = 31 s.
 * `INGEST_RETRY_BASE_SECONDS` may override the 1 s base (0 retries at once); it is read here
 * rather than in config.ts because only this consumer uses it.
 */
export const DEFAULT_INGEST_RETRY_BASE_SECONDS = 1;
export const MAX_INGEST_RETRY_DELAY_SECONDS = 60;

interface RetryEnv {
  INGEST_RETRY_BASE_SECONDS?: unknown;
}

export function ingestRetryBaseSeconds(env: Env): number {
  const raw = (env as Env & RetryEnv).INGEST_RETRY_BASE_SECONDS;
  const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
  return Number.isFinite(value) && value >= 0 ? value : DEFAULT_INGEST_RETRY_BASE_SECONDS;
}

/** Whole seconds before the next attempt: base, 2·base, 4·base... (`attempts` counts from 1). */
export function ingestRetryDelaySeconds(baseSeconds: number, attempts: number): number {
  const exponent = Math.min(30, Math.max(0, attempts - 1));
  return Math.min(MAX_INGEST_RETRY_DELAY_SECONDS, Math.round(baseSeconds * 2 ** exponent));
}
