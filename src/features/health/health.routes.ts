import { z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../platform/context/types.ts";
import { requireAuth } from "../../platform/http/auth.ts";
import { createRouter } from "../../platform/http/openapi.ts";
import { errorResponses } from "../../platform/http/openapi-responses.ts";
import { publicRoutesTagged } from "../../platform/http/openapi-route.ts";
import { perIpRateLimit } from "../../platform/http/rate-limit.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { HEALTH_CHECKS, HEALTH_FAILURES, runHealthChecks } from "./health.service.ts";

const route = publicRoutesTagged("Operations");

const CheckSchema = z.object({
  status: z.enum(["ok", "error"]),
  latency_ms: z.number().int(),
  error: z
    .enum(HEALTH_FAILURES)
    .optional()
    .openapi({ description: "On failure only; what the dependency said is logged, never returned." }),
});

const HealthSchema = z
  .object({
    status: z.enum(["ok", "error"]),
    deep: z.boolean().openapi({ description: "Whether the write paths were exercised too (`?deep=1`)." }),
    detail: z.string().optional().openapi({ description: "On 503: which dependencies failed." }),
    checks: z.object(
      Object.fromEntries(HEALTH_CHECKS.map((name) => [name, CheckSchema])) as Record<
        (typeof HEALTH_CHECKS)[number],
        typeof CheckSchema
      >,
    ),
  })
  .openapi("Health");

const HealthQuerySchema = z.object({
  deep: z
    .enum(["1", "true", "0", "false"], { error: "must be 1 or 0" })
    .optional()
    .openapi({
      param: { name: "deep", in: "query" },
      description: "`1`: also prove the write paths (KV put, queue send, a pool connection). CEO or HR token only.",
    }),
});

const isDeep = (deep: string | undefined): boolean => deep === "1" || deep === "true";

/** The deep check writes, so it needs a CEO or HR token; the anonymous one needs nothing. */
const deepNeedsCeoOrHr: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!isDeep(c.req.query("deep"))) return next();
  return requireAuth(c, async () => {
    if (c.var.user.role !== "ceo" && c.var.user.role !== "hr") {
      throw ApiError.forbidden("Only CEO and HR may run the deep health check (?deep=1).");
    }
    await next();
  });
};

const healthRoute = route.get("/health-check", "checkHealth", "Check every dependency", {
  description:
    "No authentication, and read-only: it writes nothing anywhere (a query over HTTP, a KV read, an R2 head, a " +
    "Durable Object call, the queue bindings' presence). Limited per client IP (30 per 60 s). 200 when the database, " +
    "KV, R2, queues and Durable Objects all answer; 503 naming the failing ones, with a fixed phrase per check and " +
    "no internal error text. `?deep=1` (CEO or HR token: 401 without one, 403 for other roles) also proves the " +
    "write paths: a KV put read back, a message sent to each queue, and a WebSocket pool connection. The route is " +
    "public (`security: []`); only `deep=1` reads the bearer token.",
  middleware: [perIpRateLimit("health", (env) => env.HEALTH_RATE_LIMITER), deepNeedsCeoOrHr] as const,
  request: { query: HealthQuerySchema },
  responses: {
    200: { description: "All dependencies are healthy.", content: { "application/json": { schema: HealthSchema } } },
    503: { description: "At least one dependency failed.", content: { "application/json": { schema: HealthSchema } } },
    ...errorResponses(400, 401, 403, 429),
  },
});

export const healthRoutes = createRouter().openapi(healthRoute, async (c) => {
  // The route's query schema has already refused any other value.
  const deep = isDeep(c.req.query("deep"));
  const checks = await runHealthChecks(c.env, c.get("config"), { deep });
  const failing = HEALTH_CHECKS.filter((name) => checks[name].status !== "ok");
  c.header("Cache-Control", "no-store");
  if (failing.length === 0) return c.json({ status: "ok" as const, deep, checks }, 200);
  return c.json({ status: "error" as const, deep, detail: `Unavailable: ${failing.join(", ")}.`, checks }, 503);
});
