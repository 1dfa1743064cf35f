/**
 * Building blocks for route definitions. Every route is declared with `createRoute` from
 * @hono/zod-openapi, so the schema that validates a request is the one the OpenAPI document shows.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../context/types.ts";
import { ApiError } from "../lib/errors.ts";
import { invalidFields, unstorableText, validationError } from "../lib/validation.ts";

/**
 * A router whose validation failures become the API's 400 shape. Trailing slashes are optional.
 * The hook also sees every input that passed its schema, so text Postgres cannot store (NUL,
 * unpaired surrogates) is refused here for every route, query and body alike.
 */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    strict: false,
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error, result.target);
      const unstorable = unstorableText(result.data);
      if (unstorable.length > 0) throw invalidFields(unstorable);
    },
  });
}

export const ErrorSchema = z
  .object({
    detail: z.string().openapi({ example: "Task not found." }),
    errors: z
      .array(z.object({ field: z.string(), message: z.string() }))
      .optional()
      .openapi({ description: "Present on validation errors: one entry per offending field." }),
  })
  .openapi("Error");

const errorDescriptions = {
  400: "Invalid input; `errors` names each offending field.",
  401: "Not authenticated, or the token is invalid, expired or revoked.",
  403: "Authenticated but not allowed.",
  404: "Not found, or not visible to the caller.",
  406: "None of the media types the `Accept` header asks for is offered; `detail` lists those that are.",
  409: "Conflicts with the current state. On a task or comment write: the task was changed by others several times while this write was being applied (each write re-checks the task it decided on); load it again and repeat the change if it still applies.",
  412: "`If-Match` does not name the current `ETag`: someone changed the resource since you read it, and nothing was changed. The answer's `ETag` is the current one.",
  413: "The body is too large.",
  415: "The body's content type is not accepted.",
  422: "Well-formed but cannot be processed.",
  426: "This path answers only a WebSocket upgrade (`Upgrade: websocket`).",
  429: "Throttled; see `Retry-After`.",
  503: "A dependency is unavailable.",
} as const;

type ErrorCode = keyof typeof errorDescriptions;

/** Declares the error responses a route can give, all with the shared error schema. */
export function errorResponses<const C extends ErrorCode>(...codes: C[]) {
  const entries = codes.map((code) => [
    code,
    { description: errorDescriptions[code], content: { "application/json": { schema: ErrorSchema } } },
  ]);
  return Object.fromEntries(entries) as {
    [K in C]: { description: string; content: { "application/json": { schema: typeof ErrorSchema } } };
  };
}

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

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

/**
 * A whole number sent as text (a path or query parameter): digits only, then range-checked.
 * `z.coerce.number()` would read " 1", "0x10" and "1e1" as 1, 16 and 10, so a malformed URL
 * could name (even DELETE) a real object.
 */
export function wholeNumberText(min: number, max: number, belowMin = `must be ${min} or more`) {
  return z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(min, belowMin)
        .max(max, max >= 2_147_483_647 ? "is out of range" : `must be at most ${max}`),
    );
}

/**
 * The query parameters of a route. Every route's query schema is built here, so every route
 * treats a parameter it does not know the same way: a 400 naming it and listing the ones the route
 * takes. Ignoring it would turn a typo (`?stauts=done`) into a silently unfiltered answer.
 */
export function queryParams<S extends z.ZodRawShape>(shape: S) {
  const names = Object.keys(shape);
  const takes = names.length > 0 ? `it takes ${names.join(", ")}` : "it takes none";
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys" ? `is not a query parameter of this endpoint (${takes})` : undefined,
  });
}

/** A route that takes no query parameters at all. */
export const NoQueryParams = queryParams({});

/** The `ETag` header of an answer that has one (conditional requests, `src/platform/cache/conditional.ts`). */
export const etagHeader = {
  ETag: {
    description:
      "A strong entity tag of this body. Send it back in `If-None-Match` (GET) for a 304 when nothing changed, or in `If-Match` (task writes) to change only the version you read.",
    schema: { type: "string" as const, example: '"9f86d081884c7d659a2feaa0c55ad015"' },
  },
};

/** The 304 of a GET that honours `If-None-Match`. */
export const notModifiedResponse = {
  304: {
    description:
      "Not modified: `If-None-Match` names the current `ETag`. No body; costs what a 200 from the same place (cache or database) costs.",
    headers: etagHeader,
  },
};

/** `If-None-Match` on a GET that answers with an `ETag`. */
export const IfNoneMatchHeaders = z.object({
  "if-none-match": z.string().optional().openapi({
    description: "Entity tags (or `*`) you hold; if one is current (weak comparison) the answer is 304 with no body.",
  }),
});

/** `If-Match` on a write that must not overwrite a version the caller has not seen. */
export const IfMatchHeaders = z.object({
  "if-match": z.string().optional().openapi({
    description:
      "The `ETag` you read (strong comparison), or `*`. If it is not the current one: 412 and nothing changes.",
  }),
});

/** `nocache=1` on a cached GET answers from the database (`X-Cache: BYPASS`). */
export const nocacheParam = z
  .enum(["0", "1", "true", "false"], { error: "must be 1 or 0" })
  .optional()
  .openapi({ param: { name: "nocache", in: "query" }, description: "`1` bypasses the cache." });

/** Reusable param schemas. */
export const IntIdParam = z.object({
  id: wholeNumberText(1, 2_147_483_647, "must be positive").openapi({
    param: { name: "id", in: "path" },
    type: "integer",
    example: 42,
  }),
});

export const UuidIdParam = z.object({
  id: z
    .string()
    .uuid("must be a UUID")
    .openapi({ param: { name: "id", in: "path" }, example: "0b6f1c4e-8a51-4a43-9d0c-3f2a9c1e7b11" }),
});
