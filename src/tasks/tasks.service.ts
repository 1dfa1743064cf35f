/**
 * Task rules and queries: listing with filters, creation, updates, soft delete, completion and
 * assignment. Rights come from `tasks.policy.ts`; every write runs in one transaction that locks
 * the task row, records its emails in the outbox, and reports which users' caches it touched so
 * the route can bump them after commit.
 */
import { and, asc, count, desc, eq, gt, ilike, inArray, isNull, lt, ne, or, type SQL, sql } from "drizzle-orm";
import type { Db, Queryable, Tx } from "../db/client.ts";
import { departments, type TaskPriority, taskAssignees, taskAssignments, tasks, users } from "../db/schema.ts";
import { recordEmail } from "../email/outbox.ts";
import { ApiError } from "../lib/errors.ts";
import { type PageParams, pageWindow } from "../lib/pagination.ts";
import {
  type Actor,
  assertCanAssign,
  assertCanComplete,
  assertCanDelete,
  assertCanRead,
  assertCanUpdate,
  assertMayAssignUsers,
  relatedTasks,
  type TaskFacts,
  visibleTasks,
} from "./tasks.policy.ts";
import type { TaskInput, TaskListQuery, TaskResponse } from "./tasks.schemas.ts";

export type TaskRow = typeof tasks.$inferSelect;
export interface TaskRecord extends TaskRow {
  assigneeIds: number[];
}

/** The outcome of a write: what to answer, whom to email, whose caches to refresh. */
export interface WriteResult<T> {
  value: T;
  emailIds: number[];
  affectedUserIds: number[];
}

export interface Caller extends Actor {
  fullName: string;
}

const PRIORITY_RANK = sql<number>`case ${tasks.priority} when 'low' then 1 when 'medium' then 2 when 'high' then 3 when 'critical' then 4 end`;

export function facts(task: TaskRecord): TaskFacts {
  return {
    departmentId: task.departmentId,
    creatorId: task.creatorId,
    assignedById: task.assignedById,
    assigneeIds: task.assigneeIds,
  };
}

export function toTaskResponse(task: TaskRecord): TaskResponse {
  return {
    id: task.id,
    title: task.title,
    description: task.description,
    status: task.status,
    priority: task.priority,
    due_date: task.dueDate?.toISOString() ?? null,
    estimate_hours: task.estimateHours === null ? null : Number(task.estimateHours),
    department: task.departmentId,
    creator: task.creatorId,
    assigned_by: task.assignedById,
    assignees: [...task.assigneeIds].sort((a, b) => a - b),
    completed_at: task.completedAt?.toISOString() ?? null,
    created_at: task.createdAt.toISOString(),
    updated_at: task.updatedAt.toISOString(),
  };
}

async function assigneesOf(db: Queryable, taskIds: number[]): Promise<Map<number, number[]>> {
  const byTask = new Map<number, number[]>(taskIds.map((id) => [id, []]));
  if (taskIds.length === 0) return byTask;
  const rows = await db
    .select({ taskId: taskAssignees.taskId, userId: taskAssignees.userId })
    .from(taskAssignees)
    .where(inArray(taskAssignees.taskId, taskIds));
  for (const row of rows) byTask.get(row.taskId)?.push(row.userId);
  return byTask;
}

async function withAssignees(db: Queryable, rows: TaskRow[]): Promise<TaskRecord[]> {
  const byTask = await assigneesOf(
    db,
    rows.map((row) => row.id),
  );
  return rows.map((row) => ({ ...row, assigneeIds: byTask.get(row.id) ?? [] }));
}

/**
 * A live (not deleted) task with its assignees, or a 404. Inside a transaction pass `lock` to
 * hold the row until commit, so concurrent writes to one task are serialised.
 */
export async function loadTask(db: Queryable, id: number, options: { lock?: boolean } = {}): Promise<TaskRecord> {
  const query = db
    .select()
    .from(tasks)
    .where(and(eq(tasks.id, id), isNull(tasks.deletedAt)));
  const [row] = options.lock ? await query.for("update") : await query;
  if (!row) throw ApiError.notFound("Task");
  const [record] = await withAssignees(db, [row]);
  if (!record) throw ApiError.notFound("Task");
  return record;
}

/** A task the caller can read, or 404. */
export async function getTask(db: Queryable, user: Actor, id: number): Promise<TaskRecord> {
  const task = await loadTask(db, id);
  assertCanRead(user, facts(task));
  return task;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

function listConditions(user: Actor, query: TaskListQuery): SQL[] {
  const conditions: SQL[] = [visibleTasks(user)];
  if (query.status && query.task_status && query.status !== query.task_status) {
    throw ApiError.invalidParameter("task_status", "contradicts 'status'; send only one of them");
  }
  const status = query.status ?? query.task_status;
  if (status === "pending") conditions.push(ne(tasks.status, "done"));
  else if (status === "completed") conditions.push(eq(tasks.status, "done"));
  else if (status) conditions.push(eq(tasks.status, status));
  if (query.priority) conditions.push(eq(tasks.priority, query.priority as TaskPriority));
  if (query.assigned_to) {
    const assignee = query.assigned_to === "me" ? user.id : Number(query.assigned_to);
    conditions.push(
      sql`exists (select 1 from task_assignees f where f.task_id = ${tasks.id} and f.user_id = ${assignee})`,
    );
  }
  if (query.department) conditions.push(eq(tasks.departmentId, query.department));
  if (query.creator) conditions.push(eq(tasks.creatorId, query.creator));
  if (query.due_before) conditions.push(lt(tasks.dueDate, query.due_before));
  if (query.due_after) conditions.push(gt(tasks.dueDate, query.due_after));
  if (query.search?.trim()) {
    const pattern = `%${escapeLike(query.search.trim())}%`;
    const match = or(ilike(tasks.title, pattern), ilike(tasks.description, pattern));
    if (match) conditions.push(match);
  }
  return conditions;
}

function ordering(query: TaskListQuery): SQL[] {
  const spec = query.ordering ?? "-created_at";
  const descending = spec.startsWith("-");
  const field = descending ? spec.slice(1) : spec;
  const column =
    field === "priority"
      ? PRIORITY_RANK
      : field === "due_date"
        ? tasks.dueDate
        : field === "updated_at"
          ? tasks.updatedAt
          : tasks.createdAt;
  // Tasks without a due date sort last either way; the id breaks ties so pages never overlap.
  const primary = descending ? sql`${column} desc nulls last` : sql`${column} asc nulls last`;
  return [primary, descending ? desc(tasks.id) : asc(tasks.id)];
}

/** One page of the tasks the user can see, filtered and ordered. */
export async function listTasks(
  db: Db,
  user: Actor,
  query: TaskListQuery,
  page: PageParams,
): Promise<{ count: number; results: TaskResponse[] }> {
  const where = and(...listConditions(user, query));
  const { limit, offset } = pageWindow(page);
  const [total, rows] = await Promise.all([
    db.select({ n: count() }).from(tasks).where(where),
    db
      .select()
      .from(tasks)
      .where(where)
      .orderBy(...ordering(query))
      .limit(limit)
      .offset(offset),
  ]);
  const records = await withAssignees(db, rows);
  return { count: total[0]?.n ?? 0, results: records.map(toTaskResponse) };
}

/**
 * The cache freshness marker: how many tasks the user relates to (deleted included), the latest
 * `updated_at` among them, and the sum of their row versions' `xmin`. The timestamp alone is not
 * enough: it is taken when the statement runs, not at commit, so a write that commits after a
 * later-stamped one leaves the maximum unchanged (an admin, whose KV version such a write does
 * not bump, would be served the page cached in between). Every committed insert, update or soft
 * delete gives its row a newer transaction id, so the sum moves with each one, in commit order.
 */
export async function taskFreshness(db: Db, user: Actor): Promise<string> {
  const [row] = await db
    .select({
      n: count(),
      latest: sql<string | null>`max(${tasks.updatedAt})::text`,
      versions: sql<string>`coalesce(sum((${tasks}.xmin::text)::bigint), 0)::text`,
    })
    .from(tasks)
    .where(relatedTasks(user));
  return `${row?.n ?? 0}@${row?.latest ?? "-"}@${row?.versions ?? "0"}`;
}

async function assertUsersExist(db: Queryable, ids: readonly number[], field: string): Promise<void> {
  if (ids.length === 0) return;
  const found = await db
    .select({ id: users.id })
    .from(users)
    .where(and(inArray(users.id, [...ids]), eq(users.isActive, true)));
  const known = new Set(found.map((row) => row.id));
  const missing = ids.filter((id) => !known.has(id));
  if (missing.length > 0) {
    throw ApiError.badRequest(`Invalid input in ${field}: unknown user ${missing.join(", ")}.`, [
      { field, message: `unknown user id(s): ${missing.join(", ")}` },
    ]);
  }
}

async function departmentManager(db: Queryable, departmentId: number | null): Promise<number | null> {
  if (departmentId === null) return null;
  const [row] = await db
    .select({ managerId: departments.managerId })
    .from(departments)
    .where(eq(departments.id, departmentId));
  if (!row) throw ApiError.invalidParameter("department", `no department with id ${departmentId}`);
  return row.managerId;
}

async function recipients(db: Queryable, ids: readonly number[]): Promise<{ email: string; userId: number }[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .select({ email: users.email, userId: users.id })
    .from(users)
    .where(and(inArray(users.id, [...new Set(ids)]), eq(users.isActive, true)));
  return rows;
}

/** Adds and removes assignees with one audit row per user changed; emails each new assignee. */
async function changeAssignees(
  tx: Tx,
  caller: Caller,
  task: TaskRecord,
  add: readonly number[],
  remove: readonly number[],
): Promise<{ added: number[]; removed: number[]; emailIds: number[] }> {
  let added: number[] = [];
  let removed: number[] = [];
  if (add.length > 0) {
    const rows = await tx
      .insert(taskAssignees)
      .values([...new Set(add)].map((userId) => ({ taskId: task.id, userId })))
      .onConflictDoNothing()
      .returning({ userId: taskAssignees.userId });
    added = rows.map((row) => row.userId);
  }
  if (remove.length > 0) {
    const rows = await tx
      .delete(taskAssignees)
      .where(and(eq(taskAssignees.taskId, task.id), inArray(taskAssignees.userId, [...new Set(remove)])))
      .returning({ userId: taskAssignees.userId });
    removed = rows.map((row) => row.userId);
  }
  const audit = [
    ...added.map((userId) => ({ userId, action: "assigned" as const })),
    ...removed.map((userId) => ({ userId, action: "unassigned" as const })),
  ];
  if (audit.length > 0) {
    await tx.insert(taskAssignments).values(
      audit.map((row) => ({
        taskId: task.id,
        assignedToId: row.userId,
        assignedById: caller.id,
        action: row.action,
      })),
    );
  }
  const emailIds = await recordEmail(tx, "task_assigned", await recipients(tx, added), {
    taskId: task.id,
    title: task.title,
    assignedByName: caller.fullName || "A colleague",
  });
  return { added, removed, emailIds };
}

async function completionEmails(tx: Tx, task: TaskRecord, completedAt: Date): Promise<number[]> {
  return recordEmail(tx, "task_completed", await recipients(tx, [task.creatorId, ...task.assigneeIds]), {
    taskId: task.id,
    title: task.title,
    completedAt: completedAt.toISOString(),
  });
}

/** Everyone whose view of this task may change: creator, assigner, assignees, department manager. */
async function stakeholders(db: Queryable, task: TaskRecord, extra: readonly number[] = []): Promise<number[]> {
  const managerId =
    task.departmentId === null ? null : await departmentManager(db, task.departmentId).catch(() => null);
  return [task.creatorId, task.assignedById, managerId, ...task.assigneeIds, ...extra].filter(
    (id): id is number => typeof id === "number",
  );
}

export async function createTask(
  db: Db,
  caller: Caller,
  input: TaskInput & { title: string },
): Promise<WriteResult<TaskResponse>> {
  const assignees = [...new Set(input.assignees ?? [])];
  assertMayAssignUsers(caller, assignees);
  return db.transaction(async (tx) => {
    const departmentId = input.department === undefined ? caller.departmentId : input.department;
    const managerId = await departmentManager(tx, departmentId);
    await assertUsersExist(tx, assignees, "assignees");
    const now = new Date();
    const status = input.status ?? "todo";
    const [row] = await tx
      .insert(tasks)
      .values({
        title: input.title,
        description: input.description ?? "",
        status,
        priority: input.priority ?? "medium",
        dueDate: input.due_date ?? null,
        estimateHours:
          input.estimate_hours === undefined || input.estimate_hours === null ? null : input.estimate_hours.toFixed(2),
        departmentId,
        creatorId: caller.id,
        assignedById: assignees.length > 0 ? caller.id : null,
        completedAt: status === "done" ? now : null,
      })
      .returning();
    if (!row) throw new Error("insert returned no row");
    const task: TaskRecord = { ...row, assigneeIds: [] };
    const emailIds = await recordEmail(
      tx,
      "task_created",
      await recipients(tx, [caller.id, ...(managerId === null ? [] : [managerId])]),
      { taskId: task.id, title: task.title, creatorName: caller.fullName || "A colleague" },
    );
    const assigned = await changeAssignees(tx, caller, task, assignees, []);
    task.assigneeIds = assigned.added;
    return {
      value: toTaskResponse(task),
      emailIds: [...emailIds, ...assigned.emailIds],
      affectedUserIds: [caller.id, ...assignees, ...(managerId === null ? [] : [managerId])],
    };
  });
}

function sameInstant(a: Date | null, b: Date | null | undefined): boolean {
  return (a?.getTime() ?? null) === (b?.getTime() ?? null);
}

/** The fields of `input` whose values differ from the task's. */
function changedFields(task: TaskRecord, input: TaskInput): string[] {
  const changed: string[] = [];
  if (input.title !== undefined && input.title !== task.title) changed.push("title");
  if (input.description !== undefined && input.description !== task.description) changed.push("description");
  if (input.status !== undefined && input.status !== task.status) changed.push("status");
  if (input.priority !== undefined && input.priority !== task.priority) changed.push("priority");
  if (input.due_date !== undefined && !sameInstant(task.dueDate, input.due_date)) changed.push("due_date");
  if (input.estimate_hours !== undefined) {
    const current = task.estimateHours === null ? null : Number(task.estimateHours);
    if (current !== input.estimate_hours) changed.push("estimate_hours");
  }
  if (input.department !== undefined && input.department !== task.departmentId) changed.push("department");
  if (input.assignees !== undefined) {
    const next = [...new Set(input.assignees)].sort((a, b) => a - b).join(",");
    if (next !== [...task.assigneeIds].sort((a, b) => a - b).join(",")) changed.push("assignees");
  }
  return changed;
}

/** PUT and PATCH. Only fields that change are checked against the caller's rights. */
export async function updateTask(
  db: Db,
  caller: Caller,
  id: number,
  input: TaskInput,
): Promise<WriteResult<TaskResponse>> {
  return db.transaction(async (tx) => {
    const task = await loadTask(tx, id, { lock: true });
    const changed = changedFields(task, input);
    assertCanUpdate(caller, facts(task), changed);
    const before = await stakeholders(tx, task);
    if (changed.length === 0) return { value: toTaskResponse(task), emailIds: [], affectedUserIds: [] };

    const emailIds: number[] = [];
    let assigneeIds = task.assigneeIds;
    if (changed.includes("assignees") && input.assignees) {
      const next = new Set(input.assignees);
      const add = [...next].filter((userId) => !task.assigneeIds.includes(userId));
      const remove = task.assigneeIds.filter((userId) => !next.has(userId));
      assertCanAssign(caller, facts(task), [...add, ...remove]);
      await assertUsersExist(tx, add, "assignees");
      const result = await changeAssignees(tx, caller, task, add, remove);
      emailIds.push(...result.emailIds);
      assigneeIds = [...task.assigneeIds.filter((userId) => !result.removed.includes(userId)), ...result.added];
    }
    if (changed.includes("department") && input.department !== undefined) await departmentManager(tx, input.department);

    const completing = input.status === "done" && task.status !== "done";
    const reopening = input.status !== undefined && input.status !== "done" && task.status === "done";
    const [row] = await tx
      .update(tasks)
      .set({
        title: input.title,
        description: input.description,
        status: input.status,
        priority: input.priority,
        dueDate: input.due_date,
        estimateHours:
          input.estimate_hours === undefined
            ? undefined
            : input.estimate_hours === null
              ? null
              : input.estimate_hours.toFixed(2),
        departmentId: input.department,
        assignedById: changed.includes("assignees") && input.assignees?.length ? caller.id : undefined,
        completedAt: completing ? sql`clock_timestamp()` : reopening ? null : undefined,
        updatedAt: sql`clock_timestamp()`,
      })
      .where(eq(tasks.id, id))
      .returning();
    if (!row) throw ApiError.notFound("Task");
    const updated: TaskRecord = { ...row, assigneeIds };
    if (completing && row.completedAt) emailIds.push(...(await completionEmails(tx, updated, row.completedAt)));
    const after = await stakeholders(tx, updated, task.assigneeIds);
    return { value: toTaskResponse(updated), emailIds, affectedUserIds: [...before, ...after] };
  });
}

export async function deleteTask(db: Db, caller: Actor, id: number): Promise<WriteResult<null>> {
  return db.transaction(async (tx) => {
    const task = await loadTask(tx, id, { lock: true });
    assertCanDelete(caller, facts(task));
    await tx
      .update(tasks)
      .set({ deletedAt: sql`clock_timestamp()`, updatedAt: sql`clock_timestamp()` })
      .where(eq(tasks.id, id));
    return { value: null, emailIds: [], affectedUserIds: await stakeholders(tx, task) };
  });
}

/**
 * Idempotent: the first call sets `completed_at` and emails creator and assignees; later calls
 * return the same `completed_at` and send nothing. The row lock makes concurrent calls agree.
 */
export async function completeTask(
  db: Db,
  caller: Actor,
  id: number,
): Promise<WriteResult<{ status: "done"; completed_at: string }>> {
  return db.transaction(async (tx) => {
    const task = await loadTask(tx, id, { lock: true });
    assertCanComplete(caller, facts(task));
    if (task.status === "done" && task.completedAt) {
      return {
        value: { status: "done", completed_at: task.completedAt.toISOString() },
        emailIds: [],
        affectedUserIds: [],
      };
    }
    const [row] = await tx
      .update(tasks)
      .set({ status: "done", completedAt: sql`clock_timestamp()`, updatedAt: sql`clock_timestamp()` })
      .where(eq(tasks.id, id))
      .returning({ completedAt: tasks.completedAt });
    const completedAt = row?.completedAt ?? new Date();
    const emailIds = await completionEmails(tx, task, completedAt);
    return {
      value: { status: "done", completed_at: completedAt.toISOString() },
      emailIds,
      affectedUserIds: await stakeholders(tx, task),
    };
  });
}

/** `/assign/` and `/unassign/`: same rights; the result lists the task's assignees afterwards. */
export async function setAssignment(
  db: Db,
  caller: Caller,
  id: number,
  action: "assign" | "unassign",
  targets: readonly number[],
): Promise<WriteResult<number[]>> {
  const unique = [...new Set(targets)];
  return db.transaction(async (tx) => {
    const task = await loadTask(tx, id, { lock: true });
    assertCanAssign(caller, facts(task), unique);
    await assertUsersExist(tx, unique, "assignees");
    const result =
      action === "assign"
        ? await changeAssignees(tx, caller, task, unique, [])
        : await changeAssignees(tx, caller, task, [], unique);
    await tx
      .update(tasks)
      .set({ updatedAt: sql`clock_timestamp()`, ...(action === "assign" ? { assignedById: caller.id } : {}) })
      .where(eq(tasks.id, id));
    const assigneeIds = [...task.assigneeIds.filter((userId) => !result.removed.includes(userId)), ...result.added];
    return {
      value: assigneeIds.sort((a, b) => a - b),
      emailIds: result.emailIds,
      affectedUserIds: await stakeholders(tx, task, [...unique, caller.id]),
    };
  });
}

/** The assignment audit trail with seed 004's visibility; deleted tasks' records are gone too. */
export async function listAssignments(
  db: Db,
  user: Actor,
  filters: { task?: number; user?: number },
  page: PageParams,
): Promise<{ count: number; results: AssignmentRow[] }> {
  const conditions: SQL[] = [isNull(tasks.deletedAt)];
  if (user.role === "manager") {
    const own = or(eq(taskAssignments.assignedToId, user.id), eq(taskAssignments.assignedById, user.id));
    const department = user.departmentId === null ? undefined : eq(tasks.departmentId, user.departmentId);
    const visible = department ? or(own, department) : own;
    if (visible) conditions.push(visible);
  } else if (user.role === "employee") {
    const own = or(eq(taskAssignments.assignedToId, user.id), eq(taskAssignments.assignedById, user.id));
    if (own) conditions.push(own);
  }
  if (filters.task) conditions.push(eq(taskAssignments.taskId, filters.task));
  if (filters.user) conditions.push(eq(taskAssignments.assignedToId, filters.user));
  const where = and(...conditions);
  const { limit, offset } = pageWindow(page);
  const [total, rows] = await Promise.all([
    db.select({ n: count() }).from(taskAssignments).innerJoin(tasks, eq(tasks.id, taskAssignments.taskId)).where(where),
    db
      .select({
        id: taskAssignments.id,
        taskId: taskAssignments.taskId,
        assignedToId: taskAssignments.assignedToId,
        assignedById: taskAssignments.assignedById,
        action: taskAssignments.action,
        createdAt: taskAssignments.createdAt,
      })
      .from(taskAssignments)
      .innerJoin(tasks, eq(tasks.id, taskAssignments.taskId))
      .where(where)
      .orderBy(desc(taskAssignments.createdAt), desc(taskAssignments.id))
      .limit(limit)
      .offset(offset),
  ]);
  return { count: total[0]?.n ?? 0, results: rows };
}

export interface AssignmentRow {
  id: number;
  taskId: number;
  assignedToId: number;
  assignedById: number | null;
  action: "assigned" | "unassigned";
  createdAt: Date;
}
