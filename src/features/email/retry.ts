/**
 * Backoff for failed sends. The base delay comes from `EMAIL_RETRY_BASE_SECONDS` (tests set 0 so
 * the retry and dead-letter paths run in seconds), else 30 s; the cap is the 12 hours Cloudflare
 * Queues accepts as a retry delay. The rule is the queues' one (`queueBackoff`); this is only the
 * email queue's policy.
 */
import { queueBackoff } from "../../platform/queues/backoff.ts";

const EMAIL_BACKOFF = queueBackoff({
  baseVariable: "EMAIL_RETRY_BASE_SECONDS",
  defaultBaseSeconds: 30,
  maxDelaySeconds: 12 * 60 * 60,
});

export const DEFAULT_RETRY_BASE_SECONDS = EMAIL_BACKOFF.defaultBaseSeconds;
export const MAX_RETRY_DELAY_SECONDS = EMAIL_BACKOFF.maxDelaySeconds;
export const retryBaseSeconds = EMAIL_BACKOFF.baseSeconds;
export const retryDelaySeconds = EMAIL_BACKOFF.delaySeconds;
