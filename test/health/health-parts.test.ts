/**
 * The health check names each part that fails, alone: R2, KV, the queues, the Durable Objects and,
 * in the deep check, the pool's way to the database and a queue send that is refused; a part that
 * does not answer is "timed out", not "failed". Its answers are never cached, and `deep=true` asks
 * for the same token as `deep=1`. Each failing part is the real binding wrapped so that one method
 * fails, everything else reaching the real one.
 */
import { describe, expect, it } from "vitest";
import { testEnv } from "../support/env.ts";
import { callWorker } from "../support/http.ts";
import { createUser } from "../support/users.ts";

interface HealthBody {
  status: string;
  detail?: string;
  checks: Record<string, { status: string; error?: string }>;
}

/** `target` with `method` replaced by `replacement`; every other property is the real one. */
function withMethod<T extends object>(target: T, method: string, replacement: (...args: unknown[]) => unknown): T {
  return new Proxy(target, {
    get(object, property) {
      if (property === method) return replacement;
      const value: unknown = Reflect.get(object, property, object);
      return typeof value === "function" ? value.bind(object) : value;
    },
  });
}

const refused = () => Promise.reject(new Error("refused by the test"));

async function health(
  env: Env,
  query = "",
  token = "",
): Promise<{ status: number; body: HealthBody; response: Response }> {
  const response = await callWorker(env, `/health-check/${query}`, token);
  return { status: response.status, body: (await response.clone().json()) as HealthBody, response };
}

function expectOnlyFailing(body: HealthBody, name: string, error = "failed") {
  expect(body.detail).toBe(`Unavailable: ${name}.`);
  for (const [check, result] of Object.entries(body.checks)) {
    expect({ check, status: result.status, error: result.error }).toEqual(
      check === name ? { check, status: "error", error } : { check, status: "ok", error: undefined },
    );
  }
}

describe("the health check names the part that fails", () => {
  it("R2 refusing a head", async () => {
    const { status, body } = await health({ ...testEnv, FILES: withMethod(testEnv.FILES, "head", refused) } as Env);
    expect(status).toBe(503);
    expectOnlyFailing(body, "r2");
  });

  it("KV refusing a read", async () => {
    const { status, body } = await health({ ...testEnv, CACHE: withMethod(testEnv.CACHE, "get", refused) } as Env);
    expect(status).toBe(503);
    expectOnlyFailing(body, "kv");
  });

  it("a queue binding missing", async () => {
    const { status, body } = await health({ ...testEnv, EMAIL_QUEUE: undefined } as unknown as Env);
    expect(status).toBe(503);
    expectOnlyFailing(body, "queues");
  });

  it("the Durable Object not answering its ping", async () => {
    const namespace = withMethod(testEnv.UPLOAD_PROGRESS, "get", () => ({ ping: refused }));
    const { status, body } = await health({ ...testEnv, UPLOAD_PROGRESS: namespace } as Env);
    expect(status).toBe(503);
    expectOnlyFailing(body, "durable_objects");
  });

  it("a part that never answers is reported as timed out after its 5 s", async () => {
    const hung = withMethod(testEnv.CACHE, "get", () => new Promise(() => {}));
    const started = Date.now();
    const { status, body } = await health({ ...testEnv, CACHE: hung } as Env);
    expect(status).toBe(503);
    expectOnlyFailing(body, "kv", "timed out");
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_900);
  }, 20_000);
});

describe("the deep check proves the write paths", () => {
  it("names the database when only the pool's way to it is down", async () => {
    const ceo = await createUser({ role: "ceo" });
    const poolDown = { ...testEnv, PG_RELAY: `127.0.0.1:${testEnv.TEST_CLOSED_PORT}` } as Env;
    // The anonymous check uses HTTP alone, so it does not see this.
    expect((await health(poolDown)).status).toBe(200);
    const { status, body } = await health(poolDown, "?deep=1", ceo.token);
    expect(status).toBe(503);
    expectOnlyFailing(body, "database");
  });

  it("names the queues when a send is refused", async () => {
    const hr = await createUser({ role: "hr" });
    const refusing = { ...testEnv, EMAIL_QUEUE: withMethod(testEnv.EMAIL_QUEUE, "send", refused) } as Env;
    const { status, body } = await health(refusing, "?deep=1", hr.token);
    expect(status).toBe(503);
    expectOnlyFailing(body, "queues");
  });

  it("its KV probe expires within a minute instead of staying forever", async () => {
    const ceo = await createUser({ role: "ceo" });
    const before = new Set((await testEnv.CACHE.list({ prefix: "health:" })).keys.map((key) => key.name));
    expect((await health(testEnv, "?deep=1", ceo.token)).status).toBe(200);
    const made = (await testEnv.CACHE.list({ prefix: "health:" })).keys.filter((key) => !before.has(key.name));
    expect(made.length).toBeGreaterThanOrEqual(1);
    for (const key of made) {
      expect(key.expiration).toBeDefined();
      expect((key.expiration ?? 0) * 1000).toBeLessThanOrEqual(Date.now() + 61_000);
    }
  });

  it("deep=true needs the same CEO or HR token as deep=1", async () => {
    const anonymous = await callWorker(testEnv, "/health-check/?deep=true", "");
    expect(anonymous.status).toBe(401);
    const employee = await createUser();
    expect((await callWorker(testEnv, "/health-check/?deep=true", employee.token)).status).toBe(403);
  });
});

describe("health answers are never cached", () => {
  it("Cache-Control: no-store on 200 and on 503", async () => {
    const healthy = await health(testEnv);
    expect(healthy.status).toBe(200);
    expect(healthy.response.headers.get("Cache-Control")).toBe("no-store");
    const failing = await health({ ...testEnv, FILES: withMethod(testEnv.FILES, "head", refused) } as Env);
    expect(failing.status).toBe(503);
    expect(failing.response.headers.get("Cache-Control")).toBe("no-store");
  });
});
