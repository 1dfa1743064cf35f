/**
 * Assignments: `/assign/` and `/unassign/` (a write of the task's assignees, in the two round trips
 * of `write-batch.ts`), and the assignment audit trail.
 */
import { and, count, eq, isNull, or, type SQL, sql } from "drizzle-orm";
import type { Db } from "../../platform/db/client.ts";
import { taskAssignments, tasks } from "../../platform/db/schema.ts";
import { type Listing, newestFirst, type PageParams, pageWindow } from "../../platform/http/pagination.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { type EventSpec, taskEventData } from "../webhooks/outbox.ts";
import { fieldChanges, recordEvent } from "./history.ts";
import { ASSIGNEE_IDS, facts, taskQuery } from "./task-record.ts";
import { type Actor, assertCanAssign } from "./tasks.policy.ts";
import {
  activeUsersQuery,
  affectedUsers,
  allActiveUsers,
  assertTaskUnchanged,
  assertUsersExist,
  assignedOutbox,
  type Caller,
  changeAssigneesStatement,
  FactsChanged,
  firstRow,
  nothing,
  returnedIds,
  type WriteResult,
  webhookStatement,
  withRetries,
} from "./write-batch.ts";

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
      deliveryIds: returnedIds(hooks),
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
