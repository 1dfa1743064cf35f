import { describe, expect, it } from "vitest";
import { emailsTo } from "../support/email.ts";
import { api, json } from "../support/http.ts";
import { makeOrg } from "../support/org.ts";
import { makeTask, type TaskBody } from "../support/tasks.ts";
import { createUser } from "../support/users.ts";

describe("tasks: basics", () => {
  it("creates, reads, lists and soft-deletes a task", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee, {
      description: "d",
      priority: "high",
      estimate_hours: "8.00",
      due_date: "2030-09-30T17:00:00Z",
    });
    expect(task).toMatchObject({
      status: "todo",
      priority: "high",
      estimate_hours: 8,
      department: org.departmentId,
      creator: org.employee.id,
      assigned_by: org.employee.id,
      assignees: [],
      completed_at: null,
      due_date: "2030-09-30T17:00:00.000Z",
    });
    const got = await api(`/tasks/${task.id}/`, { token: org.employee.token });
    expect(got.status).toBe(200);
    expect(await json(got)).toMatchObject({ id: task.id });

    const list = await json<{ count: number; results: { id: number }[] }>(
      await api("/tasks/", { token: org.employee.token }),
    );
    expect(list.results.map((t) => t.id)).toContain(task.id);

    expect((await api(`/tasks/${task.id}`, { method: "DELETE", token: org.employee.token })).status).toBe(204);
    expect((await api(`/tasks/${task.id}/`, { token: org.employee.token })).status).toBe(404);
    const after = await json<{ results: { id: number }[] }>(
      await api("/tasks/?nocache=1", { token: org.employee.token }),
    );
    expect(after.results.map((t) => t.id)).not.toContain(task.id);
  });

  it("emails the department manager and the creator on creation, assignees on assignment", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, {
      assignees: [org.employee.id, org.colleague.id],
      department: org.departmentId,
    });
    expect(task.assigned_by).toBe(org.manager.id);
    expect(task.assignees).toEqual([org.employee.id, org.colleague.id].sort((a, b) => a - b));
    expect(await emailsTo(org.manager.email, "task_created")).toHaveLength(1);
    expect(await emailsTo(org.employee.email, "task_assigned")).toHaveLength(1);
    expect((await emailsTo(org.employee.email, "task_assigned"))[0]?.subject).toContain(task.title);
    const byEmployee = await makeTask(org.employee);
    const created = await emailsTo(org.employee.email, "task_created");
    expect(created.map((m) => m.subject)).toContain(`Task created: ${byEmployee.title}`);
    expect((await emailsTo(org.manager.email, "task_created")).length).toBe(2);
  });

  it("every create answers assigned_by = the caller, with or without assignees, for every role", async () => {
    const org = await makeOrg();
    for (const caller of [org.ceo, org.hr, org.manager, org.employee]) {
      for (const body of [{}, { assignees: [caller.id] }]) {
        const task = await makeTask(caller, { department: org.departmentId, ...body });
        expect({ role: caller.role, body, assigned_by: task.assigned_by, creator: task.creator }).toEqual({
          role: caller.role,
          body,
          assigned_by: caller.id,
          creator: caller.id,
        });
        // The stored task says the same on a fresh read.
        const read = await json<TaskBody>(await api(`/tasks/${task.id}/?nocache=1`, { token: caller.token }));
        expect(read.assigned_by).toBe(caller.id);
      }
    }
  });

  it("assigned_by on create grants no new access: another department's manager still cannot see an employee's task", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee, { department: org.departmentId });
    expect(task.assigned_by).toBe(org.employee.id);
    // The department's manager manages it; a manager elsewhere neither sees nor edits it.
    expect((await api(`/tasks/${task.id}/`, { token: org.manager.token })).status).toBe(200);
    const edit = await api(`/tasks/${task.id}/`, {
      method: "PATCH",
      token: org.manager.token,
      json: { priority: "low" },
    });
    expect(edit.status).toBe(200);
    expect((await api(`/tasks/${task.id}/`, { token: org.otherManager.token })).status).toBe(404);
    // A manager who creates a task in another department keeps it (as creator and as assigned_by).
    const elsewhere = await makeTask(org.otherManager, { department: org.departmentId });
    expect(elsewhere.assigned_by).toBe(org.otherManager.id);
    const own = await api(`/tasks/${elsewhere.id}/`, {
      method: "PATCH",
      token: org.otherManager.token,
      json: { priority: "low" },
    });
    expect(own.status).toBe(200);
  });

  it("complete is idempotent: same completed_at, one email per recipient", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { assignees: [org.employee.id] });
    const first = await api(`/tasks/${task.id}/complete/`, { method: "POST", token: org.employee.token });
    expect(first.status).toBe(200);
    const body = await json<{ status: string; completed_at: string }>(first);
    expect(body.status).toBe("done");
    const second = await api(`/tasks/${task.id}/mark_done/`, { method: "POST", token: org.manager.token });
    expect(await json(second)).toEqual(body);
    expect(await emailsTo(org.manager.email, "task_completed")).toHaveLength(1);
    expect(await emailsTo(org.employee.email, "task_completed")).toHaveLength(1);
  });

  it("rejects internal fields, unknown fields, bad dates and bad numbers with 400", async () => {
    const user = await createUser({ role: "employee", via: "sql" });
    for (const body of [
      { title: "x", creator: 1 },
      { title: "x", deleted_at: null },
      { title: "x", completed_at: "2030-01-01" },
      { title: "x", due_date: "2030-02-31" },
      { title: "x", due_date: "2030-01-01T10:00:00" },
      { title: "x", estimate_hours: 10001 },
      { title: "x", estimate_hours: "abc" },
      { title: "x", priority: "urgent" },
      { title: "" },
      {},
    ]) {
      const response = await api("/tasks/", { token: user.token, json: body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect((await json(response)).detail).toBeTypeOf("string");
    }
    const noType = await api("/tasks/", {
      token: user.token,
      body: "title=x",
      headers: { "Content-Type": "text/plain" },
    });
    expect(noType.status).toBe(415);
    expect((await api("/tasks/", { token: user.token, json: { title: "x", department: 99999999 } })).status).toBe(400);
    expect(
      (await api("/tasks/", { token: user.token, json: { title: "x", assignees: [user.id, 99999999] } })).status,
    ).toBe(403);
    const manager = await createUser({ role: "manager", via: "sql" });
    const unknown = await api("/tasks/", { token: manager.token, json: { title: "x", assignees: [99999999] } });
    expect(unknown.status).toBe(400);
    expect((await json(unknown)).errors).toEqual([
      { field: "assignees", message: expect.stringContaining("99999999") },
    ]);
    expect((await api("/tasks/abc/", { token: user.token })).status).toBe(400);
    expect((await api("/tasks/")).status).toBe(401);
  });
});
