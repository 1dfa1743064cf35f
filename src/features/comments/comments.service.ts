/**
 * Comments on tasks. Rights come from the task policy: readers may comment; author, HR or CEO delete.
 *
 * One round trip per read (the task, the count and the page in one batch); two per write: read the
 * task (and the comment), decide, then one batch whose first statement re-checks under a share
 * lock that the task is still the version the decision was made on (`write-batch.ts`).
 *
 * No cache version is replaced after a comment write: comment lists are not cached, and no cached
 * answer (task list, task detail, reports) contains anything about comments.
 */
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../../platform/db/client.ts";
import { insertedRow } from "../../platform/db/rows.ts";
import { taskComments, tasks } from "../../platform/db/schema.ts";
import { countedPage, countOf, type Listing, oldestFirst, type PageParams } from "../../platform/http/pagination.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { recordInserted } from "../tasks/history.ts";
import { facts, TASK_RECORD, taskQuery } from "../tasks/task-record.ts";
import { readTaskRows } from "../tasks/task-rows.ts";
import { type Actor, assertCanComment, assertCanDeleteComment } from "../tasks/tasks.policy.ts";
import { assertTaskUnchanged, withRetries } from "../tasks/write-batch.ts";

export interface CommentResponse {
  id: number;
  task: number;
  author: number;
  content: string;
  created_at: string;
}

type CommentRow = typeof taskComments.$inferSelect;

const toResponse = (row: CommentRow): CommentResponse => ({
  id: row.id,
  task: row.taskId,
  author: row.authorId,
  content: row.content,
  created_at: row.createdAt.toISOString(),
});

export async function listComments(
  db: Db,
  user: Actor,
  taskId: number,
  page: PageParams,
): Promise<Listing<CommentResponse>> {
  const where = eq(taskComments.taskId, taskId);
  const select = db.select().from(taskComments).$dynamic();
  const listing = countedPage(db, taskComments, where, select, oldestFirst(taskComments), page);
  const [total, rows] = await readTaskRows(db, user, taskId, listing);
  return { count: countOf(total), results: rows.map(toResponse) };
}

export async function addComment(db: Db, user: Actor, taskId: number, content: string): Promise<CommentResponse> {
  return withRetries(async () => {
    const [task] = await taskQuery(db, taskId);
    if (!task) throw ApiError.notFound("Task");
    assertCanComment(user, facts(task));
    const [, inserted] = await db.batch([
      assertTaskUnchanged(db, taskId, task.version, { lock: "share" }),
      db.insert(taskComments).values({ taskId, authorId: user.id, content }).returning(),
      recordInserted(db, "comment", taskId, user.id),
    ]);
    return toResponse(insertedRow(inserted));
  });
}

/** Deletes a comment; a comment on a deleted or invisible task is 404. */
export async function deleteComment(db: Db, user: Actor, commentId: number): Promise<void> {
  await withRetries(async () => {
    const [found] = await db
      .select({
        authorId: taskComments.authorId,
        task: TASK_RECORD,
      })
      .from(taskComments)
      .innerJoin(tasks, eq(tasks.id, taskComments.taskId))
      .where(and(eq(taskComments.id, commentId), isNull(tasks.deletedAt)));
    if (!found) throw ApiError.notFound("Comment");
    try {
      assertCanDeleteComment(user, facts(found.task), found.authorId);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) throw ApiError.notFound("Comment");
      throw error;
    }
    // A comment deleted by someone else in the meantime is gone either way, as the caller wanted.
    await db.batch([
      assertTaskUnchanged(db, found.task.id, found.task.version, { lock: "share" }),
      db.delete(taskComments).where(eq(taskComments.id, commentId)),
    ]);
  });
}
