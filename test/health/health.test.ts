import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { testEnv } from "../support/env.ts";
import { callWorker } from "../support/http.ts";
import { createUser } from "../support/users.ts";

const WINDOW_MS = 60_000;
const HEALTH_LIMIT = 30;

interface HealthBody {
  status: string;
  deep: boolean;
  detail?: string;
  checks: Record<string, { status: string; latency_ms: number; error?: string }>;
}

/**
 * The test environment with KV and every queue producer wrapped so every call is recorded and
 * then made on the real binding: what the health check does to them is observed, not faked.
 */
function recordingEnv(): { env: Env; calls: string[] } {
  const calls: string[] = [];
  const record = <T extends object>(name: string, target: T): T =>
    new Proxy(target, {
      get(object, property) {
        const value: unknown = Reflect.get(object, property, object);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          calls.push(`${name}.${String(property)}`);
          return Reflect.apply(value, object, args);
        };
      },
    });
  const env = {
    ...testEnv,
    CACHE: record("kv", testEnv.CACHE),
    INGEST_QUEUE: record("ingest", testEnv.INGEST_QUEUE),
    INGEST_CHUNK_QUEUE: record("ingest-chunks", testEnv.INGEST_CHUNK_QUEUE),
    INGEST_INDEX_QUEUE: record("ingest-index", testEnv.INGEST_INDEX_QUEUE),
    EMAIL_QUEUE: record("email", testEnv.EMAIL_QUEUE),
  } as Env;
  return { env, calls };
}

async function healthKeys(): Promise<string[]> {
  return (await testEnv.CACHE.list({ prefix: "health:" })).keys.map((key) => key.name);
}

/** A run straddling a rate-limit window proves nothing: start early in a window. */
async function startOfWindow(neededMs: number): Promise<void> {
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < neededMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

describe("GET /api/v1/health-check/", () => {
  it("answers 200 with every dependency ok", async () => {
    const response = await exports.default.fetch("http://api.test/api/v1/health-check/");
    expect(response.status).toBe(200);
    const body = (await response.json()) as HealthBody;
    expect(body.status).toBe("ok");
    expect(body.deep).toBe(false);
    expect(Object.keys(body.checks).sort()).toEqual(["database", "durable_objects", "kv", "queues", "r2"]);
    for (const check of Object.values(body.checks)) {
      expect(check.status).toBe("ok");
      expect(check.latency_ms).toBeGreaterThanOrEqual(0);
    }
  });

  it("answers without the trailing slash too", async () => {
    const response = await exports.default.fetch("http://api.test/api/v1/health-check");
    expect(response.status).toBe(200);
  });

  it("anonymous: reads only, writes nothing (no KV put, no queue send, no new KV key)", async () => {
    const keysBefore = await healthKeys();
    const { env, calls } = recordingEnv();
    for (let i = 0; i < 3; i++) expect((await callWorker(env, "/health-check/", "")).status).toBe(200);
    expect(calls.filter((call) => /\.(put|delete|send|sendBatch)$/.test(call))).toEqual([]);
    expect(calls).toContain("kv.get");
    expect(await healthKeys()).toEqual(keysBefore);
  });

  it("answers 503 naming the database when Postgres is unreachable, with no internal error text", async () => {
    const port = testEnv.DATABASE_URL.match(/:(\d+)\//)?.[1] ?? "";
    const closed = testEnv.DATABASE_URL.replace(/:(\d+)\//, `:${testEnv.TEST_CLOSED_PORT}/`);
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request("http://api.test/api/v1/health-check/"),
      { ...testEnv, DATABASE_URL: closed },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(503);
    const text = await response.text();
    const body = JSON.parse(text) as HealthBody;
    expect(body.detail).toBe("Unavailable: database.");
    expect(body.checks.database).toEqual({ status: "error", latency_ms: expect.any(Number), error: "failed" });
    expect(body.checks.kv?.status).toBe("ok");
    for (const internal of [
      testEnv.TEST_CLOSED_PORT,
      port,
      "127.0.0.1",
      "localhost",
      "postgres",
      "connect",
      "ECONNREFUSED",
      "Error",
    ]) {
      expect(text, internal).not.toContain(internal);
    }
  });

  it(`is limited per client IP: ${HEALTH_LIMIT} per minute pass, the next is 429; other IPs and internal calls are not`, async () => {
    for (let attempt = 1; ; attempt++) {
      const ip = `198.51.100.${attempt}-${crypto.randomUUID().slice(0, 8)}`;
      await startOfWindow(20_000);
      const window = Math.floor(Date.now() / WINDOW_MS);
      const statuses: number[] = [];
      for (let i = 0; i < HEALTH_LIMIT; i++) {
        statuses.push(
          (await callWorker(testEnv, "/health-check/", "", { headers: { "CF-Connecting-IP": ip } })).status,
        );
      }
      const throttled = await callWorker(testEnv, "/health-check/", "", { headers: { "CF-Connecting-IP": ip } });
      if (Math.floor(Date.now() / WINDOW_MS) !== window && attempt < 3) continue;

      expect(statuses.filter((status) => status !== 200)).toEqual([]);
      expect(throttled.status).toBe(429);
      expect(await throttled.json()).toEqual({ detail: "Request was throttled." });
      expect(throttled.headers.get("Retry-After")).toBe("60");
      const otherIp = `203.0.113.9-${crypto.randomUUID().slice(0, 8)}`;
      expect(
        (await callWorker(testEnv, "/health-check/", "", { headers: { "CF-Connecting-IP": otherIp } })).status,
      ).toBe(200);
      expect((await callWorker(testEnv, "/health-check/", "")).status).toBe(200);
      return;
    }
  });

  it("?deep=1 needs a CEO or HR token: 401 without one, 403 for a manager or employee", async () => {
    const noToken = await callWorker(testEnv, "/health-check/?deep=1", "");
    expect(noToken.status).toBe(401);
    expect(await noToken.json()).toEqual({ detail: "Authentication credentials were not provided." });
    for (const role of ["employee", "manager"] as const) {
      const user = await createUser({ role });
      const response = await callWorker(testEnv, "/health-check/?deep=1", user.token);
      expect(response.status, role).toBe(403);
      expect(((await response.json()) as { detail: string }).detail).toMatch(/CEO and HR/);
    }
    expect((await callWorker(testEnv, "/health-check/?deep=maybe", "")).status).toBe(400);
  });

  it("?deep=1 as CEO or HR proves the writes: a KV put read back and a send to each queue", async () => {
    for (const role of ["ceo", "hr"] as const) {
      const user = await createUser({ role });
      const { env, calls } = recordingEnv();
      const response = await callWorker(env, "/health-check/?deep=1", user.token);
      expect(response.status, role).toBe(200);
      const body = (await response.json()) as HealthBody;
      expect(body).toMatchObject({ status: "ok", deep: true });
      expect(calls).toEqual(
        expect.arrayContaining([
          "kv.put",
          "kv.get",
          "ingest.send",
          "ingest-chunks.send",
          "ingest-index.send",
          "email.send",
        ]),
      );
    }
  });
});
