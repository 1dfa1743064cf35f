/**
 * Route definitions for one tag of the OpenAPI document. A route's first line names the operation,
 * `route.get(path, operationId, summary, { … })`, and the object holds what is its own (description,
 * middleware, request, responses). The definer fills in the tag and the security scheme: the
 * bearer token unless the route is defined as public.
 */
import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context/types.ts";
import { requireAuth } from "./auth.ts";

type Method = RouteConfig["method"];

/** What a route states beyond the line that names it; `middleware` is its own, run after the definer's. */
type RouteDetails = Omit<
  RouteConfig,
  "method" | "path" | "operationId" | "summary" | "tags" | "security" | "middleware"
> & {
  middleware?: readonly MiddlewareHandler<AppEnv>[];
};

interface Access {
  security: { bearerAuth: never[] }[];
  middleware: MiddlewareHandler<AppEnv>[];
}

/**
 * A route the document shows under the bearer-token scheme runs `requireAuth` before its own
 * middleware, so what the document declares (and what `openApiDocument` infers from it, such as
 * `Idempotency-Key`) is what the route enforces.
 */
const authenticated: Access = { security: [{ bearerAuth: [] }], middleware: [requireAuth] };

/** A route anyone may call (`security: []`): only its own middleware runs. */
const open: Access = { security: [], middleware: [] };

function defineFor<const M extends Method>(method: M, tag: string, access: Access) {
  return <const P extends string, const D extends RouteDetails>(
    path: P,
    operationId: string,
    summary: string,
    details: D,
  ) => {
    const { middleware = [], ...own } = details;
    // Listed again it would authenticate twice, and the second pass would find its own
    // `Idempotency-Key` claim still running (409).
    if (middleware.includes(requireAuth)) throw new Error(`${operationId}: requireAuth is the definer's to add`);
    return createRoute({
      tags: [tag],
      security: access.security,
      summary,
      ...own,
      middleware: [...access.middleware, ...middleware],
      method,
      path,
      operationId,
    });
  };
}

/** `routesTagged("Tasks").get("/tasks/{id}", "getTask", "Get a task", { … })`: an authenticated route under "Tasks". */
export function routesTagged(tag: string) {
  return {
    get: defineFor("get", tag, authenticated),
    post: defineFor("post", tag, authenticated),
    put: defineFor("put", tag, authenticated),
    patch: defineFor("patch", tag, authenticated),
    delete: defineFor("delete", tag, authenticated),
  };
}

/** `publicRoutesTagged("Auth").post("/auth/user/login", "logIn", "Log in", { … })`: a public route under "Auth". */
export function publicRoutesTagged(tag: string) {
  return { get: defineFor("get", tag, open), post: defineFor("post", tag, open) };
}
