/**
 * The scripts' API client: the typed client (client/index.ts) with what every script needs on top.
 * A `429` is waited out as its `Retry-After` says and the request sent again, a bounded number
 * of times; `login` turns credentials into a session; `ok` turns an answer into its data or an
 * `ApiError` that carries the API's `detail` sentence.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type ApiClient, createApiClient } from "../../client/index.ts";

export type { ApiClient, Schemas } from "../../client/index.ts";

/** An error answer from the API, carrying its `detail` sentence for the person at the terminal. */
export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  constructor(status: number, detail: string) {
    super(`${status}: ${detail}`);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
  }
}

export interface Session {
  /** The server origin, e.g. http://localhost:8787 (no /api/v1). */
  api: string;
  token: string;
}

export interface RetryOptions {
  /** Tries per request, the first included, before a 429 is handed to the caller (default 5). */
  attempts?: number;
  /** The wait when a 429 carries no usable `Retry-After` (default 10 s). */
  fallbackSeconds?: number;
  /** Told before each wait, so a script can say why it pauses. */
  onRateLimited?: (seconds: number, request: Request) => void;
  /** Told right before each try is sent: a benchmark starts its clock there, so a wait is never timed. */
  onAttempt?: (request: Request) => void;
}

/**
 * Seconds a `Retry-After` value asks for: a number of seconds or an HTTP date (RFC 9110 §10.2.3);
 * null when it is neither.
 */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | null {
  if (value === null || value.trim() === "") return null;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

/** A fetch that waits out 429 answers and sends the request again. */
export function rateLimitedFetch(options: RetryOptions = {}): (request: Request) => Promise<Response> {
  const attempts = options.attempts ?? 5;
  return async (request) => {
    for (let attempt = 1; ; attempt++) {
      // A body can be read once: each try sends a copy, the original stays for the next.
      options.onAttempt?.(request);
      const response = await fetch(request.clone());
      if (response.status !== 429 || attempt >= attempts) return response;
      const seconds = retryAfterSeconds(response.headers.get("Retry-After")) ?? options.fallbackSeconds ?? 10;
      await response.body?.cancel();
      options.onRateLimited?.(seconds, request);
      await sleep(seconds * 1000);
    }
  };
}

/** The typed client for scripts: `429` answers are waited out (see `RetryOptions`). */
export function scriptClient(origin: string, token?: string, retry: RetryOptions = {}): ApiClient {
  return createApiClient(origin, token, { fetch: rateLimitedFetch(retry) });
}

export function sessionClient(session: Session, retry: RetryOptions = {}): ApiClient {
  return scriptClient(session.api, session.token, retry);
}

/** The API's `detail`, else the raw text: a proxy's error page has no JSON body. */
function detailOf(error: unknown, response: Response): string {
  if (typeof error === "object" && error !== null && "detail" in error && typeof error.detail === "string") {
    return error.detail;
  }
  if (typeof error === "string" && error !== "") return error;
  return response.statusText || `HTTP ${response.status}`;
}

type Answer<T> = Promise<{ data?: T; error?: unknown; response: Response }>;

/** The answer's body on a 2xx that has one; an `ApiError` otherwise. */
export async function ok<T>(call: Answer<T>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw new ApiError(response.status, detailOf(error, response));
  if (data === undefined) throw new ApiError(response.status, "the answer has no body");
  return data;
}

export interface LoginOptions extends RetryOptions {
  /** Extra headers on the login request (e.g. a client address for the per-IP auth limit). */
  headers?: Record<string, string>;
}

export async function login(
  api: string,
  email: string,
  password: string,
  options: LoginOptions = {},
): Promise<Session> {
  const client = scriptClient(api, undefined, options);
  const body = await ok(
    client.POST("/api/v1/auth/user/login/", { body: { email, password }, headers: options.headers }),
  );
  return { api, token: body.access_token };
}
