/**
 * One task as every read and write sees it: its row, its assignees (a correlated subquery, so no
 * second round trip) and its row version, and the answer a client gets for it.
 */
import { and, eq, getTableColumns, isNull, type SQL, sql } from "drizzle-orm";
import type { Db } from "../../platform/db/client.ts";
import { tasks } from "../../platform/db/schema.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { type Actor, assertCanRead, type TaskFacts } from "./tasks.policy.ts";
import type { TaskResponse } from "./tasks.schemas.ts";

export type TaskRow = typeof tasks.$inferSelect;
export interface TaskRecord extends TaskRow {
  assigneeIds: number[];
  /** The row version (`xmin`) the record was read at; a write batch re-checks it. */
  version: string;
}

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
export const ASSIGNEE_IDS: SQL<number[]> =
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
