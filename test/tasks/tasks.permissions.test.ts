/**
 * The permission matrix of who may do what with a task: each role × action × task relation.
 * Expected codes: 2xx allowed, 403 visible but not allowed, 404 not visible.
 */

import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { tasks } from "../../src/platform/db/schema.ts";
import { withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import { makeOrg, type Org } from "../support/org.ts";
import { makeTask } from "../support/tasks.ts";
import type { TestUser } from "../support/users.ts";

type Action = "read" | "patch_title" | "patch_status" | "delete" | "assign_other" | "assign_self" | "complete";

async function attempt(actor: TestUser, action: Action, taskId: number, other: number): Promise<number> {
  const path = `/tasks/${taskId}/`;
  switch (action) {
    case "read":
      return (await api(path, { token: actor.token, headers: { "Cache-Control": "no-cache" } })).status;
    case "patch_title":
      return (await api(path, { method: "PATCH", token: actor.token, json: { title: "renamed" } })).status;
    case "patch_status":
      return (await api(path, { method: "PATCH", token: actor.token, json: { status: "in_progress" } })).status;
    case "delete":
      return (await api(path, { method: "DELETE", token: actor.token })).status;
    case "assign_other":
      return (await api(`${path}assign/`, { token: actor.token, json: { assignees: [other] } })).status;
    case "assign_self":
      return (await api(`${path}assign/`, { token: actor.token, json: { assignees: [actor.id] } })).status;
    case "complete":
      return (await api(`${path}complete/`, { method: "POST", token: actor.token })).status;
  }
}

/** Task relations; each case creates its own fresh task so actions do not interfere. */
type Relation = "own" | "department" | "other_department" | "assigned" | "assigned_by_me" | "unrelated";

async function taskFor(org: Org, actor: TestUser, relation: Relation): Promise<number> {
  switch (relation) {
    case "own":
      return (await makeTask(actor)).id;
    case "department":
      return (await makeTask(org.colleague, { department: org.departmentId })).id;
    case "other_department":
      return (await makeTask(org.outsider, { department: org.otherDepartmentId })).id;
    case "assigned":
      return (await makeTask(org.otherManager, { department: org.otherDepartmentId, assignees: [actor.id] })).id;
    case "assigned_by_me": {
      const task = await makeTask(org.outsider, { department: org.otherDepartmentId });
      // A task in another department whose last assigner was the actor (e.g. before a transfer).
      await withDb((db) => db.update(tasks).set({ assignedById: actor.id }).where(eq(tasks.id, task.id)));
      return task.id;
    }
    case "unrelated":
      return (await makeTask(org.outsider, { department: org.otherDepartmentId })).id;
  }
}

const ALLOW = 200;
const everything: Record<Action, number> = {
  read: ALLOW,
  patch_title: ALLOW,
  patch_status: ALLOW,
  delete: 204,
  assign_other: ALLOW,
  assign_self: ALLOW,
  complete: ALLOW,
};
const hidden: Record<Action, number> = {
  read: 404,
  patch_title: 404,
  patch_status: 404,
  delete: 404,
  assign_other: 404,
  assign_self: 404,
  complete: 404,
};
const assigneeOnly: Record<Action, number> = {
  read: ALLOW,
  patch_title: 403,
  patch_status: ALLOW,
  delete: 403,
  assign_other: 403,
  assign_self: 403,
  complete: ALLOW,
};

const matrix: { role: "ceo" | "hr" | "manager" | "employee"; relation: Relation; expected: Record<Action, number> }[] =
  [
    { role: "ceo", relation: "own", expected: everything },
    { role: "ceo", relation: "other_department", expected: everything },
    { role: "hr", relation: "other_department", expected: everything },
    { role: "hr", relation: "department", expected: everything },
    { role: "manager", relation: "own", expected: everything },
    { role: "manager", relation: "department", expected: everything },
    { role: "manager", relation: "assigned_by_me", expected: everything },
    { role: "manager", relation: "assigned", expected: assigneeOnly },
    { role: "manager", relation: "unrelated", expected: hidden },
    { role: "employee", relation: "own", expected: { ...everything, assign_other: 403 } },
    { role: "employee", relation: "assigned", expected: assigneeOnly },
    { role: "employee", relation: "department", expected: hidden },
    { role: "employee", relation: "unrelated", expected: hidden },
  ];

function actorOf(org: Org, role: string): TestUser {
  if (role === "ceo") return org.ceo;
  if (role === "hr") return org.hr;
  if (role === "manager") return org.manager;
  return org.employee;
}

describe("tasks: who may do what", () => {
  for (const row of matrix) {
    it(`${row.role} on a ${row.relation} task`, async () => {
      const org = await makeOrg();
      const actor = actorOf(org, row.role);
      const actual: Record<string, number> = {};
      // Destructive actions last, each on its own task.
      for (const action of Object.keys(row.expected) as Action[]) {
        if (row.relation === "assigned_by_me" && row.role !== "manager") continue;
        const taskId = await taskFor(org, actor, row.relation);
        actual[action] = await attempt(actor, action, taskId, org.colleague.id);
      }
      expect(actual).toEqual(row.expected);
    });
  }

  it("an assignee may change status but not other fields, even alongside status", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { assignees: [org.employee.id] });
    const mixed = await api(`/tasks/${task.id}/`, {
      method: "PATCH",
      token: org.employee.token,
      json: { status: "done", priority: "critical" },
    });
    expect(mixed.status).toBe(403);
    expect((await json(mixed)).detail).toContain("priority");
    // PUT with unchanged title and a new status is only a status change.
    const put = await api(`/tasks/${task.id}/`, {
      method: "PUT",
      token: org.employee.token,
      json: { title: task.title, status: "done" },
    });
    expect(put.status).toBe(200);
    expect(await json(put)).toMatchObject({ status: "done", completed_at: expect.any(String) });
  });

  it("a deleted task's assignment records leave the trail, and its count, for everyone", async () => {
    type Trail = { count: number; results: { task: number }[] };
    const org = await makeOrg();
    const task = await makeTask(org.manager, { assignees: [org.employee.id] });
    const trail = async (query: string) =>
      json<Trail>(await api(`/task-assignments/?${query}&page_size=100`, { token: org.ceo.token }));
    expect((await trail(`task=${task.id}`)).count).toBe(1);
    expect((await api(`/tasks/${task.id}/`, { method: "DELETE", token: org.manager.token })).status).toBe(204);
    expect(await trail(`task=${task.id}`)).toMatchObject({ count: 0, results: [] });
    const byAssignee = await trail(`user=${org.employee.id}`);
    expect(byAssignee.results.map((row) => row.task)).not.toContain(task.id);
    expect(byAssignee.count).toBe(byAssignee.results.length);
  });

  it("someone demoted to employee still reads the assignment records they made, and no others of the task", async () => {
    type Trail = { count: number; results: { assigned_to: number; assigned_by: number }[] };
    const org = await makeOrg();
    const task = await makeTask(org.manager, { assignees: [org.colleague.id] });
    // A record that does not name them: the CEO adds the employee.
    expect(
      (await api(`/tasks/${task.id}/assign/`, { token: org.ceo.token, json: { assignees: [org.employee.id] } })).status,
    ).toBe(200);
    const demoted = await api(`/users/${org.manager.id}/`, {
      method: "PATCH",
      token: org.ceo.token,
      json: { role: "employee" },
    });
    expect(demoted.status).toBe(200);
    const trail = await json<Trail>(
      await api(`/task-assignments/?task=${task.id}&page_size=100`, { token: org.manager.token }),
    );
    expect(trail.count).toBe(1);
    expect(trail.results.map((row) => [row.assigned_to, row.assigned_by])).toEqual([
      [org.colleague.id, org.manager.id],
    ]);
  });

  it("employees may unassign only themselves; unassign writes audit rows that the task's managers can read", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee, { assignees: [org.employee.id] });
    const assigned = await api(`/tasks/${task.id}/assign/`, {
      token: org.manager.token,
      json: { assignees: [org.colleague.id] },
    });
    expect(await json(assigned)).toEqual({
      status: "assigned",
      assignees: [org.employee.id, org.colleague.id].sort((a, b) => a - b),
    });
    const denied = await api(`/tasks/${task.id}/unassign/`, {
      token: org.employee.token,
      json: { assignees: [org.colleague.id] },
    });
    expect(denied.status).toBe(403);
    const self = await api(`/tasks/${task.id}/unassign/`, {
      token: org.employee.token,
      json: { assignees: [org.employee.id] },
    });
    expect(await json(self)).toEqual({ status: "unassigned", assignees: [org.colleague.id] });

    type Page = {
      count: number;
      results: { task: number; assigned_to: number; assigned_by: number; action: string }[];
    };
    const trail = await json<Page>(await api(`/task-assignments/?task=${task.id}`, { token: org.manager.token }));
    expect(trail.results.map((r) => [r.action, r.assigned_to, r.assigned_by])).toEqual([
      ["unassigned", org.employee.id, org.employee.id],
      ["assigned", org.colleague.id, org.manager.id],
      ["assigned", org.employee.id, org.employee.id],
    ]);
    const colleagueView = await json<Page>(
      await api(`/task-assignments/?task=${task.id}`, { token: org.colleague.token }),
    );
    expect(colleagueView.results.map((r) => r.assigned_to)).toEqual([org.colleague.id]);
    const outsiderView = await json<Page>(
      await api(`/task-assignments/?task=${task.id}`, { token: org.outsider.token }),
    );
    expect(outsiderView.count).toBe(0);
    const otherManager = await json<Page>(
      await api(`/task-assignments/?task=${task.id}`, { token: org.otherManager.token }),
    );
    expect(otherManager.count).toBe(0);
    const ceo = await json<Page>(await api(`/task-assignments/?user=${org.colleague.id}`, { token: org.ceo.token }));
    expect(ceo.count).toBe(1);
    expect((await api("/task-assignments/?task=abc", { token: org.ceo.token })).status).toBe(400);
    expect((await api(`/tasks/${task.id}/assign/`, { token: org.manager.token, json: { assignees: [] } })).status).toBe(
      400,
    );
  });
});
