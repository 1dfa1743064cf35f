/** The answers a route definition declares: the shared error shape by status, JSON bodies, `ETag`s. */
import { z } from "@hono/zod-openapi";

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
