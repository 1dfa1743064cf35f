/**
 * Who may do what with a task: CEO and HR everything; a manager manages the tasks of their
 * department, those they created and those they assigned; an employee creates tasks, manages those
 * they created and assigns or unassigns only themselves; an assignee with no other right reads the
 * task, changes only its status and comments. Every task, comment, attachment, assignment and
 * report route asks this module; nothing else decides access.
 *
 * Two views of the same rules: `visibleTasks` is the SQL predicate used by every list, count,
 * and report, and `taskAccess` evaluates one loaded task in memory. They must agree:
 * a task is readable exactly when `taskAccess` is not "none".
 */
import { and, eq, isNull, or, type SQL, sql } from "drizzle-orm";
import type { AuthUser } from "../../platform/context/types.ts";
import { tasks } from "../../platform/db/schema.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { isCeoOrHr } from "../users/roles.ts";

export type Actor = Pick<AuthUser, "id" | "role" | "departmentId">;

/** The facts about a task that rights depend on. */
export interface TaskFacts {
  departmentId: number | null;
  creatorId: number;
  assignedById: number | null;
  assigneeIds: readonly number[];
}

/**
 * `manage`: full edit, delete, assign (employees: only themselves). `assignee`: read, change
 * status (completing included), comment. `none`: the task does not exist for this user (404).
 */
export type TaskAccess = "manage" | "assignee" | "none";

export function taskAccess(user: Actor, task: TaskFacts): TaskAccess {
  if (isCeoOrHr(user)) return "manage";
  if (task.creatorId === user.id) return "manage";
  if (user.role === "manager") {
    const inDepartment = user.departmentId !== null && task.departmentId === user.departmentId;
    if (inDepartment || task.assignedById === user.id) return "manage";
  }
  return task.assigneeIds.includes(user.id) ? "assignee" : "none";
}

// Stryker disable all: the SQL mirrors below are proved against Postgres by the workerd suites
// (test/tasks/access.test.ts, test/tasks/tasks.permissions.test.ts), not by the Node unit tests.
/** The rows of `tasks` this user relates to, deleted ones included. Mirrors `taskAccess`. */
function relatedTasks(user: Actor): SQL {
  if (isCeoOrHr(user)) return sql`true`;
  const assigned = sql`exists (select 1 from task_assignees ta where ta.task_id = ${tasks.id} and ta.user_id = ${user.id})`;
  const rights: SQL[] = [eq(tasks.creatorId, user.id), assigned];
  if (user.role === "manager") {
    rights.push(eq(tasks.assignedById, user.id));
    if (user.departmentId !== null) rights.push(eq(tasks.departmentId, user.departmentId));
  }
  return or(...rights) ?? sql`false`;
}

/** The live tasks this user can read: the single visibility predicate of the product. */
export function visibleTasks(user: Actor): SQL {
  return and(isNull(tasks.deletedAt), relatedTasks(user)) ?? sql`false`;
}

/**
 * Everyone who can read a task matching `which` (a condition on `tasks t`, deleted tasks
 * included), as a SQL query of user ids (`id`, possibly null): the SQL mirror of `taskAccess`
 * for invalidating caches. Creator, last assigner and assignees; every active CEO and HR user; the
 * managers of the tasks' departments and of `alsoDepartment` (a task's department before a move),
 * by role and by the department's recorded manager. A superset is harmless: it only costs misses.
 */
export function taskReaders(which: SQL, alsoDepartment: number | null = null): SQL {
  const departmentIds = sql`(select t.department_id from tasks t where ${which} union select ${alsoDepartment}::int)`;
  return sql`
    select t.creator_id as id from tasks t where ${which}
    union select t.assigned_by_id from tasks t where ${which}
    union select a.user_id from task_assignees a join tasks t on t.id = a.task_id where ${which}
    union select u.id from users u where u.is_active and u.role in ('ceo', 'hr')
    union select u.id from users u where u.role = 'manager' and u.department_id in ${departmentIds}
    union select d.manager_id from departments d where d.id in ${departmentIds}`;
}

// Stryker restore all

function deny(access: TaskAccess, detail?: string): never {
  if (access === "none") throw ApiError.notFound("Task");
  throw ApiError.forbidden(detail);
}

export function assertCanRead(user: Actor, task: TaskFacts): TaskAccess {
  const access = taskAccess(user, task);
  if (access === "none") deny(access);
  return access;
}

/**
 * Field-level rule: an assignee without other rights may change `status` only. `changed` lists
 * the fields whose values the request would actually change.
 */
export function assertCanUpdate(user: Actor, task: TaskFacts, changed: readonly string[]): void {
  const access = assertCanRead(user, task);
  if (access === "manage") return;
  const forbidden = changed.filter((field) => field !== "status");
  if (forbidden.length > 0) {
    deny(access, `As an assignee of this task you may change only its status, not: ${forbidden.join(", ")}.`);
  }
}

export function assertCanDelete(user: Actor, task: TaskFacts): void {
  const access = assertCanRead(user, task);
  if (access !== "manage") deny(access, "Only the task's creator, its managers, HR or the CEO may delete it.");
}

export function assertCanComplete(user: Actor, task: TaskFacts): void {
  assertCanRead(user, task);
}

/**
 * Assigning and unassigning share one rule: the caller must manage the task, and an employee may
 * only add or remove themselves.
 */
export function assertCanAssign(user: Actor, task: TaskFacts, targets: readonly number[]): void {
  const access = assertCanRead(user, task);
  if (access !== "manage")
    deny(access, "Only the task's creator, its managers, HR or the CEO may change its assignees.");
  assertMayAssignUsers(user, targets);
}

/** Employees may assign (or unassign) only themselves, on creation too. */
export function assertMayAssignUsers(user: Actor, targets: readonly number[]): void {
  if (user.role === "employee" && targets.some((id) => id !== user.id)) {
    throw ApiError.forbidden("Employees may assign or unassign only themselves.");
  }
}

/** Comments: anyone who can read the task may comment. */
export function assertCanComment(user: Actor, task: TaskFacts): void {
  assertCanRead(user, task);
}

/** A comment may be deleted by its author, HR or the CEO (the task must be readable). */
export function assertCanDeleteComment(user: Actor, task: TaskFacts, authorId: number): void {
  const access = assertCanRead(user, task);
  if (authorId !== user.id && !isCeoOrHr(user)) deny(access, "Only the comment's author, HR or the CEO may delete it.");
}

/** Attachments are part of the task's content: adding or removing one needs the right to edit it. */
export function assertCanChangeAttachments(user: Actor, task: TaskFacts): void {
  const access = assertCanRead(user, task);
  if (access !== "manage")
    deny(access, "As an assignee of this task you may read its attachments but not change them.");
}
