/**
 * Rate limiting through the Workers rate-limit binding: counters live in Cloudflare's
 * infrastructure, updated atomically per key (the seeds' non-atomic counters are not repeated).
 * The binding answers only "allowed or not", so `Retry-After` is the configured window.
 */
import { ApiError } from "../lib/errors.ts";
import { errorFields, log } from "../lib/log.ts";

export async function enforceRateLimit(limiter: RateLimit, key: string, periodSeconds: number): Promise<void> {
  let success = true;
  try {
    ({ success } = await limiter.limit({ key }));
  } catch (error) {
    // The limiter being unavailable must not take the API down with it.
    log("warn", "rate limiter unavailable", errorFields(error));
  }
  if (!success) throw ApiError.throttled(periodSeconds);
}
