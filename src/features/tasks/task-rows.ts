/**
 * Reads of a task's own rows (its comments, attachments, history): one round trip, the task
 * batched ahead of them, and a 404 unless the caller may read the task (as for the task itself,
 * and once it is deleted).
 */
import type { BatchItem, BatchResponse } from "drizzle-orm/batch";
import type { Db } from "../../platform/db/client.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { facts, taskQuery } from "./task-record.ts";
import { type Actor, assertCanRead } from "./tasks.policy.ts";

/** Runs `queries` in one batch behind the task's read and answers their results, in order. */
export async function readTaskRows<const Q extends readonly [BatchItem<"pg">, ...BatchItem<"pg">[]]>(
  db: Db,
  user: Actor,
  taskId: number,
  queries: Q,
): Promise<BatchResponse<Q>> {
  const [found, ...results] = await db.batch([taskQuery(db, taskId), ...queries]);
  const task = found[0];
  if (!task) throw ApiError.notFound("Task");
  assertCanRead(user, facts(task));
  return results;
}
