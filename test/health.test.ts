import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index.ts";

const testEnv = env as Env & { TEST_CLOSED_PORT: string };

describe("GET /api/v1/health-check/", () => {
  it("answers 200 with every dependency ok", async () => {
    const response = await exports.default.fetch("http://api.test/api/v1/health-check/");
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      status: string;
      checks: Record<string, { status: string; latency_ms: number }>;
    };
    expect(body.status).toBe("ok");
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

  it("answers 503 naming the database when Postgres is unreachable", async () => {
    const closed = testEnv.DATABASE_URL.replace(/:(\d+)\//, `:${testEnv.TEST_CLOSED_PORT}/`);
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request("http://api.test/api/v1/health-check/"),
      { ...testEnv, DATABASE_URL: closed },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(503);
    const body = (await response.json()) as {
      detail: string;
      checks: Record<string, { status: string; error?: string }>;
    };
    expect(body.detail).toBe("Unavailable: database.");
    expect(body.checks.database?.status).toBe("error");
    expect(body.checks.database?.error).not.toMatch(/postgres:\/\/postgres:/);
    expect(body.checks.kv?.status).toBe("ok");
  });
});
