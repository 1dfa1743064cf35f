/**
 * Authentication and per-user throttling for protected routes. The token comes from
 * `Authorization: Bearer ...`, or from `?access_token=` on WebSocket upgrades (browsers cannot set
 * headers there). Tokens never reach logs: the log line carries the route pattern, not the URL.
 */
import type { MiddlewareHandler } from "hono";
import { authenticate } from "../auth/auth.service.ts";
import { ApiError } from "../lib/errors.ts";
import type { AppEnv } from "../types.ts";
import { enforceRateLimit } from "./rate-limit.ts";

function bearerToken(c: Parameters<MiddlewareHandler<AppEnv>>[0]): string | null {
  const header = c.req.header("Authorization");
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) throw ApiError.unauthenticated("The Authorization header must be 'Bearer <access token>'.");
    return match[1];
  }
  if (c.req.header("Upgrade")?.toLowerCase() === "websocket") return c.req.query("access_token") ?? null;
  return null;
}

/** Requires a valid, unrevoked access token; sets `c.var.user`; then applies the per-user limit. */
export const requireAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = bearerToken(c);
  if (!token) throw ApiError.unauthenticated();
  const user = await authenticate(c.env, c.var.db, c.var.config, token);
  c.set("user", user);
  await enforceRateLimit(c.env.USER_RATE_LIMITER, `user:${user.id}`, c.var.config.RATE_LIMIT_PERIOD_SECONDS);
  await next();
};

/**
 * Auth endpoints (login, register, refresh) share one stricter bucket per client IP.
 * Cloudflare sets `CF-Connecting-IP` on every request from the internet and clients cannot forge
 * it; `X-Forwarded-For` is client-controlled, so it is not trusted. A request without the header
 * came from inside (a service binding, the test runtime): there is no client IP to key on, and one
 * shared bucket for all of them would let any internal caller lock out every other.
 */
export const authRateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const ip = c.req.header("CF-Connecting-IP")?.trim();
  if (ip) await enforceRateLimit(c.env.AUTH_RATE_LIMITER, `auth:${ip}`, c.var.config.RATE_LIMIT_PERIOD_SECONDS);
  await next();
};
