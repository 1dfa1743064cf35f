/**
 * Authentication and per-user throttling for protected routes. The token comes from
 * `Authorization: Bearer ...`, or from `?access_token=` on WebSocket upgrades (browsers cannot set
 * headers there). Tokens never reach logs: the log line carries the route pattern, not the URL.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context/types.ts";
import { authenticate } from "../identity/authenticate.ts";
import { ApiError } from "../lib/errors.ts";
import { withIdempotency } from "./idempotency.ts";
import { enforceRateLimit, perIpRateLimit } from "./rate-limit.ts";

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

/**
 * Requires a valid, unrevoked access token; sets `c.var.user`; applies the per-user limit; then
 * runs the route once per `Idempotency-Key` (a retry of a finished request is answered from its outcome).
 */
export const requireAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = bearerToken(c);
  if (!token) throw ApiError.unauthenticated();
  const user = await authenticate(c.env, c.var.db, c.var.config, token);
  c.set("user", user);
  await enforceRateLimit(c.env.USER_RATE_LIMITER, `user:${user.id}`, c.var.config.RATE_LIMIT_PERIOD_SECONDS);
  return await withIdempotency(c, next);
};

/** Auth endpoints (login, register, refresh) share one stricter bucket per client IP. */
export const authRateLimit = perIpRateLimit("auth", (env) => env.AUTH_RATE_LIMITER);
