/**
 * What Postgres knows about an upload's finished chunks. Each report to the progress object
 * carries these totals, so the object's counts converge on the database's even when a report is
 * lost (a failed RPC after commit) or the object was reset: any later report brings it level.
 * They include the planned chunk count once the planner has committed it, so the object can settle
 * on any report, not only on the planner's own.
 */
import { and, eq, isNotNull, sql } from "drizzle-orm";
import type { Queryable } from "../../../platform/db/client.ts";
import { csvUploadChunks, csvUploads } from "../../../platform/db/schema.ts";
import type { ChunkTotals } from "../progress/progress-state.ts";

export async function doneChunkTotals(db: Queryable, uploadId: string): Promise<ChunkTotals> {
  const [totals] = await db
    .select({
      chunksDone: sql<string>`count(*)`,
      rows: sql<string>`coalesce(sum(${csvUploadChunks.rowsInserted}), 0)`,
      records: sql<string>`coalesce(sum(${csvUploadChunks.recordsRead}), 0)`,
      errorRows: sql<string>`coalesce(sum(${csvUploadChunks.errorRows}), 0)`,
      bytes: sql<string>`coalesce(sum(${csvUploadChunks.byteEnd} - ${csvUploadChunks.byteStart}), 0)`,
      chunksTotal: sql<
        number | null
      >`(select ${csvUploads.chunksTotal} from ${csvUploads} where ${csvUploads.id} = ${uploadId})`,
    })
    .from(csvUploadChunks)
    .where(and(eq(csvUploadChunks.uploadId, uploadId), isNotNull(csvUploadChunks.doneAt)));
  return {
    chunksDone: Number(totals?.chunksDone ?? 0),
    rows: Number(totals?.rows ?? 0),
    records: Number(totals?.records ?? 0),
    errorRows: Number(totals?.errorRows ?? 0),
    bytes: Number(totals?.bytes ?? 0),
    chunksTotal: totals?.chunksTotal === null || totals?.chunksTotal === undefined ? null : Number(totals.chunksTotal),
  };
}
