/**
 * The one error type of the API. Anything thrown as an `ApiError` reaches the client as
 * `{"detail": ..., "errors"?: [...]}` with its status; everything else becomes a logged 500
 * with no internals shown (see `platform/http/error-handler.ts`).
 */
export interface FieldError {
  field: string;
  message: string;
}

export type ErrorStatus =
  | 400
  | 401
  | 403
  | 404
  | 405
  | 406
  | 409
  | 410
  | 412
  | 413
  | 415
  | 422
  | 426
  | 429
  | 500
  | 502
  | 503;

export class ApiError extends Error {
  readonly status: ErrorStatus;
  readonly detail: string;
  readonly errors?: FieldError[];
  readonly headers?: Record<string, string>;

  constructor(
    status: ErrorStatus,
    detail: string,
    options: { errors?: FieldError[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(detail, { cause: options.cause });
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.errors = options.errors;
    this.headers = options.headers;
  }

  static badRequest(detail: string, errors?: FieldError[]): ApiError {
    return new ApiError(400, detail, { errors });
  }
  static invalidParameter(field: string, message: string): ApiError {
    return new ApiError(400, `Invalid value for '${field}': ${message}`, { errors: [{ field, message }] });
  }
  static unauthenticated(detail = NOT_AUTHENTICATED): ApiError {
    return new ApiError(401, detail, { headers: { "WWW-Authenticate": 'Bearer realm="api"' } });
  }
  static forbidden(detail = "You do not have permission to perform this action."): ApiError {
    return new ApiError(403, detail);
  }
  static notFound(what = "Resource"): ApiError {
    return new ApiError(404, `${what} not found.`);
  }
  static notAcceptable(detail: string): ApiError {
    return new ApiError(406, detail);
  }
  static conflict(detail: string): ApiError {
    return new ApiError(409, detail);
  }
  static tooLarge(detail: string): ApiError {
    return new ApiError(413, detail);
  }
  static unsupportedMediaType(detail: string): ApiError {
    return new ApiError(415, detail);
  }
  static unprocessable(detail: string): ApiError {
    return new ApiError(422, detail);
  }
  static throttled(retryAfterSeconds: number): ApiError {
    return new ApiError(429, "Request was throttled.", { headers: { "Retry-After": String(retryAfterSeconds) } });
  }
  static unavailable(detail: string, cause?: unknown): ApiError {
    return new ApiError(503, detail, { cause });
  }
}

export const NOT_AUTHENTICATED = "Authentication credentials were not provided.";

export function isApiError(error: unknown): error is ApiError {
  return error instanceof ApiError;
}
