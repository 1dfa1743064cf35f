/**
 * Task writes: creation, updates, soft delete and completion. Rights come from `tasks.policy.ts`;
 * reading one task is `task-record.ts`, listing `task-list.ts`, assignments `assignments.service.ts`.
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
import { eq, sql } from "drizzle-orm";
import { entityTag, ifMatchHolds, preconditionFailed } from "../../platform/cache/conditional.ts";
import type { Db } from "../../platform/db/client.ts";
import { insertedRow } from "../../platform/db/rows.ts";
import { departments, tasks } from "../../platform/db/schema.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { mergeRecorded, type OutboxRow, recordEmailSql, recordedOf } from "../email/outbox.ts";
import { type EventSpec, taskEventData } from "../webhooks/outbox.ts";
import {
  completedAtSetByDatabase,
  fieldChanges,
  HISTORY_FIELDS,
  isoText,
  recordEvent,
  type TaskEvent,
} from "./history.ts";
import { facts, loadTask, TASK_RECORD, type TaskRecord, taskQuery, toTaskResponse } from "./task-record.ts";
import {
  type Actor,
  assertCanAssign,
  assertCanComplete,
  assertCanDelete,
  assertCanUpdate,
  assertMayAssignUsers,
} from "./tasks.policy.ts";
import type { TaskInput, TaskResponse } from "./tasks.schemas.ts";
import {
  activeUsersQuery,
  affectedUsers,
  allActiveUsers,
  assertTaskUnchanged,
  assertUsersExist,
  assignedOutbox,
  type Caller,
  changeAssigneesStatement,
  departmentExists,
  FactsChanged,
  firstRow,
  nothing,
  returnedIds,
  type WriteResult,
  webhookStatement,
  withRetries,
} from "./write-batch.ts";

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

/** A department, as a query a `db.batch` can hold (no row: no such department, or none named). */
function departmentQuery(db: Db, departmentId: number | null) {
  return db
    .select({ id: departments.id })
    .from(departments)
    .where(departmentId === null ? sql`false` : eq(departments.id, departmentId));
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
      deliveryIds: returnedIds(hooks),
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
      deliveryIds: returnedIds(hooks),
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
      deliveryIds: returnedIds(hooks),
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
      deliveryIds: returnedIds(hooks),
      affectedUserIds: firstRow(audience).ids ?? [],
    };
  });
}
