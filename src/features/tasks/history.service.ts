/** Reading a task's history (`history.ts` writes it). */
import { count, desc, eq } from "drizzle-orm";
import type { Db } from "../../platform/db/client.ts";
import { type TaskChanges, type TaskEventAction, taskEvents } from "../../platform/db/schema.ts";
import { type PageParams, pageWindow } from "../../platform/http/pagination.ts";
import { readTaskRows } from "./task-rows.ts";
import type { Actor } from "./tasks.policy.ts";

export interface TaskEventResponse {
  id: number;
  actor: number | null;
  action: TaskEventAction;
  changes: TaskChanges;
  created_at: string;
}

/**
 * A task's history, newest first, for whoever may read the task (404 otherwise, as for the task
 * itself, and once it is deleted). One round trip: the task, the count and the page in one batch.
 */
export async function listHistory(
  db: Db,
  user: Actor,
  taskId: number,
  page: PageParams,
): Promise<{ count: number; results: TaskEventResponse[] }> {
  const { limit, offset } = pageWindow(page);
  const where = eq(taskEvents.taskId, taskId);
  const [total, rows] = await readTaskRows(db, user, taskId, [
    db.select({ n: count() }).from(taskEvents).where(where),
    db.select().from(taskEvents).where(where).orderBy(desc(taskEvents.id)).limit(limit).offset(offset),
  ]);
  return {
    count: total[0]?.n ?? 0,
    results: rows.map((row) => ({
      id: row.id,
      actor: row.actorId,
      action: row.action,
      changes: row.changes,
      created_at: row.createdAt.toISOString(),
    })),
  };
}
