/**
 * First middleware of every request: assigns the request id, parses configuration, offers the
 * database (HTTP, and a lazily opened WebSocket pool for interactive transactions), and writes the one structured log line per request when it ends.
 */
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { getConfig, productionProblem } from "../config/config.ts";
import type { AppEnv } from "../context/types.ts";
import { connect, connectHttp, type Database, type Db } from "../db/client.ts";
import { ApiError } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { maskId } from "../lib/mask.ts";

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;

export const requestContext: MiddlewareHandler<AppEnv> = async (c, next) => {
  const started = Date.now();
  const incoming = c.req.header("X-Request-Id");
  const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
  c.set("requestId", requestId);
  c.header("X-Request-Id", requestId);

  let http: Db | undefined;
  c.set("db", () => {
    http ??= connectHttp(c.get("config"));
    return http;
  });
  let database: Database | undefined;
  c.set("pool", () => {
    database ??= connect(c.get("config"));
    return database.db;
  });

  try {
    const config = getConfig(c.env);
    c.set("config", config);
    // A production deployment with a forgeable token secret, or whose mail would silently vanish,
    // serves nothing until its operator fixes it.
    const problem = productionProblem(config);
    if (problem) throw ApiError.unavailable(problem);
    await next();
  } finally {
    c.header("X-Request-Id", requestId);
    if (database) {
      const closing = database.end();
      try {
        c.executionCtx.waitUntil(closing);
      } catch {
        await closing;
      }
    }
    const user = c.get("user");
    log("info", "request", {
      request_id: requestId,
      method: c.req.method,
      route: matchedRoute(c),
      status: c.res.status,
      duration_ms: Date.now() - started,
      user: user ? maskId(user.id) : null,
      cache: c.res.headers.get("X-Cache") ?? undefined,
    });
  }
};

/** The route pattern (`/api/v1/tasks/:id`), never the raw path, so ids stay out of logs. */
function matchedRoute(c: Parameters<MiddlewareHandler<AppEnv>>[0]): string {
  try {
    const pattern = routePath(c, -1);
    return pattern && pattern !== "*" && pattern !== "/*" ? pattern : "(unmatched)";
  } catch {
    return "(unmatched)";
  }
}
