/**
 * Route definitions for one tag of the OpenAPI document. Every route of a feature shares its tag
 * and, unless it says otherwise, the bearer-token security scheme; a definer fills those in, so a
 * route states only its method, path, operation id and what is its own.
 */
import { createRoute, type RouteConfig } from "@hono/zod-openapi";

type Method = RouteConfig["method"];

/** What a route states beyond its method, path and operation id (`security: []` for a public one). */
type RouteDetails = Omit<RouteConfig, "method" | "path" | "operationId" | "tags">;

const bearerAuth = [{ bearerAuth: [] }];

function defineFor<const M extends Method>(method: M, tag: string) {
  const shared = { tags: [tag], security: bearerAuth };
  return <const P extends string, const D extends RouteDetails>(path: P, operationId: string, details: D) =>
    createRoute({ ...shared, ...details, method, path, operationId });
}

/** `routesTagged("Tasks").get("/tasks/{id}", "getTask", { … })`: a route under the tag "Tasks". */
export function routesTagged(tag: string) {
  return {
    get: defineFor("get", tag),
    post: defineFor("post", tag),
    put: defineFor("put", tag),
    patch: defineFor("patch", tag),
    delete: defineFor("delete", tag),
  };
}
