/**
 * Task history: every change to a task and its relations is one entry with `[old, new]` per
 * changed field, written by the change's own transaction (a refused or failed write leaves none),
 * newest first, visible exactly to those who may read the task.
 */
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { taskEvents } from "../../src/platform/db/schema.ts";
import { withDb } from "../support/env.ts";
import { api, callWorker, json, roundTripCounter, runtimeOrigin } from "../support/http.ts";
import { makeOrg, type Org } from "../support/org.ts";
import { makeTask } from "../support/tasks.ts";

interface TaskEvent {
  id: number;
  actor: number | null;
  action: string;
  changes: Record<string, [unknown, unknown]>;
  created_at: string;
}
interface HistoryPage {
  count: number;
  next: string | null;
  results: TaskEvent[];
}

const { env: counted, requestsSoFar: databaseRequests } = roundTripCounter("history");
async function history(taskId: number, token: string, query = ""): Promise<HistoryPage> {
  const response = await api(`/tasks/${taskId}/history/${query}`, { token });
  expect(response.status).toBe(200);
  return json<HistoryPage>(response);
}

async function latest(taskId: number, token: string): Promise<TaskEvent> {
  const [entry] = (await history(taskId, token)).results;
  if (!entry) throw new Error("no history");
  return entry;
}

async function patch(
  taskId: number,
  token: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  return api(`/tasks/${taskId}/`, { method: "PATCH", token, json: body, headers });
}

describe("task history", () => {
  let org: Org;

  beforeAll(async () => {
    org = await makeOrg();
  });

  // First, not last: its PATCH queues webhook deliveries and mail whose consumers log a moment
  // later, and a log line arriving after the file's last test is torn down fails the run.
  it("costs one database round trip to read, and a write that records history still costs two", async () => {
    const task = await makeTask(org.manager, { title: "counted", assignees: [org.employee.id] });
    await callWorker(counted, `/tasks/${task.id}/history/`, org.employee.token);
    let before = await databaseRequests();
    const read = await callWorker(counted, `/tasks/${task.id}/history/`, org.employee.token);
    expect(read.status).toBe(200);
    expect((await databaseRequests()) - before).toBe(1);

    before = await databaseRequests();
    const written = await callWorker(counted, `/tasks/${task.id}/`, org.manager.token, {
      method: "PATCH",
      body: JSON.stringify({ title: "counted twice" }),
    });
    expect(written.status).toBe(200);
    expect((await databaseRequests()) - before).toBe(2);
  });

  it("records creation, updates, status changes, completion and reopening with exact [old, new] values", async () => {
    const task = await makeTask(org.manager, {
      title: "write the report",
      priority: "high",
      due_date: "2030-01-02T03:04:05.000Z",
      estimate_hours: 2.5,
      assignees: [org.employee.id],
    });
    const created = await latest(task.id, org.manager.token);
    expect(created.action).toBe("created");
    expect(created.actor).toBe(org.manager.id);
    expect(created.changes).toEqual({
      title: [null, "write the report"],
      status: [null, "todo"],
      priority: [null, "high"],
      due_date: [null, "2030-01-02T03:04:05.000Z"],
      estimate_hours: [null, 2.5],
      department: [null, org.departmentId],
      assignees: [[], [org.employee.id]],
    });

    expect((await patch(task.id, org.manager.token, { title: "write the summary", priority: "high" })).status).toBe(
      200,
    );
    const updated = await latest(task.id, org.manager.token);
    expect(updated.action).toBe("updated");
    // `priority` was sent but did not change: only what changed is recorded.
    expect(updated.changes).toEqual({ title: ["write the report", "write the summary"] });

    expect((await patch(task.id, org.employee.token, { status: "in_progress" })).status).toBe(200);
    const moved = await latest(task.id, org.employee.token);
    expect(moved).toMatchObject({ action: "status_changed", actor: org.employee.id });
    expect(moved.changes).toEqual({ status: ["todo", "in_progress"] });

    const completed = await api(`/tasks/${task.id}/complete/`, { method: "POST", token: org.employee.token });
    const { completed_at } = await json<{ completed_at: string }>(completed);
    const done = await latest(task.id, org.employee.token);
    expect(done.action).toBe("completed");
    expect(done.changes).toEqual({ status: ["in_progress", "done"], completed_at: [null, completed_at] });

    // Completing again changes nothing and records nothing.
    const before = (await history(task.id, org.manager.token)).count;
    expect((await api(`/tasks/${task.id}/complete/`, { method: "POST", token: org.employee.token })).status).toBe(200);
    expect((await history(task.id, org.manager.token)).count).toBe(before);

    expect((await patch(task.id, org.manager.token, { status: "todo" })).status).toBe(200);
    const reopened = await latest(task.id, org.manager.token);
    expect(reopened.action).toBe("status_changed");
    expect(reopened.changes).toEqual({ status: ["done", "todo"], completed_at: [completed_at, null] });

    const viaPatch = await patch(task.id, org.manager.token, { status: "done", estimate_hours: null });
    const patchedDone = await json<{ completed_at: string }>(viaPatch);
    const completedByPatch = await latest(task.id, org.manager.token);
    expect(completedByPatch.action).toBe("completed");
    expect(completedByPatch.changes).toEqual({
      status: ["todo", "done"],
      estimate_hours: [2.5, null],
      completed_at: [null, patchedDone.completed_at],
    });
  });

  it("records assignments that change something, comments and attachments; newest first, paginated", async () => {
    const task = await makeTask(org.manager, { title: "relations", assignees: [org.employee.id] });
    const assign = (action: string, ids: number[]) =>
      api(`/tasks/${task.id}/${action}/`, { token: org.manager.token, json: { assignees: ids } });

    expect((await assign("assign", [org.colleague.id])).status).toBe(200);
    const assigned = await latest(task.id, org.manager.token);
    expect(assigned.action).toBe("assigned");
    expect(assigned.changes).toEqual({
      assignees: [[org.employee.id], [org.employee.id, org.colleague.id].sort((a, b) => a - b)],
    });
    const count = (await history(task.id, org.manager.token)).count;
    expect((await assign("assign", [org.colleague.id])).status).toBe(200);
    expect((await history(task.id, org.manager.token)).count).toBe(count);

    expect((await assign("unassign", [org.employee.id])).status).toBe(200);
    const unassigned = await latest(task.id, org.manager.token);
    expect(unassigned.action).toBe("unassigned");
    expect(unassigned.changes).toEqual({
      assignees: [[org.employee.id, org.colleague.id].sort((a, b) => a - b), [org.colleague.id]],
    });

    const comment = await json<{ id: number }>(
      await api(`/tasks/${task.id}/comments/`, { token: org.colleague.token, json: { content: "on it" } }),
    );
    const commented = await latest(task.id, org.manager.token);
    expect(commented).toMatchObject({
      action: "commented",
      actor: org.colleague.id,
      changes: { comment: [null, comment.id] },
    });

    const origin = await runtimeOrigin();
    const form = new FormData();
    form.append("file", new File(["notes"], "notes.txt", { type: "text/plain" }));
    const attachment = await json<{ id: number }>(
      await api(`${origin}/api/v1/tasks/${task.id}/attachments/`, { token: org.manager.token, body: form }),
    );
    expect(await latest(task.id, org.manager.token)).toMatchObject({
      action: "attachment_added",
      changes: { attachment: [null, attachment.id] },
    });
    expect((await api(`/attachments/${attachment.id}/`, { method: "DELETE", token: org.manager.token })).status).toBe(
      204,
    );
    expect(await latest(task.id, org.manager.token)).toMatchObject({
      action: "attachment_deleted",
      changes: { attachment: [attachment.id, null] },
    });

    const all = await history(task.id, org.manager.token);
    expect(all.results.map((entry) => entry.action)).toEqual([
      "attachment_deleted",
      "attachment_added",
      "commented",
      "unassigned",
      "assigned",
      "created",
    ]);
    const ids = all.results.map((entry) => entry.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const firstPage = await history(task.id, org.manager.token, "?page_size=2");
    expect(firstPage.count).toBe(6);
    expect(firstPage.results.map((entry) => entry.id)).toEqual(ids.slice(0, 2));
    expect(firstPage.next).toContain("page=2");
  });

  it("a presigned attachment is recorded once, when it is completed", async () => {
    const task = await makeTask(org.employee, { title: "presigned" });
    const origin = await runtimeOrigin();
    const body = "b".repeat(64);
    const pending = await json<{ id: number; upload: { url: string; headers: Record<string, string> } }>(
      await api(`${origin}/api/v1/tasks/${task.id}/attachments/`, {
        token: org.employee.token,
        json: { filename: "p.txt", size_bytes: body.length, content_type: "text/plain" },
      }),
    );
    expect((await latest(task.id, org.employee.token)).action).toBe("created");
    expect((await fetch(pending.upload.url, { method: "PUT", body, headers: pending.upload.headers })).status).toBe(
      200,
    );
    for (let n = 0; n < 2; n++) {
      expect(
        (await api(`/attachments/${pending.id}/complete/`, { method: "POST", token: org.employee.token })).status,
      ).toBe(200);
    }
    const entries = (await history(task.id, org.employee.token)).results;
    expect(entries.map((entry) => entry.action)).toEqual(["attachment_added", "created"]);
    expect(entries[0]?.changes).toEqual({ attachment: [null, pending.id] });
  });

  it("a presigned attachment deleted before it is completed was never added, so its deletion records nothing", async () => {
    const task = await makeTask(org.employee, { title: "abandoned file" });
    const origin = await runtimeOrigin();
    const pending = await json<{ id: number }>(
      await api(`${origin}/api/v1/tasks/${task.id}/attachments/`, {
        token: org.employee.token,
        json: { filename: "never.txt", size_bytes: 10, content_type: "text/plain" },
      }),
    );
    expect((await api(`/attachments/${pending.id}/`, { method: "DELETE", token: org.employee.token })).status).toBe(
      204,
    );
    const entries = (await history(task.id, org.employee.token)).results;
    expect(entries.map((entry) => entry.action)).toEqual(["created"]);
  });

  it("a refused write records nothing: forbidden fields, a stale If-Match, an unknown assignee", async () => {
    const task = await makeTask(org.manager, { title: "guarded", assignees: [org.employee.id] });
    const { count } = await history(task.id, org.manager.token);
    expect((await patch(task.id, org.employee.token, { title: "mine now" })).status).toBe(403);
    expect(
      (await patch(task.id, org.manager.token, { title: "stale" }, { "If-Match": `"${"0".repeat(32)}"` })).status,
    ).toBe(412);
    expect((await patch(task.id, org.manager.token, { assignees: [2147483000] })).status).toBe(400);
    expect((await patch(task.id, org.manager.token, { title: "guarded" })).status).toBe(200);
    expect((await history(task.id, org.manager.token)).count).toBe(count);
  });

  it("is visible exactly to those who may read the task, and gone with it when it is deleted", async () => {
    const task = await makeTask(org.manager, { title: "private", assignees: [org.employee.id] });
    for (const reader of [org.manager, org.employee, org.ceo, org.hr]) {
      expect((await api(`/tasks/${task.id}/history/`, { token: reader.token })).status).toBe(200);
    }
    for (const stranger of [org.outsider, org.otherManager]) {
      expect((await api(`/tasks/${task.id}/history/`, { token: stranger.token })).status).toBe(404);
    }
    expect((await api(`/tasks/${task.id}/history/`)).status).toBe(401);

    expect((await api(`/tasks/${task.id}/`, { method: "DELETE", token: org.manager.token })).status).toBe(204);
    expect((await api(`/tasks/${task.id}/history/`, { token: org.manager.token })).status).toBe(404);
    const stored = await withDb((db) => db.select().from(taskEvents).where(eq(taskEvents.taskId, task.id)));
    expect(stored.map((row) => row.action).sort()).toEqual(["created", "deleted"]);
    expect(stored.find((row) => row.action === "deleted")?.actorId).toBe(org.manager.id);
  });
});
