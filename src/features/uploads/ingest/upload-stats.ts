/**
 * The upload's column statistics, merged from its committed chunks' partials when it completes.
 * The chunks are read a page at a time by index, so the memory held is one page of partials plus
 * one merged sketch per column, whatever the upload's size. A chunk committed without partials
 * (before statistics existed) or with partials that do not fit the columns gives no statistics
 * (null) rather than partial ones.
 */
import { and, asc, eq, gt, isNotNull } from "drizzle-orm";
import type { Queryable, Tx } from "../../../platform/db/client.ts";
import { csvUploadChunks, csvUploads, type UploadColumn, type UploadColumnStats } from "../../../platform/db/schema.ts";
import { StatsMerger } from "./column-stats.ts";

/**
 * Merges and stores the statistics of an upload the caller has just settled `completed`, in the
 * caller's transaction (the outcome's), so they are written once and with the final counts. The
 * chunks' partials are cleared in the same transaction: a high-cardinality column's sketch is
 * some 90 KB a chunk, and a settled upload never merges again.
 */
export async function recordColumnStats(tx: Tx, uploadId: string, columns: readonly UploadColumn[]): Promise<void> {
  const columnStats = await mergedColumnStats(tx, uploadId, columns);
  await tx.update(csvUploads).set({ columnStats }).where(eq(csvUploads.id, uploadId));
  await tx.update(csvUploadChunks).set({ stats: null }).where(eq(csvUploadChunks.uploadId, uploadId));
}

/** Chunks read per query: a chunk's partials are at most some 100 KB a column. */
const PAGE = 32;

export async function mergedColumnStats(
  db: Queryable,
  uploadId: string,
  columns: readonly UploadColumn[],
): Promise<UploadColumnStats[] | null> {
  const merger = new StatsMerger(columns);
  let after = -1;
  for (;;) {
    const page = await db
      .select({ index: csvUploadChunks.chunkIndex, stats: csvUploadChunks.stats })
      .from(csvUploadChunks)
      .where(
        and(
          eq(csvUploadChunks.uploadId, uploadId),
          isNotNull(csvUploadChunks.doneAt),
          gt(csvUploadChunks.chunkIndex, after),
        ),
      )
      .orderBy(asc(csvUploadChunks.chunkIndex))
      .limit(PAGE);
    for (const chunk of page) if (!merger.add(chunk.stats)) return null;
    const last = page.at(-1);
    if (!last || page.length < PAGE) return merger.result();
    after = last.index;
  }
}
