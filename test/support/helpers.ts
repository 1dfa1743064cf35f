/**
 * Test helpers: real HTTP through the worker's fetch handler, real Postgres for setup and
 * assertions. Each test makes its own users (unique emails), so files can run in any order.
 */

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import worker from "../../src/index.ts";
import { getConfig } from "../../src/platform/config/config.ts";
import { connect, type Database } from "../../src/platform/db/client.ts";
import { type Role, users } from "../../src/platform/db/schema.ts";
import { userStateOf } from "../../src/platform/edge-state/user-state.client.ts";

export const BASE = "http://api.test/api/v1";
export const PASSWORD = "Sturdy-Passw0rd!";

export interface TestEnv extends Env {
  TEST_RELAY_STATS_URL: string;
  TEST_CLOSED_PORT: string;
  /** Node-side helper server (test/node/support-server.ts). */
  TEST_SUPPORT_URL: string;
  /** Node-side webhook receiver (test/node/webhook-receiver.ts). */
  TEST_WEBHOOK_RECEIVER_URL: string;
}
export const testEnv = env as TestEnv;

let origin: string | undefined;
/** The test runtime's real HTTP origin: presigned R2 URLs signed for it reach the local S3 endpoint. */
export async function runtimeOrigin(): Promise<string> {
  if (!origin) {
    const response = await fetch(`${testEnv.TEST_SUPPORT_URL}/runtime-origin`);
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

let counter = 0;
export function uniqueEmail(prefix = "user"): string {
  counter++;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

/** A database handle for setup and assertions; close it with `end()`. */
export function database(): Database {
  return connect(getConfig(testEnv));
}

export async function withDb<T>(work: (db: Database["db"]) => Promise<T>): Promise<T> {
  const handle = database();
  try {
    return await work(handle.db);
  } finally {
    await handle.end();
  }
}

export interface TestUser {
  id: number;
  email: string;
  token: string;
  refreshToken: string;
  role: Role;
}

/**
 * A distinct client address per call: login/register/refresh share one rate-limit bucket per IP,
 * and the whole suite would otherwise be one client exhausting it.
 */
export function clientIp(): string {
  const part = () => Math.floor(Math.random() * 254) + 1;
  return `198.18.${part()}.${part()}`;
}

/** Registers a user through the API, optionally sets role/department in the database, and logs in. */
export async function createUser(
  options: { role?: Role; departmentId?: number | null; prefix?: string } = {},
): Promise<TestUser> {
  const email = uniqueEmail(options.prefix ?? options.role ?? "user");
  const registered = await api("/auth/user/register/", {
    json: { email, password: PASSWORD, full_name: "Test User" },
    headers: { "CF-Connecting-IP": clientIp() },
  });
  if (registered.status !== 201) throw new Error(`register failed: ${registered.status} ${await registered.text()}`);
  const { id } = await json<{ id: number }>(registered);
  if (options.role || options.departmentId !== undefined) {
    await withDb((db) =>
      db
        .update(users)
        .set({ role: options.role ?? "employee", departmentId: options.departmentId ?? null })
        .where(eq(users.id, id)),
    );
  }
  const tokens = await loginAs(email);
  return {
    id,
    email,
    token: tokens.access_token,
    refreshToken: tokens.refresh_token,
    role: options.role ?? "employee",
  };
}

export async function loginAs(email: string, password = PASSWORD) {
  const response = await api("/auth/user/login/", {
    json: { email, password },
    headers: { "CF-Connecting-IP": clientIp() },
  });
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${await response.text()}`);
  return json<{ access_token: string; refresh_token: string }>(response);
}

/** Polls until `check` returns a value (not undefined) or the timeout passes. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * What an operator's tool does after changing an account directly in SQL (deleting or disabling
 * it: the API has no route for either): tell the user's edge state, so the change applies on the
 * very next request instead of within the state's snapshot age.
 */
export async function accountChangedOutsideApi(userId: number): Promise<void> {
  await userStateOf(testEnv, userId).userChanged();
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
