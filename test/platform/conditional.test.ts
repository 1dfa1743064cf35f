/**
 * Conditional requests: every cacheable GET answers with an `ETag` and a matching `If-None-Match`
 * gets a 304 with no body (costing no database round trip when the answer comes from the cache);
 * task PUT, PATCH and DELETE honour `If-Match`, so two people editing one task never lose an
 * update silently.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { api, callWorker, json, roundTripCounter } from "../support/http.ts";
import { makeOrg, type Org } from "../support/org.ts";
import { makeTask } from "../support/tasks.ts";
import { finished, formUpload, indexesReady, sampleCsv } from "../support/uploads.ts";
import { createUser, type TestUser } from "../support/users.ts";

const { env: counted, requestsSoFar: databaseRequests } = roundTripCounter("conditional");

async function get(path: string, token: string, headers: Record<string, string> = {}) {
  const response = await api(path, { token, headers });
  return {
    status: response.status,
    etag: response.headers.get("ETag"),
    cache: response.headers.get("X-Cache"),
    response,
  };
}

/** A write of task `id` on condition that it still has `tag` (`If-Match`). */
function writeIfMatch(method: string, id: number, token: string, tag: string, body?: unknown): Promise<Response> {
  return api(`/tasks/${id}/`, { method, token, json: body, headers: { "If-Match": tag } });
}

/** A SHA-256-based strong tag as the API makes it: 32 hex digits in double quotes. */
const STRONG_TAG = /^"[0-9a-f]{32}"$/;

describe("ETag and If-None-Match on cacheable GETs", () => {
  let org: Org;
  let taskId: number;

  beforeAll(async () => {
    org = await makeOrg();
    taskId = (await makeTask(org.manager, { title: "conditional", assignees: [org.employee.id] })).id;
  });

  it("a task's detail carries a strong ETag; sending it back answers 304 with no body, from the cache", async () => {
    const first = await get(`/tasks/${taskId}/`, org.manager.token);
    expect(first.status).toBe(200);
    expect(first.etag).toMatch(STRONG_TAG);
    const body = await first.response.text();

    const again = await get(`/tasks/${taskId}/`, org.manager.token, { "If-None-Match": first.etag ?? "" });
    expect(again.status).toBe(304);
    expect(again.etag).toBe(first.etag);
    expect(again.cache).toBe("HIT");
    expect(await again.response.text()).toBe("");
    expect(again.response.headers.get("Content-Type")).toBeNull();

    // The uncached answer of the same state has the same tag: the tag is the body's, not the cache's.
    const uncached = await get(`/tasks/${taskId}/?nocache=1`, org.manager.token);
    expect(uncached.etag).toBe(first.etag);
    expect(await uncached.response.text()).toBe(body);
  });

  it("a 304 from the cache costs no database round trip", async () => {
    const warm = await callWorker(counted, `/tasks/${taskId}/`, org.employee.token);
    const etag = warm.headers.get("ETag") ?? "";
    expect(etag).toMatch(STRONG_TAG);
    const before = await databaseRequests();
    const response = await callWorker(counted, `/tasks/${taskId}/`, org.employee.token, {
      headers: { "If-None-Match": etag },
    });
    expect(response.status).toBe(304);
    expect(response.headers.get("X-Cache")).toBe("HIT");
    expect((await databaseRequests()) - before).toBe(0);
  });

  it("If-None-Match compares weakly, takes lists and `*`, and a tag of another body never matches", async () => {
    const { etag } = await get(`/tasks/${taskId}/`, org.manager.token);
    const tag = etag ?? "";
    expect((await get(`/tasks/${taskId}/`, org.manager.token, { "If-None-Match": `W/${tag}` })).status).toBe(304);
    expect(
      (await get(`/tasks/${taskId}/`, org.manager.token, { "If-None-Match": `"0000", ${tag}, "ffff"` })).status,
    ).toBe(304);
    expect((await get(`/tasks/${taskId}/`, org.manager.token, { "If-None-Match": "*" })).status).toBe(304);
    const other = await get(`/tasks/${taskId}/`, org.manager.token, { "If-None-Match": `"${"0".repeat(32)}"` });
    expect(other.status).toBe(200);
    expect(other.etag).toBe(tag);
  });

  it("after a change anyone who can see the task gets a 200 with the new body and a new tag", async () => {
    const id = (await makeTask(org.manager, { title: "before", assignees: [org.employee.id] })).id;
    const seenByManager = await get(`/tasks/${id}/`, org.manager.token);
    const seenByEmployee = await get(`/tasks/${id}/`, org.employee.token);
    expect(seenByEmployee.etag).toBe(seenByManager.etag);

    const patched = await api(`/tasks/${id}/`, { method: "PATCH", token: org.manager.token, json: { title: "after" } });
    expect(patched.status).toBe(200);

    for (const [reader, old] of [
      [org.manager, seenByManager.etag],
      [org.employee, seenByEmployee.etag],
    ] as const) {
      const fresh = await get(`/tasks/${id}/`, reader.token, { "If-None-Match": old ?? "" });
      expect(fresh.status).toBe(200);
      expect(fresh.etag).not.toBe(old);
      expect((await json<{ title: string }>(fresh.response)).title).toBe("after");
    }
  });

  it("task lists, my tasks and every report answer with a tag and honour If-None-Match", async () => {
    const reports = ["task-status", "overdue", "completed-per-day", "opened-per-day"].map(
      (name) => `/reports/${name}/`,
    );
    for (const path of ["/tasks/", "/tasks/my_tasks/", ...reports]) {
      const first = await get(path, org.employee.token);
      expect(first.status, path).toBe(200);
      expect(first.etag, path).toMatch(STRONG_TAG);
      const again = await get(path, org.employee.token, { "If-None-Match": first.etag ?? "" });
      expect(again.status, path).toBe(304);
    }
    // The CSV and the JSON of one report are different bodies with different tags.
    const csv = await get("/reports/task-status/", org.employee.token);
    const asJson = await get("/reports/task-status/", org.employee.token, { Accept: "application/json" });
    expect(csv.etag).not.toBe(asJson.etag);
    const crossed = await get("/reports/task-status/", org.employee.token, {
      Accept: "application/json",
      "If-None-Match": csv.etag ?? "",
    });
    expect(crossed.status).toBe(200);
  });

  it("the legacy status report CSV honours If-None-Match too", async () => {
    const origin = "http://api.test/user/tasks/get_task_status_report/";
    const first = await api(origin, { token: org.employee.token });
    expect(first.status).toBe(200);
    const etag = first.headers.get("ETag") ?? "";
    expect(etag).toMatch(STRONG_TAG);
    const again = await api(origin, { token: org.employee.token, headers: { "If-None-Match": etag } });
    expect(again.status).toBe(304);
  });

  it("a tagged answer keeps its Content-Type: JSON for a task, CSV for a report", async () => {
    const task = await get(`/tasks/${taskId}/`, org.manager.token);
    expect(task.etag).toMatch(STRONG_TAG);
    expect(task.response.headers.get("Content-Type")).toContain("application/json");
    const report = await get("/reports/task-status/", org.manager.token);
    expect(report.etag).toMatch(STRONG_TAG);
    expect(report.response.headers.get("Content-Type")).toContain("text/csv");
  });

  it("a write is never answered 304, whatever If-None-Match says", async () => {
    const { id } = await makeTask(org.manager, { title: "written under If-None-Match" });
    const patched = await api(`/tasks/${id}/`, {
      method: "PATCH",
      token: org.manager.token,
      json: { title: "written anyway" },
      headers: { "If-None-Match": "*" },
    });
    expect(patched.status).toBe(200);
    expect((await json<{ title: string }>(patched)).title).toBe("written anyway");
  });

  it("errors carry no tag and are never turned into a 304", async () => {
    const missing = await get("/tasks/2147483000/", org.manager.token, { "If-None-Match": "*" });
    expect(missing.status).toBe(404);
    expect(missing.etag).toBeNull();
  });
});

describe("If-Match on task writes", () => {
  let org: Org;

  beforeAll(async () => {
    org = await makeOrg();
  });

  async function freshTask(title = "edited") {
    const task = await makeTask(org.manager, { title, assignees: [org.employee.id] });
    const { etag } = await get(`/tasks/${task.id}/`, org.manager.token);
    return { id: task.id, etag: etag ?? "" };
  }

  it("a PATCH with the current tag applies and answers the new tag, which is the next GET's", async () => {
    const { id, etag } = await freshTask();
    const patched = await writeIfMatch("PATCH", id, org.manager.token, etag, { priority: "high" });
    expect(patched.status).toBe(200);
    const newTag = patched.headers.get("ETag");
    expect(newTag).toMatch(STRONG_TAG);
    expect(newTag).not.toBe(etag);
    expect((await get(`/tasks/${id}/`, org.manager.token)).etag).toBe(newTag);
  });

  it("two people edit from the same version: the second gets 412 and the first one's change stands", async () => {
    const { id, etag } = await freshTask();
    const first = await writeIfMatch("PATCH", id, org.manager.token, etag, { title: "manager's title" });
    expect(first.status).toBe(200);
    const second = await writeIfMatch("PATCH", id, org.ceo.token, etag, { title: "ceo's title" });
    expect(second.status).toBe(412);
    const refusal = await json<{ detail: string }>(second);
    expect(refusal.detail).toMatch(/changed since you read it/);
    expect(second.headers.get("ETag")).toBe(first.headers.get("ETag"));
    const now = await json<{ title: string }>(await api(`/tasks/${id}/?nocache=1`, { token: org.ceo.token }));
    expect(now.title).toBe("manager's title");
  });

  it("a stale tag refuses PUT and DELETE too, and changes nothing", async () => {
    const { id, etag } = await freshTask("original");
    const moved = await api(`/tasks/${id}/`, { method: "PATCH", token: org.manager.token, json: { priority: "low" } });
    expect(moved.status).toBe(200);

    const put = await writeIfMatch("PUT", id, org.manager.token, etag, { title: "replaced" });
    expect(put.status).toBe(412);
    const deleted = await writeIfMatch("DELETE", id, org.manager.token, etag);
    expect(deleted.status).toBe(412);

    const task = await api(`/tasks/${id}/?nocache=1`, { token: org.manager.token });
    expect(task.status).toBe(200);
    expect((await json<{ title: string; priority: string }>(task)).title).toBe("original");

    const current = moved.headers.get("ETag") ?? "";
    const deletedNow = await writeIfMatch("DELETE", id, org.manager.token, current);
    expect(deletedNow.status).toBe(204);
  });

  it("`*` and a list holding the current tag hold; a weak tag never does (strong comparison)", async () => {
    const { id, etag } = await freshTask();
    const weak = await writeIfMatch("PATCH", id, org.manager.token, `W/${etag}`, { priority: "low" });
    expect(weak.status).toBe(412);
    const listed = await writeIfMatch("PATCH", id, org.manager.token, `"${"1".repeat(32)}", ${etag}`, {
      priority: "low",
    });
    expect(listed.status).toBe(200);
    const star = await writeIfMatch("PATCH", id, org.manager.token, "*", { priority: "medium" });
    expect(star.status).toBe(200);
  });

  it("a PATCH that changes nothing still checks the tag (the client's copy is stale)", async () => {
    const { id, etag } = await freshTask();
    expect(
      (await api(`/tasks/${id}/`, { method: "PATCH", token: org.manager.token, json: { priority: "critical" } }))
        .status,
    ).toBe(200);
    const noop = await writeIfMatch("PATCH", id, org.manager.token, etag, { priority: "critical" });
    expect(noop.status).toBe(412);
  });

  it("rights come before versions: an assignee changing the title with a stale tag gets 403, not 412", async () => {
    const { id } = await freshTask();
    const refused = await writeIfMatch("PATCH", id, org.employee.token, `"${"2".repeat(32)}"`, {
      title: "not mine to change",
    });
    expect(refused.status).toBe(403);
    const outsider = await writeIfMatch("DELETE", id, org.outsider.token, `"${"2".repeat(32)}"`);
    expect(outsider.status).toBe(404);
  });

  it("without If-Match a write applies as before", async () => {
    const { id } = await freshTask();
    const patched = await api(`/tasks/${id}/`, { method: "PATCH", token: org.manager.token, json: { title: "free" } });
    expect(patched.status).toBe(200);
    expect(patched.headers.get("ETag")).toMatch(STRONG_TAG);
  });
});

describe("ETag and If-None-Match on uploads, upload details and row pages", () => {
  let owner: TestUser;
  let other: TestUser;
  let uploadId: string;

  beforeAll(async () => {
    owner = await createUser();
    other = await createUser({ role: "ceo" });
    const upload = await formUpload(owner, sampleCsv(30));
    uploadId = upload.id;
    expect((await finished(owner, uploadId)).status).toBe("completed");
    // The details say when the indexes become ready, which changes their body (and tag): the
    // comparisons below need a state that stays put.
    await indexesReady(owner, uploadId);
  });

  it("the upload list and an upload's details answer with a tag and honour If-None-Match", async () => {
    for (const path of ["/csv-data/uploads/", `/csv-data/uploads/${uploadId}/`]) {
      const first = await get(path, owner.token);
      expect(first.status, path).toBe(200);
      expect(first.etag, path).toMatch(STRONG_TAG);
      const again = await get(path, owner.token, { "If-None-Match": first.etag ?? "" });
      expect(again.status, path).toBe(304);
      expect(await again.response.text(), path).toBe("");
      const stale = await get(path, owner.token, { "If-None-Match": '"00000000000000000000000000000000"' });
      expect(stale.status, path).toBe(200);
    }
  });

  it("a cached row page answers 304 without a database round trip; another page has another tag", async () => {
    const page = `/csv-data/uploads/${uploadId}/data/?page_size=5`;
    const warm = await callWorker(counted, page, owner.token);
    expect(warm.status).toBe(200);
    const etag = warm.headers.get("ETag") ?? "";
    expect(etag).toMatch(STRONG_TAG);
    await callWorker(counted, page, owner.token);
    const before = await databaseRequests();
    const response = await callWorker(counted, page, owner.token, { headers: { "If-None-Match": etag } });
    expect(response.status).toBe(304);
    expect(response.headers.get("X-Cache")).toBe("HIT");
    expect((await databaseRequests()) - before).toBe(0);

    const next = await get(`/csv-data/uploads/${uploadId}/data/?page_size=5&page=2`, owner.token, {
      "If-None-Match": etag,
    });
    expect(next.status).toBe(200);
    expect(next.etag).toMatch(STRONG_TAG);
    expect(next.etag).not.toBe(etag);
  });

  it("a streamed export has no tag and ignores If-None-Match", async () => {
    const exported = await get(`/csv-data/uploads/${uploadId}/data/?format=csv`, owner.token, {
      "If-None-Match": "*",
    });
    expect(exported.status).toBe(200);
    expect(exported.etag).toBeNull();
    expect((await exported.response.text()).split("\n")[0]).toContain("id");
  });

  it("another user's upload is 404 whatever tag they send", async () => {
    const mine = await get(`/csv-data/uploads/${uploadId}/`, owner.token);
    const theirs = await get(`/csv-data/uploads/${uploadId}/`, other.token, { "If-None-Match": mine.etag ?? "" });
    expect(theirs.status).toBe(404);
  });
});

describe("browsers may send the conditional and idempotency headers", () => {
  it("a CORS preflight allows If-Match, If-None-Match and Idempotency-Key, and exposes ETag and Idempotent-Replayed", async () => {
    const preflight = await api("/tasks/1/", {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.example.com",
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "if-match, idempotency-key, if-none-match",
      },
    });
    expect(preflight.status).toBeLessThan(300);
    const allowed = (preflight.headers.get("Access-Control-Allow-Headers") ?? "").toLowerCase().split(/\s*,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(["if-match", "if-none-match", "idempotency-key"]));
    const task = await api("/tasks/", { headers: { Origin: "https://app.example.com" } });
    const exposed = (task.headers.get("Access-Control-Expose-Headers") ?? "").toLowerCase().split(/\s*,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(["etag", "idempotent-replayed"]));
  });
});
