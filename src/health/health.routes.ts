import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../lib/openapi.ts";
import { HEALTH_CHECKS, runHealthChecks } from "./health.service.ts";

const CheckSchema = z.object({
  status: z.enum(["ok", "error"]),
  latency_ms: z.number().int(),
  error: z.string().optional(),
});

const HealthSchema = z
  .object({
    status: z.enum(["ok", "error"]),
    detail: z.string().optional().openapi({ description: "On 503: which dependencies failed." }),
    checks: z.object(
      Object.fromEntries(HEALTH_CHECKS.map((name) => [name, CheckSchema])) as Record<
        (typeof HEALTH_CHECKS)[number],
        typeof CheckSchema
      >,
    ),
  })
  .openapi("Health");

const healthRoute = createRoute({
  method: "get",
  path: "/health-check",
  operationId: "checkHealth",
  security: [],
  tags: ["Operations"],
  summary: "Check every dependency",
  description:
    "No authentication. 200 when the database, KV, R2, queues and Durable Objects all answer; 503 naming the failing ones otherwise.",
  responses: {
    200: { description: "All dependencies are healthy.", content: { "application/json": { schema: HealthSchema } } },
    503: { description: "At least one dependency failed.", content: { "application/json": { schema: HealthSchema } } },
  },
});

export const healthRoutes = createRouter().openapi(healthRoute, async (c) => {
  const checks = await runHealthChecks(c.env, c.get("config"));
  const failing = HEALTH_CHECKS.filter((name) => checks[name].status !== "ok");
  c.header("Cache-Control", "no-store");
  if (failing.length === 0) return c.json({ status: "ok" as const, checks }, 200);
  return c.json({ status: "error" as const, detail: `Unavailable: ${failing.join(", ")}.`, checks }, 503);
});
