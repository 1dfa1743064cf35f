/**
 * The HTTP client of the tests: real requests through the worker's fetch handler (or straight to
 * the worker with an environment of the test's own), as a client of the API sends them.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import worker from "../../src/index.ts";
import { type TestEnv, testEnv } from "./env.ts";

export const BASE = "http://api.test/api/v1";

let origin: string | undefined;
/** The test runtime's real HTTP origin: presigned R2 URLs signed for it reach the local S3 endpoint. */
export async function runtimeOrigin(): Promise<string> {
  if (!origin) {
    const response = await fetch(`${testEnv.TEST_SUPPORT_URL}/runtime-origin?id=${testEnv.TEST_RUNTIME_ID}`);
    if (!response.ok) throw new Error(`runtime origin unknown: ${response.status}`);
    origin = ((await response.json()) as { origin: string }).origin;
  }
  return origin;
}

export interface ApiOptions {
  method?: string;
  token?: string;
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
}

export async function api(path: string, options: ApiOptions = {}): Promise<Response> {
  const headers = new Headers(options.headers);
  if (options.token) headers.set("Authorization", `Bearer ${options.token}`);
  let body = options.body;
  if (options.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(options.json);
  }
  const url = path.startsWith("http") ? path : `${BASE}${path}`;
  return exports.default.fetch(new Request(url, { method: options.method ?? (body ? "POST" : "GET"), headers, body }));
}

export async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/**
 * A distinct client address per call: login/register/refresh share one rate-limit bucket per IP,
 * and the whole suite would otherwise be one client exhausting it.
 */
export function clientIp(): string {
  const part = () => Math.floor(Math.random() * 254) + 1;
  return `198.18.${part()}.${part()}`;
}

/**
 * One request straight to the worker with `env` in place of the test environment (a binding
 * replaced by one that fails, a connection string with its own name), its `waitUntil` work
 * awaited before returning. An empty `token` sends no Authorization header.
 */
export async function callWorker(env: Env, path: string, token: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  if (init.body) headers.set("Content-Type", "application/json");
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`${BASE}${path}`, { ...init, headers }), env, ctx);
  const body = await response.text();
  await waitOnExecutionContext(ctx);
  return new Response(body, { status: response.status, headers: response.headers });
}

/**
 * Counts the database round trips of the requests made with `env`: the worker's environment with a
 * connection string naming an `application_name` of its own, which the SQL-over-HTTP endpoint
 * counts requests by. Exactly these calls are counted, whatever else the suite runs meanwhile.
 */
export function roundTripCounter(label: string): { env: TestEnv; requestsSoFar: () => Promise<number> } {
  const application = `${label}-${crypto.randomUUID()}`;
  const url = new URL(testEnv.DATABASE_URL);
  url.searchParams.set("application_name", application);
  return {
    env: { ...testEnv, DATABASE_URL: url.toString() },
    requestsSoFar: async () => {
      const response = await fetch(`${testEnv.TEST_SUPPORT_URL}/sql-over-http/stats`);
      const stats = (await response.json()) as { byApplication: Record<string, number> };
      return stats.byApplication[application] ?? 0;
    },
  };
}
