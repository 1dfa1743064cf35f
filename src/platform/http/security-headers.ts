/**
 * Headers every response carries, whatever produced it: a route, a validation error, the 404
 * handler, an error mapped by `onError`, a CSV report, the docs or a WebSocket refusal.
 * `nosniff` stops a browser from second-guessing a declared content type (a CSV or JSON body
 * holding user text must never be run as a script or rendered as HTML). It is set after the
 * rest of the chain has answered, with `c.header`, which copies a response whose headers are
 * immutable (one fetched from a Durable Object) instead of throwing.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context/types.ts";

export const securityHeaders: MiddlewareHandler<AppEnv> = async (c, next) => {
  try {
    await next();
  } finally {
    c.header("X-Content-Type-Options", "nosniff");
  }
};
