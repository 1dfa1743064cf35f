/** Reading a task's history (`history.ts` writes it). */
import { desc, eq } from "drizzle-orm";
import type { Db } from "../../platform/db/client.ts";
import { type TaskChanges, type TaskEventAction, taskEvents } from "../../platform/db/schema.ts";
import { countedPage, countOf, type Listing, type PageParams } from "../../platform/http/pagination.ts";
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
): Promise<Listing<TaskEventResponse>> {
  const where = eq(taskEvents.taskId, taskId);
  const select = db.select().from(taskEvents).$dynamic();
  const listing = countedPage(db, taskEvents, where, select, [desc(taskEvents.id)], page);
  const [total, rows] = await readTaskRows(db, user, taskId, listing);
  return {
    count: countOf(total),
    results: rows.map((row) => ({
      id: row.id,
      actor: row.actorId,
      action: row.action,
      changes: row.changes,
      created_at: row.createdAt.toISOString(),
    })),
  };
}
