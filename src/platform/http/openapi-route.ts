/**
 * Route definitions for one tag of the OpenAPI document. Every route of a feature shares its tag
 * and, unless it is defined as public, the bearer-token security scheme; a definer fills those in,
 * so a route states only its method, path, operation id and what is its own.
 */
import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context/types.ts";
import { requireAuth } from "./auth.ts";

type Method = RouteConfig["method"];

/** What a route states beyond its method, path and operation id: its own middleware among it. */
type RouteDetails = Omit<RouteConfig, "method" | "path" | "operationId" | "tags" | "security" | "middleware"> & {
  middleware?: readonly MiddlewareHandler<AppEnv>[];
};

const bearerAuth = [{ bearerAuth: [] }];

/**
 * A route the document shows under the bearer-token scheme runs `requireAuth` before its own
 * middleware, so what the document declares (and what `openApiDocument` infers from it, such as
 * `Idempotency-Key`) is what the route enforces.
 */
function authenticatedFor<const M extends Method>(method: M, tag: string) {
  return <const P extends string, const D extends RouteDetails>(path: P, operationId: string, details: D) => {
    const { middleware = [], ...own } = details;
    return createRoute({
      tags: [tag],
      security: bearerAuth,
      ...own,
      middleware: [requireAuth, ...middleware],
      method,
      path,
      operationId,
    });
  };
}

/** A route anyone may call (`security: []`): only its own middleware runs. */
function publicFor<const M extends Method>(method: M, tag: string) {
  return <const P extends string, const D extends RouteDetails>(path: P, operationId: string, details: D) => {
    const { middleware = [], ...own } = details;
    return createRoute({ tags: [tag], security: [], ...own, middleware: [...middleware], method, path, operationId });
  };
}

/** `routesTagged("Tasks").get("/tasks/{id}", "getTask", { … })`: an authenticated route under the tag "Tasks". */
export function routesTagged(tag: string) {
  return {
    get: authenticatedFor("get", tag),
    post: authenticatedFor("post", tag),
    put: authenticatedFor("put", tag),
    patch: authenticatedFor("patch", tag),
    delete: authenticatedFor("delete", tag),
  };
}

/** `publicRoutesTagged("Auth").post("/auth/user/login", "logIn", { … })`: a public route under the tag "Auth". */
export function publicRoutesTagged(tag: string) {
  return { get: publicFor("get", tag), post: publicFor("post", tag) };
}
