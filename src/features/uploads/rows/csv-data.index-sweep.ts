/**
 * Re-enqueues index builds that never finished. A build runs in a queue consumer and can be cut
 * off (an eviction, a deploy) after its message was handed out; `CREATE INDEX IF NOT EXISTS` makes a
 * second build harmless, so a periodic sweep over recently completed uploads whose indexes were
 * never recorded ready repairs them.
 */
import { and, desc, gt, isNull, lt, sql } from "drizzle-orm";
import type { PoolDb } from "../../../platform/db/client.ts";
import { csvUploads } from "../../../platform/db/schema.ts";

/** Completed uploads (older than two minutes, newer than a week) whose index build never finished. */
export async function uploadsMissingIndexes(db: PoolDb, limit = 20): Promise<string[]> {
  const rows = await db
    .select({ id: csvUploads.id })
    .from(csvUploads)
    .where(
      and(
        sql`${csvUploads.status} = 'completed'`,
        isNull(csvUploads.indexesReadyAt),
        gt(csvUploads.completedAt, sql`now() - interval '7 days'`),
        lt(csvUploads.completedAt, sql`now() - interval '2 minutes'`),
      ),
    )
    .orderBy(desc(csvUploads.completedAt))
    .limit(limit);
  return rows.map((upload) => upload.id);
}

export async function sweepMissingIndexes(db: PoolDb, queue: Queue): Promise<number> {
  const ids = await uploadsMissingIndexes(db);
  if (ids.length > 0) await queue.sendBatch(ids.map((uploadId) => ({ body: { kind: "index", uploadId } })));
  return ids.length;
}
