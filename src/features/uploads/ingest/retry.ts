/**
 * Backoff for ingest messages that failed. Most failures are transient (a dropped Postgres
 * connection, a connection-limit burst when many chunks start at once, an R2 hiccup), and
 * retrying at once tends to hit the same wall; doubling delays let it clear. The delays stay
 * small because an upload waits on its slowest chunk: with the queue's 5 retries a chunk that
 * can never succeed is dead-lettered (and its upload failed) after about 1 + 2 + 4 + 8 + 16 = 31 s.
 * `INGEST_RETRY_BASE_SECONDS` may override the 1 s base (0 retries at once). The rule is the
 * queues' one (`queueBackoff`); this is only the ingest queue's policy.
 */
import { queueBackoff } from "../../../platform/queues/backoff.ts";

const INGEST_BACKOFF = queueBackoff({
  baseVariable: "INGEST_RETRY_BASE_SECONDS",
  defaultBaseSeconds: 1,
  maxDelaySeconds: 60,
});

export const DEFAULT_INGEST_RETRY_BASE_SECONDS = INGEST_BACKOFF.defaultBaseSeconds;
export const MAX_INGEST_RETRY_DELAY_SECONDS = INGEST_BACKOFF.maxDelaySeconds;
export const ingestRetryBaseSeconds = INGEST_BACKOFF.baseSeconds;
export const ingestRetryDelaySeconds = INGEST_BACKOFF.delaySeconds;
