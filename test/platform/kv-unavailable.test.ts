/**
 * KV unavailable: every read is served uncached from Postgres (X-Cache: BYPASS), every write still
 * succeeds, and once KV is back no page cached before the outage is served stale.
 *
 * Local KV cannot be taken down, so the worker is called with its real environment except for the
 * CACHE binding, replaced by one whose every call fails as an unreachable KV does. Everything
 * else (Postgres, R2, Queues, the app) is the real thing.
 */
import { describe, expect, it } from "vitest";
import { testEnv } from "../support/env.ts";
import { callWorker } from "../support/http.ts";
import { makeOrg } from "../support/org.ts";
import { makeTask } from "../support/tasks.ts";
import { finished, formUpload, sampleCsv } from "../support/uploads.ts";
import { createUser } from "../support/users.ts";

const unreachable = (): Promise<never> => Promise.reject(new Error("KV GET failed: 503 Service Unavailable"));
const downKv = new Proxy(testEnv.CACHE, {
  get: (target, property) => (typeof Reflect.get(target, property) === "function" ? unreachable : undefined),
});

/** A request to the worker with KV up (`kv: "up"`) or failing on every call. */
function call(path: string, token: string, kv: "up" | "down", init: RequestInit = {}): Promise<Response> {
  return callWorker(kv === "up" ? testEnv : { ...testEnv, CACHE: downKv }, path, token, init);
}

describe("KV unavailable", () => {
  it("task lists, details and reports are served uncached; writes succeed; nothing stale afterwards", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { assignees: [org.employee.id] });
    const list = "/tasks/?page_size=50";

    const warm = await call(list, org.manager.token, "up");
    expect(warm.headers.get("X-Cache")).toBe("MISS");
    expect((await call(list, org.manager.token, "up")).headers.get("X-Cache")).toBe("HIT");

    const down = await call(list, org.manager.token, "down");
    expect(down.status).toBe(200);
    expect(down.headers.get("X-Cache")).toBe("BYPASS");
    expect(await down.json()).toEqual(await (await call(`${list}&nocache=1`, org.manager.token, "up")).json());

    const detail = await call(`/tasks/${task.id}/`, org.employee.token, "down");
    expect(detail.status).toBe(200);
    expect(detail.headers.get("X-Cache")).toBe("BYPASS");
    expect(await detail.json()).toMatchObject({ id: task.id, title: task.title });

    const report = await call("/reports/task-status/", org.manager.token, "down");
    expect(report.status).toBe(200);
    expect(report.headers.get("X-Cache")).toBe("BYPASS");

    // A write while KV is down: committed, answered 201, its cache invalidation lost.
    const created = await call("/tasks/", org.manager.token, "down", {
      method: "POST",
      body: JSON.stringify({ title: "written while KV was down" }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: number };
    const renamed = await call(`/tasks/${task.id}/`, org.manager.token, "down", {
      method: "PATCH",
      body: JSON.stringify({ title: "renamed while KV was down" }),
    });
    expect(renamed.status).toBe(200);

    // KV back: the page cached before the outage is not served; the list has both writes.
    const after = await call(list, org.manager.token, "up");
    expect(after.headers.get("X-Cache")).toBe("MISS");
    const items = ((await after.json()) as { results: { id: number; title: string }[] }).results;
    expect(items.map((item) => item.id)).toContain(id);
    expect(items.find((item) => item.id === task.id)?.title).toBe("renamed while KV was down");
  });

  it("rows of an upload are served uncached, with the same body", { timeout: 60_000 }, async () => {
    const user = await createUser();
    const upload = await formUpload(user, sampleCsv(200));
    expect((await finished(user, upload.id)).status).toBe("completed");
    const path = `/csv-data/uploads/${upload.id}/data/?filter[amount][gt]=100&page_size=20`;
    const cached = await call(path, user.token, "up");
    expect(cached.status).toBe(200);
    const down = await call(path, user.token, "down");
    expect(down.status).toBe(200);
    expect(down.headers.get("X-Cache")).toBe("BYPASS");
    expect(await down.json()).toEqual(await cached.json());
  });

  it("the health check names KV as the failing part", async () => {
    const response = await callWorker({ ...testEnv, CACHE: downKv }, "/health-check/", "");
    expect(response.status).toBe(503);
    const body = (await response.json()) as { detail: string; checks: Record<string, { status: string }> };
    expect(body.detail).toBe("Unavailable: kv.");
    expect(body.checks.kv?.status).toBe("error");
    expect(body.checks.database?.status).toBe("ok");
  });
});
