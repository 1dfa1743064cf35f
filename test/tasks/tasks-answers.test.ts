/**
 * Every task and comment write answers as it did before writes became two round trips over HTTP:
 * one scripted story of creates, updates, completions, assignments, deletions and
 * comments, with its answers, outbox rows and audit rows written out with names for ids and
 * `<ts>` for times. `EXPECTED` is what the story produced on the WebSocket-transaction
 * implementation (commit be56e6b), run with this same file.
 */
import { and, asc, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { emailLog, taskAssignments } from "../../src/platform/db/schema.ts";
import { withDb } from "../support/env.ts";
import { api } from "../support/http.ts";
import { makeOrg, type Org } from "../support/org.ts";

const ISO = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/g;
const USER_KEYS = new Set(["creator", "assigned_by", "assigned_to", "author", "assignees"]);

interface Names {
  users: Map<number, string>;
  departments: Map<number, string>;
  tasks: Map<number, string>;
  comments: Map<number, string>;
}

/** Replaces ids by names (by what the key holds) and times by `<ts>`. */
function normalizer(names: Names) {
  const label = (map: Map<number, string>, id: unknown) =>
    typeof id === "number" ? (map.get(id) ?? `unknown ${id}`) : id;
  const text = (value: string) =>
    value.replace(ISO, "<ts>").replace(/\(#(\d+)\)/g, (_, id: string) => `(#${label(names.tasks, Number(id))})`);
  const walk = (value: unknown, key?: string, parent?: object): unknown => {
    if (Array.isArray(value)) {
      const items = value.map((item) => walk(item, key, parent));
      // Ids of users made in parallel come in any order: compare assignee lists as sets.
      return key === "assignees" ? items.map(String).sort() : items;
    }
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k, value)]));
    }
    if (typeof value === "string") return text(value);
    if (key === undefined || typeof value !== "number") return value;
    if (USER_KEYS.has(key)) return label(names.users, value);
    if (key === "department") return label(names.departments, value);
    if (key === "task") return label(names.tasks, value);
    if (key === "id" && parent && "title" in parent) return label(names.tasks, value);
    if (key === "id" && parent && "content" in parent) return label(names.comments, value);
    if (key === "id") return "<id>";
    return value;
  };
  return { walk, text };
}

async function story(org: Org): Promise<unknown[]> {
  const names: Names = {
    users: new Map([
      [org.manager.id, "manager"],
      [org.employee.id, "employee"],
      [org.colleague.id, "colleague"],
      [org.outsider.id, "outsider"],
      [org.ceo.id, "ceo"],
      [org.hr.id, "hr"],
      [org.otherManager.id, "otherManager"],
    ]),
    departments: new Map([
      [org.departmentId, "dept"],
      [org.otherDepartmentId, "otherDept"],
    ]),
    tasks: new Map(),
    comments: new Map(),
  };
  const { walk, text } = normalizer(names);
  const log: unknown[] = [];
  const call = async (label: string, method: string, path: string, token: string, body?: unknown) => {
    const response = await api(path, { method, token, json: body });
    const raw = await response.text();
    const parsed: unknown = raw ? JSON.parse(raw) : null;
    log.push({ label, status: response.status, body: parsed });
    return parsed as { id: number } | null;
  };

  const t1 = await call("create with everything", "POST", "/tasks/", org.manager.token, {
    title: "Quarterly plan",
    description: "numbers",
    priority: "high",
    due_date: "2030-09-30T17:00:00Z",
    estimate_hours: 8,
    department: org.departmentId,
    assignees: [org.employee.id, org.colleague.id],
  });
  if (!t1) throw new Error("no task");
  names.tasks.set(t1.id, "T1");
  const t2 = await call("create by an employee, own department", "POST", "/tasks/", org.employee.token, {
    title: "Small thing",
    status: "done",
  });
  if (!t2) throw new Error("no task");
  names.tasks.set(t2.id, "T2");
  const t3 = await call("create assigning themselves", "POST", "/tasks/", org.employee.token, {
    title: "Self",
    assignees: [org.employee.id],
  });
  if (!t3) throw new Error("no task");
  names.tasks.set(t3.id, "T3");
  const t4 = await call("create without a department", "POST", "/tasks/", org.hr.token, {
    title: "Nowhere",
    department: null,
  });
  if (!t4) throw new Error("no task");
  names.tasks.set(t4.id, "T4");
  await call("create: unknown department", "POST", "/tasks/", org.manager.token, { title: "x", department: 99999999 });
  await call("create: unknown assignee", "POST", "/tasks/", org.manager.token, {
    title: "x",
    assignees: [org.employee.id, 99999999],
  });
  await call("create: employee assigns someone else", "POST", "/tasks/", org.employee.token, {
    title: "x",
    assignees: [org.colleague.id],
  });

  const p1 = `/tasks/${t1.id}/`;
  await call("patch title", "PATCH", p1, org.manager.token, { title: "Quarterly plan v2" });
  await call("patch nothing new", "PATCH", p1, org.manager.token, { title: "Quarterly plan v2", priority: "high" });
  await call("assignee patches status", "PATCH", p1, org.employee.token, { status: "in_progress" });
  await call("assignee patches title", "PATCH", p1, org.employee.token, { title: "mine" });
  await call("outsider patches", "PATCH", p1, org.outsider.token, { status: "done" });
  await call("patch: unknown department", "PATCH", p1, org.manager.token, { department: 99999999 });
  await call("patch: unknown assignee", "PATCH", p1, org.manager.token, { assignees: [99999999] });
  await call("put: new title, assignees and department", "PUT", p1, org.manager.token, {
    title: "Quarterly plan v3",
    description: "more numbers",
    assignees: [org.colleague.id, org.ceo.id],
    department: org.otherDepartmentId,
    estimate_hours: null,
  });
  await call("patch completes", "PATCH", p1, org.ceo.token, { status: "done" });
  await call("patch reopens", "PATCH", p1, org.ceo.token, { status: "todo", due_date: null });
  await call("complete", "POST", `${p1}complete/`, org.colleague.token);
  await call("complete again (mark_done)", "POST", `${p1}mark_done/`, org.ceo.token);
  await call("outsider completes", "POST", `${p1}complete/`, org.outsider.token);

  const p3 = `/tasks/${t3.id}/`;
  await call("assign", "POST", `${p3}assign/`, org.manager.token, { assignees: [org.colleague.id, org.hr.id] });
  await call("assign again", "POST", `${p3}assign/`, org.manager.token, { assignees: [org.colleague.id] });
  await call("unassign", "POST", `${p3}unassign/`, org.manager.token, { assignees: [org.hr.id, org.outsider.id] });
  await call("unassign unknown", "POST", `${p3}unassign/`, org.manager.token, { assignees: [99999999] });
  await call("employee assigns someone else", "POST", `${p3}assign/`, org.employee.token, {
    assignees: [org.colleague.id],
  });
  await call("employee unassigns themselves", "POST", `${p3}unassign/`, org.employee.token, {
    assignees: [org.employee.id],
  });
  await call("assignee assigns", "POST", `${p1}assign/`, org.colleague.token, { assignees: [org.colleague.id] });

  const comment = await call("comment", "POST", `${p3}comments/`, org.colleague.token, { content: "on it" });
  await call("comment by outsider", "POST", `${p3}comments/`, org.outsider.token, { content: "hi" });
  await call("comments", "GET", `${p3}comments/`, org.manager.token);
  if (!comment) throw new Error("no comment");
  names.comments.set(comment.id, "C1");
  await call("delete comment: not the author", "DELETE", `/comments/${comment.id}/`, org.manager.token);
  await call("delete comment: HR", "DELETE", `/comments/${comment.id}/`, org.hr.token);
  await call("delete comment again", "DELETE", `/comments/${comment.id}/`, org.hr.token);

  await call("delete: outsider", "DELETE", `/tasks/${t2.id}/`, org.outsider.token);
  await call("delete: assignee", "DELETE", p1, org.colleague.token);
  await call("delete: creator", "DELETE", `/tasks/${t2.id}/`, org.employee.token);
  await call("read deleted", "GET", `/tasks/${t2.id}/`, org.employee.token);
  await call("delete deleted", "DELETE", `/tasks/${t2.id}/`, org.employee.token);
  await call("assignments", "GET", `/task-assignments/?task=${t3.id}`, org.manager.token);
  await call("my tasks", "GET", "/tasks/my_tasks/?nocache=1", org.colleague.token);

  const taskIds = [t1.id, t2.id, t3.id, t4.id];
  const [mails, audit] = await withDb(async (db) => [
    await db
      .select({ to: emailLog.toUserId, template: emailLog.template, subject: emailLog.subject, body: emailLog.body })
      .from(emailLog)
      .where(
        and(
          inArray(emailLog.toUserId, [...names.users.keys()]),
          inArray(emailLog.template, ["task_created", "task_assigned", "task_completed"]),
        ),
      ),
    await db
      .select({
        task: taskAssignments.taskId,
        assigned_to: taskAssignments.assignedToId,
        assigned_by: taskAssignments.assignedById,
        action: taskAssignments.action,
      })
      .from(taskAssignments)
      .where(inArray(taskAssignments.taskId, taskIds))
      .orderBy(asc(taskAssignments.id)),
  ]);
  const mailLines = mails
    .map(
      (mail) =>
        `${mail.template} → ${names.users.get(mail.to ?? 0)}: ${text(mail.subject)} | ${text(mail.body).trim()}`,
    )
    .sort();
  log.push({ mails: mailLines, audit });
  return log.map((entry) => walk(entry));
}

/**
 * A task answer in the story's names. The defaults are what a task created with a title alone answers,
 * so each answer below writes out only what differs from it (still every field, compared exactly).
 */
const task = (fields: Record<string, unknown>) => ({
  description: "",
  status: "todo",
  priority: "medium",
  due_date: null,
  estimate_hours: null,
  assignees: [],
  completed_at: null,
  created_at: "<ts>",
  updated_at: "<ts>",
  ...fields,
});
const T1 = task({
  id: "T1",
  title: "Quarterly plan",
  description: "numbers",
  priority: "high",
  due_date: "<ts>",
  estimate_hours: 8,
  department: "dept",
  creator: "manager",
  assigned_by: "manager",
  assignees: ["colleague", "employee"],
});
const T1_V2 = { ...T1, title: "Quarterly plan v2" };
const T1_V3 = {
  ...T1_V2,
  title: "Quarterly plan v3",
  description: "more numbers",
  status: "in_progress",
  estimate_hours: null,
  department: "otherDept",
  assignees: ["ceo", "colleague"],
};
const T3 = task({
  id: "T3",
  title: "Self",
  department: "dept",
  creator: "employee",
  assigned_by: "employee",
  assignees: ["employee"],
});
const NOT_FOUND = { detail: "Task not found." };
const UNKNOWN_DEPARTMENT = {
  detail: "Invalid value for 'department': no department with id 99999999",
  errors: [{ field: "department", message: "no department with id 99999999" }],
};
const UNKNOWN_ASSIGNEE = {
  detail: "Invalid input in assignees: unknown user 99999999.",
  errors: [{ field: "assignees", message: "unknown user id(s): 99999999" }],
};
const EMPLOYEE_ASSIGNS_OTHERS = { detail: "Employees may assign or unassign only themselves." };
const ASSIGNEE_CHANGES_TITLE = { detail: "As an assignee of this task you may change only its status, not: title." };
const ONLY_MANAGERS_ASSIGN = {
  detail: "Only the task's creator, its managers, HR or the CEO may change its assignees.",
};
const ONLY_AUTHOR_DELETES_COMMENT = { detail: "Only the comment's author, HR or the CEO may delete it." };
const ONLY_MANAGERS_DELETE = { detail: "Only the task's creator, its managers, HR or the CEO may delete it." };
const C1 = { id: "C1", task: "T3", author: "colleague", content: "on it", created_at: "<ts>" };
const assignment = (assigned_to: string, assigned_by: string, action: string) => ({
  id: "<id>",
  task: "T3",
  assigned_to,
  assigned_by,
  action,
  created_at: "<ts>",
});
const page = (results: unknown[]) => ({ count: results.length, next: null, previous: null, results });

const EXPECTED: unknown[] = [
  { label: "create with everything", status: 201, body: T1 },
  {
    label: "create by an employee, own department",
    status: 201,
    body: task({
      id: "T2",
      title: "Small thing",
      status: "done",
      department: "dept",
      creator: "employee",
      assigned_by: "employee",
      completed_at: "<ts>",
    }),
  },
  {
    label: "create assigning themselves",
    status: 201,
    body: T3,
  },
  {
    label: "create without a department",
    status: 201,
    body: task({ id: "T4", title: "Nowhere", department: null, creator: "hr", assigned_by: "hr" }),
  },
  { label: "create: unknown department", status: 400, body: UNKNOWN_DEPARTMENT },
  { label: "create: unknown assignee", status: 400, body: UNKNOWN_ASSIGNEE },
  { label: "create: employee assigns someone else", status: 403, body: EMPLOYEE_ASSIGNS_OTHERS },
  { label: "patch title", status: 200, body: T1_V2 },
  { label: "patch nothing new", status: 200, body: T1_V2 },
  { label: "assignee patches status", status: 200, body: { ...T1_V2, status: "in_progress" } },
  { label: "assignee patches title", status: 403, body: ASSIGNEE_CHANGES_TITLE },
  { label: "outsider patches", status: 404, body: NOT_FOUND },
  { label: "patch: unknown department", status: 400, body: UNKNOWN_DEPARTMENT },
  { label: "patch: unknown assignee", status: 400, body: UNKNOWN_ASSIGNEE },
  { label: "put: new title, assignees and department", status: 200, body: T1_V3 },
  { label: "patch completes", status: 200, body: { ...T1_V3, status: "done", completed_at: "<ts>" } },
  { label: "patch reopens", status: 200, body: { ...T1_V3, status: "todo", due_date: null } },
  { label: "complete", status: 200, body: { status: "done", completed_at: "<ts>" } },
  { label: "complete again (mark_done)", status: 200, body: { status: "done", completed_at: "<ts>" } },
  { label: "outsider completes", status: 404, body: NOT_FOUND },
  { label: "assign", status: 200, body: { status: "assigned", assignees: ["colleague", "employee", "hr"] } },
  { label: "assign again", status: 200, body: { status: "assigned", assignees: ["colleague", "employee", "hr"] } },
  { label: "unassign", status: 200, body: { status: "unassigned", assignees: ["colleague", "employee"] } },
  { label: "unassign unknown", status: 400, body: UNKNOWN_ASSIGNEE },
  { label: "employee assigns someone else", status: 403, body: EMPLOYEE_ASSIGNS_OTHERS },
  { label: "employee unassigns themselves", status: 200, body: { status: "unassigned", assignees: ["colleague"] } },
  { label: "assignee assigns", status: 403, body: ONLY_MANAGERS_ASSIGN },
  { label: "comment", status: 201, body: C1 },
  { label: "comment by outsider", status: 404, body: NOT_FOUND },
  { label: "comments", status: 200, body: page([C1]) },
  { label: "delete comment: not the author", status: 403, body: ONLY_AUTHOR_DELETES_COMMENT },
  { label: "delete comment: HR", status: 204, body: null },
  { label: "delete comment again", status: 404, body: { detail: "Comment not found." } },
  { label: "delete: outsider", status: 404, body: NOT_FOUND },
  { label: "delete: assignee", status: 403, body: ONLY_MANAGERS_DELETE },
  { label: "delete: creator", status: 204, body: null },
  { label: "read deleted", status: 404, body: NOT_FOUND },
  { label: "delete deleted", status: 404, body: NOT_FOUND },
  {
    label: "assignments",
    status: 200,
    body: page([
      assignment("employee", "employee", "unassigned"),
      assignment("hr", "manager", "unassigned"),
      assignment("hr", "manager", "assigned"),
      assignment("colleague", "manager", "assigned"),
      assignment("employee", "employee", "assigned"),
    ]),
  },
  {
    label: "my tasks",
    status: 200,
    body: page([
      { ...T3, assigned_by: "manager", assignees: ["colleague"] },
      { ...T1_V3, status: "done", due_date: null, completed_at: "<ts>" },
    ]),
  },
  {
    mails: [
      'task_assigned → ceo: You were assigned: Quarterly plan v2 | Test manager assigned you the task "Quarterly plan v2" (#T1).',
      'task_assigned → colleague: You were assigned: Quarterly plan | Test manager assigned you the task "Quarterly plan" (#T1).',
      'task_assigned → colleague: You were assigned: Self | Test manager assigned you the task "Self" (#T3).',
      'task_assigned → employee: You were assigned: Quarterly plan | Test manager assigned you the task "Quarterly plan" (#T1).',
      'task_assigned → employee: You were assigned: Self | Test employee assigned you the task "Self" (#T3).',
      'task_assigned → hr: You were assigned: Self | Test manager assigned you the task "Self" (#T3).',
      'task_completed → ceo: Task completed: Quarterly plan v3 | The task "Quarterly plan v3" (#T1) was completed at <ts>.',
      'task_completed → ceo: Task completed: Quarterly plan v3 | The task "Quarterly plan v3" (#T1) was completed at <ts>.',
      'task_completed → colleague: Task completed: Quarterly plan v3 | The task "Quarterly plan v3" (#T1) was completed at <ts>.',
      'task_completed → colleague: Task completed: Quarterly plan v3 | The task "Quarterly plan v3" (#T1) was completed at <ts>.',
      'task_completed → manager: Task completed: Quarterly plan v3 | The task "Quarterly plan v3" (#T1) was completed at <ts>.',
      'task_completed → manager: Task completed: Quarterly plan v3 | The task "Quarterly plan v3" (#T1) was completed at <ts>.',
      'task_created → employee: Task created: Self | Test employee created the task "Self" (#T3).',
      'task_created → employee: Task created: Small thing | Test employee created the task "Small thing" (#T2).',
      'task_created → hr: Task created: Nowhere | Test hr created the task "Nowhere" (#T4).',
      'task_created → manager: Task created: Quarterly plan | Test manager created the task "Quarterly plan" (#T1).',
      'task_created → manager: Task created: Self | Test employee created the task "Self" (#T3).',
      'task_created → manager: Task created: Small thing | Test employee created the task "Small thing" (#T2).',
    ],
    audit: [
      { task: "T1", assigned_to: "employee", assigned_by: "manager", action: "assigned" },
      { task: "T1", assigned_to: "colleague", assigned_by: "manager", action: "assigned" },
      { task: "T3", assigned_to: "employee", assigned_by: "employee", action: "assigned" },
      { task: "T1", assigned_to: "ceo", assigned_by: "manager", action: "assigned" },
      { task: "T1", assigned_to: "employee", assigned_by: "manager", action: "unassigned" },
      { task: "T3", assigned_to: "colleague", assigned_by: "manager", action: "assigned" },
      { task: "T3", assigned_to: "hr", assigned_by: "manager", action: "assigned" },
      { task: "T3", assigned_to: "hr", assigned_by: "manager", action: "unassigned" },
      { task: "T3", assigned_to: "employee", assigned_by: "employee", action: "unassigned" },
    ],
  },
];

describe("task and comment writes answer exactly as before", () => {
  it("the whole story: answers, outbox rows and audit rows", async () => {
    const org = await makeOrg();
    const log = await story(org);
    expect(log).toEqual(EXPECTED);
  });
});
