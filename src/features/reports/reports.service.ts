/**
 * Report queries over the tasks a user can see (the same predicate as the task list, from
 * `tasks.policy.ts`). Rows come back as plain values; formatting (CSV or JSON) is the route's job.
 */
import { and, asc, count, eq, isNotNull, lt, ne, sql } from "drizzle-orm";
import type { Db } from "../../platform/db/client.ts";
import { taskAssignees, tasks } from "../../platform/db/schema.ts";
import { type Actor, visibleTasks } from "../tasks/tasks.policy.ts";

export interface StatusCounts {
  total_tasks: number;
  completed_tasks: number;
  incomplete_tasks: number;
}

export async function statusCounts(db: Db, user: Actor): Promise<StatusCounts> {
  const [row] = await db
    .select({ total: count(), done: sql<number>`count(*) filter (where ${tasks.status} = 'done')::int` })
    .from(tasks)
    .where(visibleTasks(user));
  const total = row?.total ?? 0;
  const done = row?.done ?? 0;
  return { total_tasks: total, completed_tasks: done, incomplete_tasks: total - done };
}

export interface OverdueRow {
  id: number;
  title: string;
  due_date: string;
  days_overdue: number;
  assignees: number[];
}

const DAY_MS = 86_400_000;

/**
 * Visible tasks past due and not done, most overdue first; `days_overdue` in whole days, rounded
 * down. One statement, the assignees gathered per row, so an uncached report is one round trip.
 */
export async function overdueTasks(db: Db, user: Actor, now = new Date()): Promise<OverdueRow[]> {
  const rows = await db
    .select({
      id: tasks.id,
      title: tasks.title,
      dueDate: tasks.dueDate,
      assignees: sql<number[]>`coalesce((
        select json_agg(${taskAssignees.userId} order by ${taskAssignees.userId}) from ${taskAssignees}
        where ${taskAssignees.taskId} = ${tasks.id}
      ), '[]'::json)`,
    })
    .from(tasks)
    .where(and(visibleTasks(user), isNotNull(tasks.dueDate), lt(tasks.dueDate, now), ne(tasks.status, "done")))
    .orderBy(asc(tasks.dueDate), asc(tasks.id))
    .limit(10_000);
  return rows.map((row) => {
    const due = row.dueDate ?? now;
    return {
      id: row.id,
      title: row.title,
      due_date: due.toISOString(),
      days_overdue: Math.floor((now.getTime() - due.getTime()) / DAY_MS),
      assignees: row.assignees,
    };
  });
}

export interface DayCount {
  date: string;
  count: number;
}

/**
 * One row per UTC day from `from` to `to` inclusive, zero-filled: tasks completed (by
 * `completed_at`) or opened (by `created_at`) that day, among the visible ones.
 */
export async function countsPerDay(
  db: Db,
  user: Actor,
  kind: "completed" | "opened",
  from: string,
  to: string,
): Promise<DayCount[]> {
  const column = kind === "completed" ? tasks.completedAt : tasks.createdAt;
  const day = sql<string>`to_char((${column} at time zone 'UTC')::date, 'YYYY-MM-DD')`;
  const start = new Date(`${from}T00:00:00Z`);
  const end = new Date(new Date(`${to}T00:00:00Z`).getTime() + DAY_MS);
  const counted = await db
    .select({ day, n: count() })
    .from(tasks)
    .where(
      and(
        visibleTasks(user),
        isNotNull(column),
        sql`${column} >= ${start.toISOString()}`,
        sql`${column} < ${end.toISOString()}`,
        kind === "completed" ? eq(tasks.status, "done") : undefined,
      ),
    )
    .groupBy(day);
  const byDay = new Map(counted.map((row) => [row.day, row.n]));
  const result: DayCount[] = [];
  for (let t = start.getTime(); t < end.getTime(); t += DAY_MS) {
    const date = new Date(t).toISOString().slice(0, 10);
    result.push({ date, count: byDay.get(date) ?? 0 });
  }
  return result;
}
