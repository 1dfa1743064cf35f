/**
 * Rate limiting through the Workers rate-limit binding: counters live in Cloudflare's
 * infrastructure, updated atomically per key (the seeds' non-atomic counters are not repeated).
 * The binding answers only "allowed or not", so `Retry-After` is the configured window.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context/types.ts";
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

/**
 * One bucket per client IP. Cloudflare sets `CF-Connecting-IP` on every request from the internet
 * and clients cannot forge it; `X-Forwarded-For` is client-controlled, so it is not trusted. A
 * request without the header came from inside (a service binding, the test runtime): there is no
 * client IP to key on, and one shared bucket for all of them would let any internal caller lock
 * out every other.
 */
export function perIpRateLimit(bucket: string, limiter: (env: Env) => RateLimit): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const ip = c.req.header("CF-Connecting-IP")?.trim();
    if (ip) await enforceRateLimit(limiter(c.env), `${bucket}:${ip}`, c.var.config.RATE_LIMIT_PERIOD_SECONDS);
    await next();
  };
}
