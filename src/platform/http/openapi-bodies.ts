/** Request bodies: their documentation and the middleware that holds a request to it. */
import type { z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../context/types.ts";
import { ApiError } from "../lib/errors.ts";

/** A required JSON request body. Pair with `requireJson` in the route's middleware. */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { required: true, description, content: { "application/json": { schema } } };
}

const JSON_TYPE = /^application\/([a-z0-9.+-]*\+)?json(\s*;.*)?$/i;
const jsonBodyLimit = bodyLimit({
  maxSize: 1024 * 1024,
  onError: () => {
    throw ApiError.tooLarge("The JSON body is larger than 1 MiB.");
  },
});

/** JSON routes: 415 for any other (or a missing) content type, 413 above 1 MiB. */
export const requireJson: MiddlewareHandler<AppEnv> = async (c, next) => {
  const type = c.req.header("Content-Type");
  if (!type || !JSON_TYPE.test(type.trim())) {
    throw ApiError.unsupportedMediaType(
      `This endpoint accepts application/json; the request was sent as ${type ? `'${type.split(";")[0]}'` : "no content type"}.`,
    );
  }
  return jsonBodyLimit(c, next);
};

const MULTIPART_TYPE = /^multipart\/form-data/i;

/**
 * Routes that take either JSON or a `multipart/form-data` file: a form may be up to
 * `maxFormBytes(c)` (413 with `tooLarge`'s sentence above it), JSON is checked as `requireJson`
 * does, and anything else is a 415 (zod-openapi's own gate would let urlencoded forms through).
 */
export function jsonOrMultipart(
  maxFormBytes: (c: Context<AppEnv>) => number,
  tooLarge: (c: Context<AppEnv>) => string,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!MULTIPART_TYPE.test(c.req.header("Content-Type") ?? "")) return requireJson(c, next);
    return bodyLimit({
      maxSize: maxFormBytes(c),
      onError: () => {
        throw ApiError.tooLarge(tooLarge(c));
      },
    })(c, next);
  };
}
