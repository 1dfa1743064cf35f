/**
 * What each request costs in database round trips: a cached answer none, any other
 * authenticated GET one, a task or comment write two. Every query of the request path is one
 * request to the SQL-over-HTTP endpoint (Neon's HTTP API), so the requests are counted there.
 *
 * The worker is called with its real environment except that its connection string names an
 * `application_name` of this test's own: the endpoint counts requests per name, so exactly these
 * calls are counted whatever else the suite runs meanwhile. (The user's edge state object runs
 * with the real environment; it is warmed first, and then has nothing to read.)
 */
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { tasks } from "../../src/platform/db/schema.ts";
import { testEnv, withDb } from "../support/env.ts";
import { api, callWorker, json, roundTripCounter } from "../support/http.ts";
import { makeOrg, type Org } from "../support/org.ts";
import { makeTask } from "../support/tasks.ts";
import { finished, formUpload, sampleCsv } from "../support/uploads.ts";
import { createUser, type TestUser } from "../support/users.ts";

const { env: counted, requestsSoFar } = roundTripCounter("round-trips");

interface Measured {
  status: number;
  cache: string | null;
  roundTrips: number;
  body: string;
}

/** One request to the worker; counts the database requests it made, `waitUntil` work included. */
async function measure(path: string, token: string, init: RequestInit = {}): Promise<Measured> {
  const before = await requestsSoFar();
  const response = await callWorker(counted, path, token, init);
  return {
    status: response.status,
    cache: response.headers.get("X-Cache"),
    roundTrips: (await requestsSoFar()) - before,
    body: await response.text(),
  };
}

const post = (body: unknown): RequestInit => ({ method: "POST", body: JSON.stringify(body) });

describe("database round trips per request", () => {
  let org: Org;
  let taskId: number;

  beforeAll(async () => {
    org = await makeOrg();
    taskId = (await makeTask(org.manager, { assignees: [org.employee.id] })).id;
  });

  it("a cached task list, task detail, my tasks and every report (JSON and CSV) cost none when they hit", async () => {
    const json = { headers: { Accept: "application/json" } };
    const reads: [string, RequestInit][] = [
      ["/tasks/?page_size=20", {}],
      [`/tasks/${taskId}/`, {}],
      ["/tasks/my_tasks/", {}],
      ["/reports/task-status/", {}],
      ["/reports/task-status/", json],
      ["/reports/overdue/", {}],
      ["/reports/completed-per-day/", json],
    ];
    for (const [path, init] of reads) {
      const miss = await measure(path, org.employee.token, init);
      expect(miss.status, `${path}: ${miss.body}`).toBe(200);
      expect(miss.cache, path).toBe("MISS");
      const hit = await measure(path, org.employee.token, init);
      expect(hit.cache, path).toBe("HIT");
      expect(hit.body, path).toBe(miss.body);
      expect(hit.roundTrips, path).toBe(0);
    }
  });

  it("an uncached read costs one round trip (a list sends its count and its page together)", async () => {
    const me = await measure("/auth/user/me/", org.employee.token);
    expect(me.status).toBe(200);
    expect(me.roundTrips).toBe(1);
    const detail = await measure(`/tasks/${taskId}/?nocache=1`, org.employee.token);
    expect(detail.cache).toBe("BYPASS");
    expect(detail.roundTrips).toBe(1);
    for (const path of [
      "/tasks/?page_size=20&nocache=1",
      "/tasks/?status=pending&ordering=-priority&search=a&nocache=1",
      "/tasks/my_tasks/?nocache=1",
    ]) {
      const list = await measure(path, org.manager.token);
      expect(list.status, list.body).toBe(200);
      expect(list.cache, path).toBe("BYPASS");
      expect(list.roundTrips, path).toBe(1);
    }
  });

  it("an uncached report costs one round trip, an overdue list with its assignees included", async () => {
    const late = await makeTask(org.manager, { title: "late", assignees: [org.employee.id] });
    await withDb((db) =>
      db
        .update(tasks)
        .set({ dueDate: new Date(Date.now() - 2 * 86_400_000) })
        .where(eq(tasks.id, late.id)),
    );
    const json = { headers: { Accept: "application/json" } };
    for (const path of [
      "/reports/overdue/?nocache=1",
      "/reports/task-status/?nocache=1",
      "/reports/completed-per-day/?nocache=1",
      "/reports/opened-per-day/?nocache=1",
    ]) {
      const report = await measure(path, org.employee.token, json);
      expect(report.status, `${path}: ${report.body}`).toBe(200);
      expect(report.cache, path).toBe("BYPASS");
      expect(report.roundTrips, path).toBe(1);
    }
    const overdue = JSON.parse((await measure("/reports/overdue/?nocache=1", org.employee.token, json)).body);
    expect(overdue.results).toEqual([expect.objectContaining({ id: late.id, assignees: [org.employee.id] })]);
  });

  it("every other authenticated GET costs one round trip", { timeout: 60_000 }, async () => {
    const form = new FormData();
    form.append("file", new File(["counted attachment"], "counted.txt", { type: "text/plain" }));
    const attachment = await api(`/tasks/${taskId}/attachments/`, { token: org.manager.token, body: form });
    expect(attachment.status).toBe(201);
    const attachmentId = (await json<{ id: number }>(attachment)).id;
    const owner: TestUser = await createUser();
    const upload = await formUpload(owner, sampleCsv(100));
    const done = await finished(owner, upload.id);
    const hook = await json<{ id: number }>(
      await api("/webhooks/", {
        token: org.ceo.token,
        json: { url: `${testEnv.TEST_WEBHOOK_RECEIVER_URL}/hooks/round-trips`, events: ["task.deleted"] },
      }),
    );
    const ping = await json<{ id: number }>(
      await api(`/webhooks/${hook.id}/test/`, { method: "POST", token: org.ceo.token }),
    );
    const reads: [string, string][] = [
      [`/tasks/${taskId}/attachments/`, org.manager.token],
      [`/attachments/${attachmentId}/`, org.manager.token],
      [`/tasks/${taskId}/comments/`, org.manager.token],
      ["/departments/", org.manager.token],
      [`/departments/${org.departmentId}/`, org.manager.token],
      ["/task-assignments/", org.manager.token],
      ["/users/", org.ceo.token],
      [`/users/${org.employee.id}/`, org.manager.token],
      ["/csv-data/uploads/", owner.token],
      [`/csv-data/uploads/${upload.id}/`, owner.token],
      [`/csv-data/uploads/${upload.id}/progress/`, owner.token],
      ["/jobs/", owner.token],
      [`/jobs/${done.job}/`, owner.token],
      ["/dev/outbox/", org.ceo.token],
      ["/webhooks/", org.ceo.token],
      [`/webhooks/${hook.id}/`, org.ceo.token],
      [`/webhooks/${hook.id}/deliveries/`, org.ceo.token],
      [`/webhooks/${hook.id}/deliveries/${ping.id}/`, org.ceo.token],
    ];
    const costs: Record<string, number> = {};
    for (const [path, token] of reads) {
      const read = await measure(path, token);
      expect(read.status, `${path}: ${read.body}`).toBe(200);
      costs[path] = read.roundTrips;
    }
    expect(costs).toEqual(Object.fromEntries(reads.map(([path]) => [path, 1])));
    await api(`/webhooks/${hook.id}/`, { method: "DELETE", token: org.ceo.token });
  });

  it("each task and comment write costs at most two", async () => {
    const writes: [string, string, RequestInit][] = [
      ["create", "/tasks/", post({ title: "counted", assignees: [org.employee.id] })],
      ["patch", `/tasks/${taskId}/`, { method: "PATCH", body: JSON.stringify({ title: "counted again" }) }],
      ["assign", `/tasks/${taskId}/assign/`, post({ assignees: [org.colleague.id] })],
      ["unassign", `/tasks/${taskId}/unassign/`, post({ assignees: [org.colleague.id] })],
      ["comment", `/tasks/${taskId}/comments/`, post({ content: "counted comment" })],
      ["complete", `/tasks/${taskId}/complete/`, { method: "POST" }],
    ];
    for (const [name, path, init] of writes) {
      const write = await measure(path, org.manager.token, init);
      expect(write.status, `${name}: ${write.body}`).toBeLessThan(300);
      expect(write.roundTrips, name).toBeLessThanOrEqual(2);
      expect(write.roundTrips, name).toBeGreaterThanOrEqual(1);
    }
    const doomed = await makeTask(org.manager);
    const removed = await measure(`/tasks/${doomed.id}/`, org.manager.token, { method: "DELETE" });
    expect(removed.status).toBe(204);
    expect(removed.roundTrips).toBeLessThanOrEqual(2);
  });

  it("a completed upload's cached row page costs none; uncached, filtered or not, one", {
    timeout: 60_000,
  }, async () => {
    const owner: TestUser = await createUser();
    const upload = await formUpload(owner, sampleCsv(300));
    await finished(owner, upload.id);
    const page = `/csv-data/uploads/${upload.id}/data/?page_size=10`;
    const miss = await measure(page, owner.token);
    expect(miss.status).toBe(200);
    expect(miss.cache).toBe("MISS");
    const hit = await measure(page, owner.token);
    expect(hit.cache).toBe("HIT");
    expect(hit.body).toBe(miss.body);
    expect(hit.roundTrips).toBe(0);
    const uncached = await measure(`${page}&nocache=1`, owner.token);
    expect(uncached.cache).toBe("BYPASS");
    expect(uncached.roundTrips).toBe(1);
    // A filtered page counts its matches too: rows, estimate and count travel as one batch.
    const filtered = await measure(`${page}&nocache=1&filter[amount][gt]=100`, owner.token);
    expect(filtered.status).toBe(200);
    expect(JSON.parse(filtered.body)).toMatchObject({ count_is_estimate: false });
    expect(filtered.roundTrips).toBe(1);
  });
});
