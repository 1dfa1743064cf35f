/** Comments on tasks. Rights come from the task policy: readers may comment; author, HR or CEO delete. */
import { and, asc, count, eq, isNull } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { taskComments, tasks } from "../db/schema.ts";
import { ApiError } from "../lib/errors.ts";
import { type PageParams, pageWindow } from "../lib/pagination.ts";
import { type Actor, assertCanComment, assertCanDeleteComment } from "../tasks/tasks.policy.ts";
import { facts, getTask, loadTask } from "../tasks/tasks.service.ts";

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
): Promise<{ count: number; results: CommentResponse[] }> {
  await getTask(db, user, taskId);
  const { limit, offset } = pageWindow(page);
  const where = eq(taskComments.taskId, taskId);
  const [total, rows] = await Promise.all([
    db.select({ n: count() }).from(taskComments).where(where),
    db
      .select()
      .from(taskComments)
      .where(where)
      .orderBy(asc(taskComments.createdAt), asc(taskComments.id))
      .limit(limit)
      .offset(offset),
  ]);
  return { count: total[0]?.n ?? 0, results: rows.map(toResponse) };
}

export async function addComment(db: Db, user: Actor, taskId: number, content: string): Promise<CommentResponse> {
  const task = await loadTask(db, taskId);
  assertCanComment(user, facts(task));
  const [row] = await db.insert(taskComments).values({ taskId, authorId: user.id, content }).returning();
  if (!row) throw new Error("insert returned no row");
  return toResponse(row);
}

/** Deletes a comment; a comment on a deleted or invisible task is 404. */
export async function deleteComment(db: Db, user: Actor, commentId: number): Promise<void> {
  const [row] = await db
    .select({ taskId: taskComments.taskId, authorId: taskComments.authorId })
    .from(taskComments)
    .innerJoin(tasks, eq(tasks.id, taskComments.taskId))
    .where(and(eq(taskComments.id, commentId), isNull(tasks.deletedAt)));
  if (!row) throw ApiError.notFound("Comment");
  const task = await loadTask(db, row.taskId).catch(() => {
    throw ApiError.notFound("Comment");
  });
  try {
    assertCanDeleteComment(user, facts(task), row.authorId);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) throw ApiError.notFound("Comment");
    throw error;
  }
  await db.delete(taskComments).where(eq(taskComments.id, commentId));
}
