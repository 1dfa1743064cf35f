/** Path, query and header parameters of route definitions, each validated as the document shows it. */
import { z } from "@hono/zod-openapi";

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
      // Digits only, so the number is whole; no `int()` check, whose limit (2^53) would add a
      // sentence about doubles to the one limit a caller can act on.
      z
        .number()
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
