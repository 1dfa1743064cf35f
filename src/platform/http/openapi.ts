/**
 * The API's router. Every route is declared with `createRoute` from @hono/zod-openapi (through
 * `openapi-route.ts`), so the schema that validates a request is the one the OpenAPI document
 * shows; the request parts live in `openapi-params.ts` and `openapi-bodies.ts`, the answers in
 * `openapi-responses.ts`.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context/types.ts";
import { invalidFields, invalidQuery, unstorableText, validationError } from "../lib/validation.ts";

/**
 * A router whose validation failures become the API's 400 shape. Trailing slashes are optional.
 * The hook also sees every input that passed its schema, so text Postgres cannot store (NUL,
 * unpaired surrogates) is refused here for every route, query and body alike.
 */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    strict: false,
    defaultHook: (result, c) => {
      if (!result.success) {
        if (result.target === "query") throw invalidQuery(result.error, c.req.queries());
        throw validationError(result.error, result.target);
      }
      const unstorable = unstorableText(result.data);
      if (unstorable.length > 0) throw invalidFields(unstorable);
    },
  });
}
