/**
 * Task rules and queries: listing with filters, creation, updates, soft delete, completion and
 * assignment. Rights come from `tasks.policy.ts`.
 *
 * Over Neon's HTTP API every request is a round trip to the database region, so:
 * - every read is ONE request: a task row carries its assignees (a correlated subquery), and a
 *   page and its count go together in one `db.batch`;
 * - every write is at most TWO (see `write-batch.ts`): read the facts (task, named users,
 *   department) in one batch, let the policy decide, then one batch that re-checks the task row
 *   under a lock, writes (task, assignees, audit rows, outbox emails, webhook deliveries) and reads
 *   back the answer and the users whose cached views the write changes, so the route can replace
 *   their cache versions.
 */
import { and, asc, count, desc, eq, getTableColumns, gt, ilike, isNull, lt, ne, or, type SQL, sql } from "drizzle-orm";
import { entityTag, ifMatchHolds, preconditionFailed } from "../../platform/cache/conditional.ts";
import type { Db } from "../../platform/db/client.ts";
import { insertedRow } from "../../platform/db/rows.ts";
import { departments, type TaskPriority, taskAssignments, tasks, users } from "../../platform/db/schema.ts";
import {
  countedPage,
  countOf,
  type Listing,
  newestFirst,
  type PageParams,
  pageWindow,
} from "../../platform/http/pagination.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { mergeRecorded, type NewNotification, type OutboxRow, recordEmailSql, recordedOf } from "../email/outbox.ts";
import { type EventSpec, recordWebhooksSql, taskEventData } from "../webhooks/outbox.ts";
import {
  completedAtSetByDatabase,
  fieldChanges,
  HISTORY_FIELDS,
  isoText,
  recordEvent,
  type TaskEvent,
} from "./history.ts";
import {
  type Actor,
  assertCanAssign,
  assertCanComplete,
  assertCanDelete,
  assertCanRead,
  assertCanUpdate,
  assertMayAssignUsers,
  type TaskFacts,
  visibleTasks,
} from "./tasks.policy.ts";
import type { TaskInput, TaskListQuery, TaskResponse } from "./tasks.schemas.ts";
import {
  affectedUsers,
  allActiveUsers,
  assertTaskUnchanged,
  changeAssigneesStatement,
  departmentExists,
  FactsChanged,
  firstRow,
  intArray,
  withRetries,
} from "./write-batch.ts";

export type TaskRow = typeof tasks.$inferSelect;
export interface TaskRecord extends TaskRow {
  assigneeIds: number[];
  /** The row version (`xmin`) the record was read at; a write batch re-checks it. */
  version: string;
}

/** The outcome of a write: what to answer, whom to email and notify, which webhook deliveries to queue, whose caches to refresh. */
export interface WriteResult<T> {
  value: T;
  emailIds: number[];
  notifications: NewNotification[];
  deliveryIds: number[];
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

/** A task's assignees, ascending, as one correlated subquery (no second round trip). */
const ASSIGNEE_IDS: SQL<number[]> =
  sql`coalesce((select array_agg(a.user_id order by a.user_id) from task_assignees a where a.task_id = ${tasks.id}), '{}')`;

/** Every column of a task, its assignees and its row version: one row says all a read or a write needs. */
export const TASK_RECORD = {
  ...getTableColumns(tasks),
  assigneeIds: ASSIGNEE_IDS,
  version: sql<string>`${tasks}.xmin::text`,
};

function liveTask(id: number): SQL | undefined {
  return and(eq(tasks.id, id), isNull(tasks.deletedAt));
}

/** The live task with its assignees and version, as a query a `db.batch` can hold. */
export function taskQuery(db: Db, id: number) {
  return db.select(TASK_RECORD).from(tasks).where(liveTask(id));
}

/** A live (not deleted) task with its assignees, or a 404. One query. */
export async function loadTask(db: Db, id: number): Promise<TaskRecord> {
  const [record] = await taskQuery(db, id);
  if (!record) throw ApiError.notFound("Task");
  return record;
}

/** A task the caller can read, or 404. */
export async function getTask(db: Db, user: Actor, id: number): Promise<TaskRecord> {
  const task = await loadTask(db, id);
  assertCanRead(user, facts(task));
  return task;
}

/**
 * `If-Match` on a task write: the caller's tag must be the current task's, i.e. the tag of the
 * exact body a GET of the task answers now (`toTaskResponse`, serialized as the API sends it).
 * Checked after the caller's rights (whoever may not write learns nothing about versions) and
 * before any change. The write's batch then re-checks under the row lock that the task is still
 * the version read here, and a retry reads it again, so a change that lands in between also
 * fails the precondition: no update is ever lost.
 */
async function assertTaskVersion(task: TaskRecord, ifMatch: string | undefined): Promise<void> {
  if (ifMatch === undefined) return;
  const current = await entityTag(JSON.stringify(toTaskResponse(task)));
  if (!ifMatchHolds(ifMatch, current)) throw preconditionFailed("task", current);
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

/** One page of the tasks the user can see, filtered and ordered: one round trip (count and page in one batch). */
export async function listTasks(
  db: Db,
  user: Actor,
  query: TaskListQuery,
  page: PageParams,
): Promise<Listing<TaskResponse>> {
  const where = and(...listConditions(user, query));
  const select = db.select(TASK_RECORD).from(tasks).$dynamic();
  const [total, rows] = await db.batch(countedPage(db, tasks, where, select, ordering(query), page));
  return { count: countOf(total), results: rows.map(toTaskResponse) };
}

/** The active users among `ids`, as a query a `db.batch` can hold. */
function activeUsersQuery(db: Db, ids: readonly number[]) {
  return db
    .select({ id: users.id })
    .from(users)
    .where(and(sql`${users.id} = any(${intArray(ids)})`, eq(users.isActive, true)));
}

/** A department, as a query a `db.batch` can hold (no row: no such department, or none named). */
function departmentQuery(db: Db, departmentId: number | null) {
  return db
    .select({ id: departments.id })
    .from(departments)
    .where(departmentId === null ? sql`false` : eq(departments.id, departmentId));
}

/** 400 unless every one of `ids` is among the active users `found`. */
function assertUsersExist(ids: readonly number[], found: readonly { id: number }[], field: string): void {
  const known = new Set(found.map((row) => row.id));
  const missing = ids.filter((id) => !known.has(id));
  if (missing.length > 0) {
    throw ApiError.badRequest(`Invalid input in ${field}: unknown user ${missing.join(", ")}.`, [
      { field, message: `unknown user id(s): ${missing.join(", ")}` },
    ]);
  }
}

/** 400 when a department is named and `found` (its query's rows) says it does not exist. */
function assertDepartmentExists(departmentId: number | null, found: readonly unknown[]): void {
  if (departmentId !== null && found.length === 0) {
    throw ApiError.invalidParameter("department", `no department with id ${departmentId}`);
  }
}

/**
 * The `task_completed` mail as a batch statement: to the creator and the assignees as the batch
 * left them, with the `completed_at` an earlier statement of the batch set (Postgres's clock).
 */
function completionEmailStatement(db: Db, taskId: number, title: string) {
  const token = `{completed-at:${crypto.randomUUID()}}`;
  const mail = recordEmailSql(
    "task_completed",
    { taskId, title, completedAt: token },
    sql`u.id in (select creator_id from tasks where id = ${taskId} union select user_id from task_assignees where task_id = ${taskId})`,
    {
      fill: { token, value: isoText(sql`(select completed_at from tasks where id = ${taskId})`) },
      link: { task: taskId },
    },
  );
  return db.execute<OutboxRow & Record<string, unknown>>(mail);
}

/** A batch statement that does nothing: keeps a batch's shape when a step has nothing to do. */
function nothing<T extends Record<string, unknown>>(db: Db) {
  return db.execute<T>(sql`select 1 as id where false`);
}

/** The email ids and notifications of an assignee change's answer. */
const assignedOutbox = (result: { rows: { email_ids: number[]; notifications: NewNotification[] }[] }) => {
  const row = firstRow(result);
  return { emailIds: row.email_ids, notifications: row.notifications };
};

const ids = (result: { rows: { id: number }[] }): number[] => result.rows.map((row) => row.id);

/** The webhook deliveries of a write's events, as a statement of its batch (after the writes it describes). */
function webhookStatement(db: Db, events: readonly EventSpec[]) {
  return db.execute<{ id: number }>(recordWebhooksSql(events));
}

const sorted = (userIds: readonly number[]): number[] => [...userIds].sort((a, b) => a - b);

/**
 * Round trip 1 reads the department, the assignees and reserves the task's id (only when both are
 * valid, so a rejected request uses no id); round trip 2 inserts the task, its creation mail, its
 * assignees with their audit rows and mail, and reads who can see it.
 */
export async function createTask(
  db: Db,
  caller: Caller,
  input: TaskInput & { title: string },
): Promise<WriteResult<TaskResponse>> {
  const assignees = [...new Set(input.assignees ?? [])];
  assertMayAssignUsers(caller, assignees);
  const departmentId = input.department === undefined ? caller.departmentId : input.department;
  const valid = sql`${departmentExists(departmentId)} and ${allActiveUsers(assignees)}`;
  return withRetries(async () => {
    const [department, found, reserved] = await db.batch([
      departmentQuery(db, departmentId),
      activeUsersQuery(db, assignees),
      db.execute<{ id: number }>(sql`select nextval(pg_get_serial_sequence('tasks', 'id'))::int as id where ${valid}`),
    ]);
    assertDepartmentExists(departmentId, department);
    assertUsersExist(assignees, found, "assignees");
    const id = firstRow(reserved).id;

    const status = input.status ?? "todo";
    const completedAt = status === "done" ? new Date() : null;
    const estimateHours =
      input.estimate_hours === undefined || input.estimate_hours === null ? null : input.estimate_hours.toFixed(2);
    const creatorName = caller.fullName || "A colleague";
    const created = fieldChanges(
      { description: "", assignees: [] },
      {
        title: input.title,
        description: input.description ?? "",
        status,
        priority: input.priority ?? "medium",
        due_date: input.due_date?.toISOString() ?? null,
        estimate_hours: estimateHours === null ? null : Number(estimateHours),
        department: departmentId,
        assignees: [...assignees].sort((a, b) => a - b),
        completed_at: completedAt?.toISOString() ?? null,
      },
    );
    const events: EventSpec[] = [{ event: "task.created", data: taskEventData(id, caller.id) }];
    if (assignees.length > 0) {
      events.push({ event: "task.assigned", data: taskEventData(id, caller.id, { assignees: sorted(assignees) }) });
    }
    const [, inserted, createdMail, assigned, audience, hooks] = await db.batch([
      db.execute(sql`select edge_assert(${valid}, 'task facts changed') as ok`),
      db
        .insert(tasks)
        .values({
          id,
          title: input.title,
          description: input.description ?? "",
          status,
          priority: input.priority ?? "medium",
          dueDate: input.due_date ?? null,
          estimateHours,
          departmentId,
          creatorId: caller.id,
          // Creating is assigning, with or without assignees: the creator is who assigned the task.
          assignedById: caller.id,
          completedAt,
        })
        .returning(TASK_RECORD),
      db.execute<OutboxRow & Record<string, unknown>>(
        recordEmailSql(
          "task_created",
          { taskId: id, title: input.title, creatorName },
          sql`u.id = ${caller.id} or u.id = (select manager_id from departments where id = ${departmentId}::int)`,
          { link: { task: id } },
        ),
      ),
      changeAssigneesStatement(db, {
        taskId: id,
        callerId: caller.id,
        add: assignees,
        remove: [],
        mail: { taskId: id, title: input.title, assignedByName: creatorName },
      }),
      affectedUsers(db, id, null),
      webhookStatement(db, events),
      recordEvent(db, { taskId: id, actorId: caller.id, action: "created", changes: created }),
    ]);
    const row = insertedRow(inserted);
    const added = firstRow(assigned).added;
    return {
      value: toTaskResponse({ ...row, assigneeIds: added }),
      ...mergeRecorded(recordedOf(createdMail), assignedOutbox(assigned)),
      deliveryIds: ids(hooks),
      affectedUserIds: firstRow(audience).ids ?? [],
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

/**
 * The history entry of a PUT or PATCH: `completed` when it completes the task, `status_changed`
 * when the status is all it changes, `updated` otherwise; `[old, new]` of each changed field, and
 * of `completed_at` when the status moves into or out of `done`.
 */
function updateEvent(
  task: TaskRecord,
  input: TaskInput,
  changed: readonly string[],
  move: { completing: boolean; reopening: boolean },
): Pick<TaskEvent, "action" | "changes" | "changesInSql"> {
  const before = toTaskResponse(task);
  const after = toTaskResponse({
    ...task,
    title: input.title ?? task.title,
    description: input.description ?? task.description,
    status: input.status ?? task.status,
    priority: input.priority ?? task.priority,
    dueDate: input.due_date === undefined ? task.dueDate : input.due_date,
    estimateHours:
      input.estimate_hours === undefined
        ? task.estimateHours
        : input.estimate_hours === null
          ? null
          : input.estimate_hours.toFixed(2),
    departmentId: input.department === undefined ? task.departmentId : input.department,
    assigneeIds: input.assignees === undefined ? task.assigneeIds : [...new Set(input.assignees)],
    completedAt: move.reopening ? null : task.completedAt,
  });
  const fields = HISTORY_FIELDS.filter(
    (field) => changed.includes(field) || (field === "completed_at" && move.reopening),
  );
  const action = move.completing
    ? "completed"
    : changed.length === 1 && changed[0] === "status"
      ? "status_changed"
      : "updated";
  return {
    action,
    changes: fieldChanges(before, after, fields),
    changesInSql: move.completing ? completedAtSetByDatabase(task.id, before.completed_at) : undefined,
  };
}

/**
 * PUT and PATCH. Only fields that change are checked against the caller's rights. Round trip 1
 * reads the task, the named assignees and the named department; round trip 2 (only when something
 * changes) re-checks and writes assignees, the task and the completion mail.
 */
export async function updateTask(
  db: Db,
  caller: Caller,
  id: number,
  input: TaskInput,
  ifMatch?: string,
): Promise<WriteResult<TaskResponse>> {
  const named = [...new Set(input.assignees ?? [])];
  const newDepartment = input.department ?? null;
  return withRetries(async () => {
    const [found, active, department] = await db.batch([
      taskQuery(db, id),
      activeUsersQuery(db, named),
      departmentQuery(db, newDepartment),
    ]);
    const task = found[0];
    if (!task) throw ApiError.notFound("Task");
    const changed = changedFields(task, input);
    assertCanUpdate(caller, facts(task), changed);
    await assertTaskVersion(task, ifMatch);
    if (changed.length === 0) {
      return { value: toTaskResponse(task), emailIds: [], notifications: [], deliveryIds: [], affectedUserIds: [] };
    }

    let add: number[] = [];
    let remove: number[] = [];
    if (changed.includes("assignees") && input.assignees) {
      const next = new Set(input.assignees);
      add = [...next].filter((userId) => !task.assigneeIds.includes(userId));
      remove = task.assigneeIds.filter((userId) => !next.has(userId));
      assertCanAssign(caller, facts(task), [...add, ...remove]);
      assertUsersExist(add, active, "assignees");
    }
    const departmentChanges = changed.includes("department");
    if (departmentChanges) assertDepartmentExists(newDepartment, department);

    const completing = input.status === "done" && task.status !== "done";
    const reopening = input.status !== undefined && input.status !== "done" && task.status === "done";
    const title = input.title ?? task.title;
    const event = updateEvent(task, input, changed, { completing, reopening });
    // `task.updated` for a change to the task's own fields, and besides it the events of what the
    // change also did: completing it, adding or removing assignees.
    const events: EventSpec[] = [];
    if (changed.some((field) => field !== "assignees")) {
      events.push({ event: "task.updated", data: taskEventData(id, caller.id, { changes: event.changes }) });
    }
    if (completing) events.push({ event: "task.completed", data: taskEventData(id, caller.id) });
    if (add.length > 0) {
      events.push({ event: "task.assigned", data: taskEventData(id, caller.id, { assignees: sorted(add) }) });
    }
    if (remove.length > 0) {
      events.push({ event: "task.unassigned", data: taskEventData(id, caller.id, { assignees: sorted(remove) }) });
    }
    const [, assigned, updated, completedMail, audience, hooks] = await db.batch([
      assertTaskUnchanged(db, id, task.version, {
        also: sql`${departmentExists(departmentChanges ? newDepartment : null)} and ${allActiveUsers(add)}`,
      }),
      changeAssigneesStatement(db, {
        taskId: id,
        callerId: caller.id,
        add,
        remove,
        mail: { taskId: id, title: task.title, assignedByName: caller.fullName || "A colleague" },
      }),
      db
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
        .returning(TASK_RECORD),
      completing ? completionEmailStatement(db, id, title) : nothing<OutboxRow & Record<string, unknown>>(db),
      affectedUsers(db, id, facts(task)),
      webhookStatement(db, events),
      recordEvent(db, { taskId: id, actorId: caller.id, ...event }),
    ]);
    const row = updated[0];
    if (!row) throw new FactsChanged();
    return {
      value: toTaskResponse(row),
      ...mergeRecorded(assignedOutbox(assigned), recordedOf(completedMail)),
      deliveryIds: ids(hooks),
      affectedUserIds: firstRow(audience).ids ?? [],
    };
  });
}

export async function deleteTask(db: Db, caller: Actor, id: number, ifMatch?: string): Promise<WriteResult<null>> {
  return withRetries(async () => {
    const task = await loadTask(db, id);
    assertCanDelete(caller, facts(task));
    await assertTaskVersion(task, ifMatch);
    const [, , audience, hooks] = await db.batch([
      assertTaskUnchanged(db, id, task.version),
      db
        .update(tasks)
        .set({ deletedAt: sql`clock_timestamp()`, updatedAt: sql`clock_timestamp()` })
        .where(eq(tasks.id, id)),
      affectedUsers(db, id, facts(task)),
      webhookStatement(db, [{ event: "task.deleted", data: taskEventData(id, caller.id) }]),
      recordEvent(db, { taskId: id, actorId: caller.id, action: "deleted", changes: {} }),
    ]);
    return {
      value: null,
      emailIds: [],
      notifications: [],
      deliveryIds: ids(hooks),
      affectedUserIds: firstRow(audience).ids ?? [],
    };
  });
}

/**
 * Idempotent: the first call sets `completed_at` and emails creator and assignees; later calls
 * return the same `completed_at` and send nothing. Concurrent calls agree: the batch of every call
 * but the first finds the task changed, and its second attempt reads it done.
 */
export async function completeTask(
  db: Db,
  caller: Actor,
  id: number,
): Promise<WriteResult<{ status: "done"; completed_at: string }>> {
  return withRetries(async () => {
    const task = await loadTask(db, id);
    assertCanComplete(caller, facts(task));
    if (task.status === "done" && task.completedAt) {
      return {
        value: { status: "done", completed_at: task.completedAt.toISOString() },
        emailIds: [],
        notifications: [],
        deliveryIds: [],
        affectedUserIds: [],
      };
    }
    const [, updated, completedMail, audience, hooks] = await db.batch([
      assertTaskUnchanged(db, id, task.version),
      db
        .update(tasks)
        .set({ status: "done", completedAt: sql`clock_timestamp()`, updatedAt: sql`clock_timestamp()` })
        .where(eq(tasks.id, id))
        .returning({ completedAt: tasks.completedAt }),
      completionEmailStatement(db, id, task.title),
      affectedUsers(db, id, facts(task)),
      webhookStatement(db, [{ event: "task.completed", data: taskEventData(id, caller.id) }]),
      recordEvent(db, {
        taskId: id,
        actorId: caller.id,
        action: "completed",
        changes: fieldChanges({ status: task.status }, { status: "done" }, ["status"]),
        changesInSql: completedAtSetByDatabase(id, task.completedAt?.toISOString() ?? null),
      }),
    ]);
    const completedAt = updated[0]?.completedAt;
    if (!completedAt) throw new FactsChanged();
    return {
      value: { status: "done", completed_at: completedAt.toISOString() },
      ...recordedOf(completedMail),
      deliveryIds: ids(hooks),
      affectedUserIds: firstRow(audience).ids ?? [],
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
  return withRetries(async () => {
    const [found, active] = await db.batch([taskQuery(db, id), activeUsersQuery(db, unique)]);
    const task = found[0];
    if (!task) throw ApiError.notFound("Task");
    assertCanAssign(caller, facts(task), unique);
    assertUsersExist(unique, active, "assignees");
    const before = [...task.assigneeIds].sort((a, b) => a - b);
    const after =
      action === "assign"
        ? [...new Set([...before, ...unique])].sort((a, b) => a - b)
        : before.filter((userId) => !unique.includes(userId));
    const changes = fieldChanges({ assignees: before }, { assignees: after }, ["assignees"]);
    // Only users actually added or removed (the batch re-checks the assignees read here under the lock).
    const moved =
      action === "assign"
        ? after.filter((userId) => !before.includes(userId))
        : before.filter((userId) => !after.includes(userId));
    const events: EventSpec[] =
      moved.length === 0
        ? []
        : [
            {
              event: action === "assign" ? "task.assigned" : "task.unassigned",
              data: taskEventData(id, caller.id, { assignees: moved }),
            },
          ];
    const [, assigned, updated, audience, hooks] = await db.batch([
      assertTaskUnchanged(db, id, task.version, { also: allActiveUsers(unique) }),
      changeAssigneesStatement(db, {
        taskId: id,
        callerId: caller.id,
        add: action === "assign" ? unique : [],
        remove: action === "assign" ? [] : unique,
        mail: { taskId: id, title: task.title, assignedByName: caller.fullName || "A colleague" },
      }),
      db
        .update(tasks)
        .set({ updatedAt: sql`clock_timestamp()`, ...(action === "assign" ? { assignedById: caller.id } : {}) })
        .where(eq(tasks.id, id))
        .returning({ assigneeIds: ASSIGNEE_IDS }),
      affectedUsers(db, id, facts(task)),
      webhookStatement(db, events),
      // Naming users already (or not) assigned changes nothing, and history records only changes.
      Object.keys(changes).length > 0
        ? recordEvent(db, {
            taskId: id,
            actorId: caller.id,
            action: action === "assign" ? "assigned" : "unassigned",
            changes,
          })
        : nothing(db),
    ]);
    const row = updated[0];
    if (!row) throw new FactsChanged();
    return {
      value: [...row.assigneeIds].sort((a, b) => a - b),
      ...assignedOutbox(assigned),
      deliveryIds: ids(hooks),
      affectedUserIds: firstRow(audience).ids ?? [],
    };
  });
}

/**
 * The assignment audit trail: CEO and HR see every record; a manager the records naming them (as
 * assignee or assigner) and those of their department's tasks; an employee only the records naming
 * them. Deleted tasks' records are gone too. One round trip.
 */
export async function listAssignments(
  db: Db,
  user: Actor,
  filters: { task?: number; user?: number },
  page: PageParams,
): Promise<Listing<AssignmentRow>> {
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
  const [total, rows] = await db.batch([
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
      .orderBy(...newestFirst(taskAssignments))
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
