/**
 * The Hono app: middleware order, feature routers, OpenAPI document and error mapping.
 * Order matters: request context (id, config, db, log line) wraps everything, CORS answers
 * preflights before auth, and errors from any layer meet the single `onError`.
 */
import { Scalar } from "@scalar/hono-api-reference";
import { cors } from "hono/cors";
import { attachmentsRoutes } from "./features/attachments/index.ts";
import { authRoutes } from "./features/auth/auth.routes.ts";
import { commentsRoutes } from "./features/comments/index.ts";
import { departmentsRoutes } from "./features/departments/index.ts";
import { emailRoutes } from "./features/email/index.ts";
import { healthRoutes } from "./features/health/health.routes.ts";
import { notificationsRoutes } from "./features/notifications/index.ts";
import { legacyReportRoutes, reportsRoutes } from "./features/reports/index.ts";
import { historyRoutes, tasksRoutes } from "./features/tasks/index.ts";
import { uploadsRoutes } from "./features/uploads/index.ts";
import { jobsRoutes } from "./features/uploads/jobs/index.ts";
import { csvDataRoutes } from "./features/uploads/rows/index.ts";
import { usersRoutes } from "./features/users/index.ts";
import { webhooksRoutes } from "./features/webhooks/index.ts";
import { conditionalRequests } from "./platform/cache/conditional.ts";
import { notFound, onError } from "./platform/http/error-handler.ts";
import { createRouter } from "./platform/http/openapi.ts";
import { requestContext } from "./platform/http/request-context.ts";
import { securityHeaders } from "./platform/http/security-headers.ts";

export const API_BASE = "/api/v1";
/** The API paths whose GETs answer with an `ETag` and honour `If-None-Match`. */
const CONDITIONAL_PATHS = ["/tasks", "/tasks/*", "/reports/*", "/csv-data/uploads", "/csv-data/uploads/*"];
const LEGACY_REPORT_PATH = "/user/tasks/get_task_status_report";
/** Where the static assets hold the API reference's browser bundle. */
export const DOCS_SCRIPT_PATH = "/vendor/scalar/api-reference.js";

export function createApp() {
  const app = createRouter();
  app.use("*", securityHeaders);
  app.use("*", requestContext);
  app.use("*", async (c, next) => {
    const origins = c.get("config").CORS_ORIGINS;
    return cors({
      origin: origins.includes("*") ? "*" : origins,
      allowHeaders: [
        "Authorization",
        "Content-Type",
        "X-Request-Id",
        "Cache-Control",
        "If-Match",
        "If-None-Match",
        "Idempotency-Key",
      ],
      exposeHeaders: ["X-Request-Id", "X-Cache", "Retry-After", "Content-Disposition", "ETag", "Idempotent-Replayed"],
      maxAge: 600,
    })(c, next);
  });

  const api = createRouter();
  // Entity tags and 304s on the cacheable GETs (and tags on task writes), before the routes so it
  // sees their answers.
  for (const path of CONDITIONAL_PATHS) api.use(path, conditionalRequests);
  for (const feature of [
    healthRoutes,
    authRoutes,
    usersRoutes,
    departmentsRoutes,
    tasksRoutes,
    historyRoutes,
    commentsRoutes,
    attachmentsRoutes,
    reportsRoutes,
    uploadsRoutes,
    csvDataRoutes,
    jobsRoutes,
    emailRoutes,
    webhooksRoutes,
    notificationsRoutes,
  ]) {
    api.route("/", feature);
  }

  app.route(API_BASE, api);
  app.use(LEGACY_REPORT_PATH, conditionalRequests);
  app.route("/", legacyReportRoutes);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "The `access_token` from login or refresh. WebSocket upgrades may pass it as `?access_token=`.",
  });
  app.get(`${API_BASE}/openapi.json`, (c) => c.json(openApiDocument(app, new URL(c.req.url).origin)));
  // The reference's script is served from this Worker's own assets (scripts/vendor-docs.ts copies
  // it there) and its default web fonts are off, so the page works with no internet.
  app.get(
    "/docs",
    Scalar({
      url: `${API_BASE}/openapi.json`,
      pageTitle: "Edge Tasks API",
      cdn: DOCS_SCRIPT_PATH,
      withDefaultFonts: false,
    }),
  );

  app.notFound(notFound);
  app.onError(onError);
  return app;
}

/**
 * The OpenAPI 3.1 document, generated from the route definitions. Routes are registered without
 * a trailing slash (hono's non-strict mode answers both); the document shows each path with its trailing slash.
 */
export function openApiDocument(app: ReturnType<typeof createRouter>, origin: string) {
  const document = app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "Edge Tasks API",
      version: "1.0.0",
      description:
        'Task management with roles and departments, cached reports, and ingestion of very large CSV files, on Cloudflare Workers. Errors are `{"detail": ...}`; every route answers with or without its trailing slash.\n\n' +
        "Validation: a 400 names each offending field in `errors` (`{field, message}`, the message reading after the field name: `is required`, `must be a string`, `must be at most 200 characters`...) and its `detail` is `Invalid input in <field>: <message>.`, each offending field with its own first message, separated by `; `. A query parameter a route does not list is a 400 naming it and the parameters the route takes (a misspelt filter never widens an answer silently). A parameter it does list, given more than once, is a 400 saying it `may be given only once`. " +
        "Reports answer `text/csv` or `application/json` by `Accept` (no header or `*/*`: CSV); an `Accept` that allows neither is a 406 naming both; the original path `/user/tasks/get_task_status_report/`, kept for clients of the task tracker this API replaces, is always CSV.",
    },
    servers: [{ url: origin, description: "This server" }],
  });
  const paths: typeof document.paths = {};
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    paths[path.endsWith("/") ? path : `${path}/`] = withIdempotencyKeys(item);
  }
  // The repository grants no license (package.json: UNLICENSED): all rights are reserved.
  // `LicenseRef-` is SPDX's form for a license without an SPDX identifier. Set here because the
  // generator's `info` type only knows OpenAPI 3.0's license object (no `identifier`).
  const license = { name: "Proprietary (UNLICENSED): all rights reserved", identifier: "LicenseRef-Proprietary" };
  return { ...document, info: { ...document.info, license }, paths };
}

/**
 * Every authenticated POST and PATCH honours `Idempotency-Key` (`platform/http/idempotency.ts`, run
 * by `requireAuth`): declared here once for all of them rather than in each route.
 */
function withIdempotencyKeys<T extends object>(item: T): T {
  const operations = item as Record<string, unknown>;
  for (const method of ["post", "patch"]) {
    const operation = operations[method] as
      | { security?: unknown[]; parameters?: unknown[]; responses?: Record<string, unknown> }
      | undefined;
    if (!operation?.security?.length) continue;
    operation.parameters = [...(operation.parameters ?? []), IDEMPOTENCY_PARAMETER];
    operation.responses = {
      ...operation.responses,
      409: alsoMeans(operation.responses?.[409], IDEMPOTENCY_CONFLICT),
      422: alsoMeans(operation.responses?.[422], IDEMPOTENCY_MISMATCH),
    };
  }
  return item;
}

const IDEMPOTENCY_CONFLICT = "A request with the same `Idempotency-Key` is still being processed.";
const IDEMPOTENCY_MISMATCH = "The `Idempotency-Key` was already used with another method, path or body.";
const IDEMPOTENCY_PARAMETER = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  schema: { type: "string", minLength: 1, maxLength: 255, pattern: "^[\\x20-\\x7E]+$" },
  description:
    "Makes a retry safe: 1 to 255 printable ASCII characters, unique per intended request. For 24 hours per user and key, a retry with the same method, path and body runs nothing and answers the first request's status and body again with `Idempotent-Replayed: true` (even when the first answer was lost after the change committed); the same key with another method, path or body → 422; while the first request runs → 409. An answer of 500 or more is not kept, so its retry runs again.",
};

/** A route's own error response with one more meaning, or that meaning alone. */
function alsoMeans(existing: unknown, description: string) {
  const own = existing as { description?: string } | undefined;
  if (own?.description) return { ...own, description: `${own.description} Or: ${description}` };
  return { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
}

export type App = ReturnType<typeof createApp>;
