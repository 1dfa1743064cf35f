/**
 * Re-enqueues index builds that never finished. A build runs in a queue consumer and can be cut
 * off (an eviction, a deploy) after its message was handed out; `CREATE INDEX IF NOT EXISTS` makes a
 * second build harmless, so a periodic sweep over recently completed uploads that lack indexes
 * repairs them.
 */
import { sql } from "drizzle-orm";
import type { PoolDb } from "../db/client.ts";
import type { UploadColumn } from "../db/schema.ts";
import { rowIndexStatements } from "./csv-data.indexes.ts";

interface Candidate extends Record<string, unknown> {
  id: string;
  columns: UploadColumn[];
  indexes: string | number;
}

/** Upload ids whose partition has fewer indexes than its columns call for. */
export async function uploadsMissingIndexes(db: PoolDb, limit = 20): Promise<string[]> {
  const result = await db.execute<Candidate>(sql`
    select u.id, u.columns,
      (select count(*) from pg_indexes i where i.tablename = 'csv_rows_' || replace(u.id::text, '-', '')) as indexes
    from csv_uploads u
    where u.status = 'completed' and u.completed_at > now() - interval '7 days'
      and u.completed_at < now() - interval '2 minutes'
    order by u.completed_at desc
    limit 200`);
  return result.rows
    .filter((upload) => {
      // The partition's primary key plus every index the builder creates.
      const expected = 1 + rowIndexStatements(upload.id, upload.columns).length;
      return Number(upload.indexes) < expected;
    })
    .slice(0, limit)
    .map((upload) => upload.id);
}

export async function sweepMissingIndexes(db: PoolDb, queue: Queue): Promise<number> {
  const ids = await uploadsMissingIndexes(db);
  if (ids.length > 0) await queue.sendBatch(ids.map((uploadId) => ({ body: { kind: "index", uploadId } })));
  return ids.length;
}
