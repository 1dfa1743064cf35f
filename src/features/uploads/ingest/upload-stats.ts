/**
 * The upload's column statistics, merged from its committed chunks' partials when it completes.
 * Columns are merged a group at a time and chunks read a page at a time by index, so the memory
 * held is bounded whatever the upload's size and width. A chunk committed without partials
 * (before statistics existed) or with partials that do not fit the columns gives no statistics
 * (null) rather than partial ones.
 */
import { and, asc, eq, gt, isNotNull, sql } from "drizzle-orm";
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

/**
 * Columns merged together. The merge holds one merged sketch per column of the group (at most
 * 128 KB each, an exact table of 16,384 hashes) and one page of the group's partials, so its memory
 * does not grow with the number of columns: merging all 500 columns of a wide upload at once held
 * several hundred megabytes, past a Worker's 128 MB.
 */
const GROUP_COLUMNS = 32;
/**
 * Partials (a chunk's, of one column) read per query: a partial is at most about 110 KB (10,000
 * hashes, or registers), typically a tenth of that. A page holds `PAGE_PARTIALS / group` chunks.
 */
const PAGE_PARTIALS = 160;

/**
 * Merges the columns group by group (GROUP_COLUMNS), each group's partials read a page of chunks at
 * a time; a chunk whose partials are missing or do not fit the columns gives no statistics.
 */
export async function mergedColumnStats(
  db: Queryable,
  uploadId: string,
  columns: readonly UploadColumn[],
): Promise<UploadColumnStats[] | null> {
  const merged: UploadColumnStats[] = [];
  for (let from = 0; from < columns.length; from += GROUP_COLUMNS) {
    const group = await mergedGroup(db, uploadId, columns.length, from, columns.slice(from, from + GROUP_COLUMNS));
    if (!group) return null;
    merged.push(...group);
  }
  return merged;
}

/** The statistics of `group`, the upload's columns from position `from` on, of the `width` it has in all. */
async function mergedGroup(
  db: Queryable,
  uploadId: string,
  width: number,
  from: number,
  group: readonly UploadColumn[],
): Promise<UploadColumnStats[] | null> {
  const merger = new StatsMerger(group);
  const pageChunks = Math.max(1, Math.floor(PAGE_PARTIALS / group.length));
  // The group's slice of each chunk's array of partials, and the array's length, which must be the
  // upload's column count (a slice alone cannot tell a longer array from a fitting one).
  const slice = `$[${from} to ${from + group.length - 1}]`;
  const stats = csvUploadChunks.stats;
  let after = -1;
  for (;;) {
    const page = await db
      .select({
        index: csvUploadChunks.chunkIndex,
        width: sql<number | null>`case when jsonb_typeof(${stats}) = 'array' then jsonb_array_length(${stats}) end`,
        partials: sql<unknown>`jsonb_path_query_array(${stats}, ${slice}::jsonpath)`,
      })
      .from(csvUploadChunks)
      .where(
        and(
          eq(csvUploadChunks.uploadId, uploadId),
          isNotNull(csvUploadChunks.doneAt),
          gt(csvUploadChunks.chunkIndex, after),
        ),
      )
      .orderBy(asc(csvUploadChunks.chunkIndex))
      .limit(pageChunks);
    for (const chunk of page) {
      if (chunk.width !== width || !merger.add(chunk.partials)) return null;
    }
    const last = page.at(-1);
    if (!last || page.length < pageChunks) return merger.result();
    after = last.index;
  }
}
