/**
 * Task writes at their edges: assigning through PUT/PATCH obeys the rules `/assign/` does and
 * records who assigned; an explicit `department: null` is kept; the same assignees in another
 * order are no change; a deactivated user cannot be assigned; everyone who can see a new task
 * stops being served a cached list without it; and the bodies' limits hold on both sides.
 */
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { users } from "../../src/platform/db/schema.ts";
import { withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import { makeOrg } from "../support/org.ts";
import { makeTask, type TaskBody } from "../support/tasks.ts";

interface ErrorBody {
  detail: string;
  errors?: { field: string; message: string }[];
}

async function history(taskId: number, token: string): Promise<unknown[]> {
  const response = await api(`/tasks/${taskId}/history/`, { token });
  expect(response.status).toBe(200);
  return (await json<{ results: unknown[] }>(response)).results;
}

describe("assigning through PUT and PATCH", () => {
  it("an employee may not assign or unassign others by editing the task's assignees", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee, { department: org.departmentId });
    const add = await api(`/tasks/${task.id}/`, {
      method: "PATCH",
      json: { assignees: [org.colleague.id] },
      token: org.employee.token,
    });
    expect(add.status).toBe(403);
    const put = await api(`/tasks/${task.id}/`, {
      method: "PUT",
      json: { title: task.title, assignees: [org.colleague.id] },
      token: org.employee.token,
    });
    expect(put.status).toBe(403);
    const assigned = await makeTask(org.manager, {
      department: org.departmentId,
      assignees: [org.employee.id, org.colleague.id],
    });
    const remove = await api(`/tasks/${assigned.id}/`, {
      method: "PATCH",
      json: { assignees: [org.employee.id] },
      token: org.employee.token,
    });
    expect(remove.status).toBe(403);
    const after = await json<TaskBody>(await api(`/tasks/${assigned.id}/`, { token: org.manager.token }));
    expect(after.assignees.sort()).toEqual([org.employee.id, org.colleague.id].sort());
  });

  it("whoever assigns through PATCH becomes assigned_by", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee, { department: org.departmentId });
    const patched = await api(`/tasks/${task.id}/`, {
      method: "PATCH",
      json: { assignees: [org.colleague.id] },
      token: org.manager.token,
    });
    expect(patched.status).toBe(200);
    expect((await json<TaskBody>(patched)).assigned_by).toBe(org.manager.id);
    const read = await json<TaskBody>(await api(`/tasks/${task.id}/`, { token: org.manager.token }));
    expect(read.assigned_by).toBe(org.manager.id);
  });

  it("the same assignees in another order change nothing", async () => {
    const org = await makeOrg();
    const [low, high] = [org.employee, org.colleague].sort((a, b) => a.id - b.id) as [
      typeof org.employee,
      typeof org.employee,
    ];
    const task = await makeTask(org.manager, { department: org.departmentId, assignees: [low.id, high.id] });
    const entries = (await history(task.id, org.manager.token)).length;
    const patched = await api(`/tasks/${task.id}/`, {
      method: "PATCH",
      json: { assignees: [high.id, low.id] },
      token: org.manager.token,
    });
    expect(patched.status).toBe(200);
    expect((await json<TaskBody>(patched)).updated_at).toBe(task.updated_at);
    expect(await history(task.id, org.manager.token)).toHaveLength(entries);
    // An assignee echoing the task back with its assignees in another order is no reassignment.
    const echoed = await api(`/tasks/${task.id}/`, {
      method: "PUT",
      json: { title: task.title, status: "in_progress", assignees: [high.id, low.id] },
      token: low.token,
    });
    expect(echoed.status).toBe(200);
  });

  it("a deactivated user is an unknown user: 400 naming assignees, and nothing is written", async () => {
    const org = await makeOrg();
    await withDb((db) => db.update(users).set({ isActive: false }).where(eq(users.id, org.colleague.id)));
    const title = `never-${crypto.randomUUID()}`;
    const created = await api("/tasks/", {
      json: { title, department: org.departmentId, assignees: [org.colleague.id] },
      token: org.manager.token,
    });
    expect(created.status).toBe(400);
    expect((await json<ErrorBody>(created)).errors?.[0]?.field).toBe("assignees");
    const list = await json<{ results: TaskBody[] }>(
      await api(`/tasks/?search=${title}&nocache=1`, { token: org.manager.token }),
    );
    expect(list.results).toEqual([]);
    const task = await makeTask(org.manager, { department: org.departmentId });
    for (const [method, path, body] of [
      ["POST", `/tasks/${task.id}/assign/`, { assignees: [org.colleague.id] }],
      ["PATCH", `/tasks/${task.id}/`, { assignees: [org.colleague.id] }],
    ] as const) {
      const response = await api(path, { method, json: body, token: org.manager.token });
      expect(response.status, `${method} ${path}`).toBe(400);
      expect((await json<ErrorBody>(response)).errors?.[0]?.field).toBe("assignees");
    }
  });
});

describe("who loses a task when someone else assigns it", () => {
  it("the manager who was its last assigner stops being served a cached list or detail with it", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee, { department: org.departmentId });
    const assign = async (token: string, assignees: number[]) => {
      const response = await api(`/tasks/${task.id}/assign/`, { json: { assignees }, token });
      expect(response.status).toBe(200);
    };
    await assign(org.manager.token, [org.employee.id]);
    const moved = await api(`/tasks/${task.id}/`, {
      method: "PATCH",
      json: { department: org.otherDepartmentId },
      token: org.ceo.token,
    });
    expect(moved.status).toBe(200);
    // Outside their department now, the task is the manager's only as its last assigner.
    const ids = async () => {
      const response = await api("/tasks/", { token: org.manager.token });
      const page = await json<{ results: TaskBody[] }>(response);
      return { cache: response.headers.get("X-Cache"), ids: page.results.map((t) => t.id) };
    };
    expect((await ids()).ids).toContain(task.id);
    expect((await ids()).cache).toBe("HIT");
    expect((await api(`/tasks/${task.id}/`, { token: org.manager.token })).status).toBe(200);

    await assign(org.ceo.token, [org.outsider.id]);
    const after = await ids();
    expect(after.cache).toBe("MISS");
    expect(after.ids).not.toContain(task.id);
    expect((await api(`/tasks/${task.id}/`, { token: org.manager.token })).status).toBe(404);
  });
});

describe("creating", () => {
  it("an explicit department: null is kept, not replaced by the creator's department", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { department: null });
    expect(task.department).toBeNull();
    expect((await api(`/tasks/${task.id}/`, { token: org.colleague.token })).status).toBe(404);
  });

  it("everyone who can see a new task gets a fresh list, not only its creator", async () => {
    const org = await makeOrg();
    await api("/tasks/", { token: org.manager.token });
    expect((await api("/tasks/", { token: org.manager.token })).headers.get("X-Cache")).toBe("HIT");
    await api("/tasks/my_tasks/", { token: org.colleague.token });
    const task = await makeTask(org.employee, { department: org.departmentId, assignees: [org.employee.id] });
    const managerList = await api("/tasks/", { token: org.manager.token });
    expect(managerList.headers.get("X-Cache")).toBe("MISS");
    expect((await json<{ results: TaskBody[] }>(managerList)).results.map((t) => t.id)).toContain(task.id);
    const ceoReport = await api("/reports/task-status/", {
      token: org.ceo.token,
      headers: { Accept: "application/json" },
    });
    expect(ceoReport.status).toBe(200);
  });
});

describe("the bodies' limits, both sides", () => {
  it("a title of 200 characters is stored, 201 is refused on create and on PATCH", async () => {
    const org = await makeOrg();
    const ok = await makeTask(org.manager, { title: "t".repeat(200) });
    expect(ok.title).toHaveLength(200);
    const long = await api("/tasks/", { json: { title: "t".repeat(201) }, token: org.manager.token });
    expect(long.status).toBe(400);
    expect((await json<ErrorBody>(long)).errors).toEqual([
      { field: "title", message: "must be at most 200 characters" },
    ]);
    const patched = await api(`/tasks/${ok.id}/`, {
      method: "PATCH",
      json: { title: "u".repeat(201) },
      token: org.manager.token,
    });
    expect(patched.status).toBe(400);
  });

  it("PATCH with no field is a 400 and writes nothing; PUT without a title is a 400", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager);
    const entries = (await history(task.id, org.manager.token)).length;
    const empty = await api(`/tasks/${task.id}/`, { method: "PATCH", json: {}, token: org.manager.token });
    expect(empty.status).toBe(400);
    expect(await history(task.id, org.manager.token)).toHaveLength(entries);
    const put = await api(`/tasks/${task.id}/`, { method: "PUT", json: { status: "done" }, token: org.manager.token });
    expect(put.status).toBe(400);
    expect((await json<ErrorBody>(put)).errors).toContainEqual({ field: "title", message: "is required" });
    const read = await json<TaskBody>(await api(`/tasks/${task.id}/`, { token: org.manager.token }));
    expect(read.status).toBe(task.status);
  });

  it("24:00 is not an hour: refused as a due date and as a filter bound; 23:59 is accepted", async () => {
    const org = await makeOrg();
    const late = await api("/tasks/", {
      json: { title: "midnight", due_date: "2030-01-01T24:00:00Z" },
      token: org.manager.token,
    });
    expect(late.status).toBe(400);
    expect((await api("/tasks/?due_before=2030-01-01T24:00:00Z", { token: org.manager.token })).status).toBe(400);
    const ok = await makeTask(org.manager, { due_date: "2030-01-01T23:59:00Z" });
    expect(ok.due_date).toBe("2030-01-01T23:59:00.000Z");
  });
});
