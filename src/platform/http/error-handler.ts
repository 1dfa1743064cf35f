/**
 * The one place errors become responses. `ApiError` carries its status and sentence; hono's own
 * `HTTPException`s (malformed JSON, body limits) are translated; anything else is a bug or a
 * dependency failure: logged with its stack and answered without internals.
 */
import type { ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ConfigError } from "../config/config.ts";
import type { AppEnv } from "../context/types.ts";
import { isConnectionError, PG_QUERY_CANCELED, pgErrorCode } from "../db/client.ts";
import { ApiError, isApiError } from "../lib/errors.ts";
import { errorFields, log } from "../lib/log.ts";

function fromHttpException(error: HTTPException): ApiError {
  if (error.status === 400 && /JSON/i.test(error.message)) {
    return ApiError.badRequest("The request body is not valid JSON.");
  }
  if (error.status === 413) return ApiError.tooLarge("The request body is too large.");
  const status = error.status as ApiError["status"];
  return new ApiError(status, error.message || "The request could not be processed.");
}

export function toApiError(error: unknown): ApiError {
  if (isApiError(error)) return error;
  if (error instanceof HTTPException) return fromHttpException(error);
  if (error instanceof ConfigError) return ApiError.unavailable("The service is misconfigured; try again later.");
  if (isConnectionError(error)) return ApiError.unavailable("The database is unavailable; try again shortly.", error);
  if (pgErrorCode(error) === PG_QUERY_CANCELED) {
    return ApiError.unavailable(
      "The database took too long to answer and the query was stopped; try again, or narrow the request (fewer rows, a more selective filter).",
      error,
    );
  }
  return new ApiError(
    500,
    "An unexpected error occurred. It has been logged; quote the X-Request-Id when reporting it.",
  );
}

export function errorBody(error: ApiError): { detail: string; errors?: ApiError["errors"] } {
  return error.errors ? { detail: error.detail, errors: error.errors } : { detail: error.detail };
}

export const onError: ErrorHandler<AppEnv> = (error, c) => {
  const apiError = toApiError(error);
  if (apiError.status >= 500) {
    log("error", "request failed", { request_id: c.get("requestId"), status: apiError.status, ...errorFields(error) });
  }
  for (const [name, value] of Object.entries(apiError.headers ?? {})) c.header(name, value);
  return c.json(errorBody(apiError), apiError.status as ContentfulStatusCode);
};

export const notFound: NotFoundHandler<AppEnv> = (c) =>
  c.json({ detail: `No route matches ${c.req.method} ${new URL(c.req.url).pathname}.` }, 404);
