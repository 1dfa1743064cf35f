/**
 * Listing tasks: the caller's visible tasks, filtered and ordered, one page and its count in one
 * round trip (`db.batch`).
 */
import { and, asc, desc, eq, gt, ilike, lt, ne, or, type SQL, sql } from "drizzle-orm";
import type { Db } from "../../platform/db/client.ts";
import { type TaskPriority, tasks } from "../../platform/db/schema.ts";
import { countedPage, countOf, type Listing, type PageParams } from "../../platform/http/pagination.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { TASK_RECORD, toTaskResponse } from "./task-record.ts";
import { type Actor, visibleTasks } from "./tasks.policy.ts";
import type { TaskListQuery, TaskResponse } from "./tasks.schemas.ts";

const PRIORITY_RANK = sql<number>`case ${tasks.priority} when 'low' then 1 when 'medium' then 2 when 'high' then 3 when 'critical' then 4 end`;

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
