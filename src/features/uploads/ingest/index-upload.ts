/**
 * Builds a completed upload's query indexes, then records that they are ready; a deleted or
 * re-ingested upload is left alone. Indexes are built after the load because maintaining them
 * during a bulk insert makes it several times slower.
 *
 * What is indexed, values only:
 * - one B-tree per column on `(value, row_number)`, exactly the expression the queries use (the
 *   value in its column's type, or a jsonb scalar for older uploads: row-layout.ts), serving
 *   equality, ranges, sorting and keyset pagination: except free-text columns (strings averaging
 *   more than `FREE_TEXT_CHARS` characters), whose B-tree would be as large as the column and serve
 *   nothing the trigram index does not (`contains` and search);
 * - the trigram GIN index over the row's array text, which holds the values and no key names,
 *   narrowing search and `contains`: in parts by row-number range, built side by side
 *   (search-index.ts says why).
 * The B-trees are packed full (fillfactor 100, a tenth smaller than the default 90): they are built
 * once the upload has completed, and no row is added to a completed upload, so no page ever needs
 * the room a page split would otherwise be spared by.
 * The statements themselves are in index-statements.ts.
 * `VACUUM (ANALYZE)` then gives the planner statistics (those on the searched text included) and
 * sets the visibility map, so a walk over row numbers (a later page's offset) is answered from the
 * primary key alone (Postgres 17 answers no expression index's query index-only). Until
 * `indexes_ready_at` is set, queries are correct but scan the upload's partition.
 */
import { and, eq, isNull, type SQL, sql } from "drizzle-orm";
import type { PoolDb } from "../../../platform/db/client.ts";
import { csvUploads, type UploadColumn } from "../../../platform/db/schema.ts";
import { freeTextFrom, freeTextQuery, rowIndexStatements, type UploadToIndex } from "./index-statements.ts";
import { partitionName } from "./partition-name.ts";
import { BUILT_INDEX_KEYS } from "./row-layout.ts";

/** The positions of string columns whose sampled values average more than `FREE_TEXT_CHARS` characters. */
export async function freeTextPositions(db: PoolDb, uploadId: string, columns: UploadColumn[]): Promise<Set<number>> {
  const query = freeTextQuery(uploadId, columns);
  if (!query) return new Set();
  return freeTextFrom((await db.execute<{ position: number; width: string | null }>(query)).rows);
}

/**
 * Build memory of one upload's indexes, in MB: this much for the column B-trees (built one after
 * another), and this much for the trigram index, shared by its parts, which build at the same time.
 * A whole trigram index over a million rows built in 64 MB (Postgres's default) took several times
 * longer; each half of it builds as fast in 128 MB as in 256 MB.
 */
const BUILD_MEMORY_MB = 256;

/** Runs index statements one after another, each in a transaction that sets its build memory. */
async function buildInTurn(db: PoolDb, statements: SQL[], memoryMb: number): Promise<void> {
  for (const statement of statements) {
    await db.transaction(async (tx) => {
      await tx.execute(sql.raw(`set local maintenance_work_mem = '${Math.floor(memoryMb)}MB'`));
      await tx.execute(statement);
    });
  }
}

/**
 * Each part of the trigram index (the longest builds) runs on its own connection, beside the
 * B-trees on another, so the indexes are ready after the longest of them rather than their sum.
 */
export async function buildRowIndexes(db: PoolDb, upload: UploadToIndex): Promise<void> {
  const freeText = await freeTextPositions(db, upload.id, upload.columns);
  const { btrees, searchParts, searchStatistics } = rowIndexStatements(upload, freeText);
  const partMemory = BUILD_MEMORY_MB / searchParts.length;
  await Promise.all([
    ...searchParts.map((part) => buildInTurn(db, [part], partMemory)),
    buildInTurn(db, btrees, BUILD_MEMORY_MB),
  ]);
  // Gathered by the ANALYZE below.
  for (const statement of searchStatistics) await db.execute(statement);
  await db.execute(sql`vacuum (analyze) ${sql.identifier(partitionName(upload.id))}`);
}

/**
 * Builds a completed upload's indexes and records, with the time, what its B-trees hold. An upload
 * whose indexes are ready already (a message delivered again) is left as it is, whatever keys an
 * earlier version gave its B-trees: its queries follow what it records.
 */
export async function indexUpload(db: PoolDb, uploadId: string): Promise<void> {
  const [upload] = await db
    .select({ id: csvUploads.id, records: csvUploads.processedRows, columns: csvUploads.columns })
    .from(csvUploads)
    .where(and(eq(csvUploads.id, uploadId), eq(csvUploads.status, "completed"), isNull(csvUploads.indexesReadyAt)));
  if (!upload) return;
  await buildRowIndexes(db, { ...upload, indexKeys: BUILT_INDEX_KEYS });
  await db
    .update(csvUploads)
    .set({ indexesReadyAt: new Date(), indexKeys: BUILT_INDEX_KEYS, updatedAt: new Date() })
    .where(and(eq(csvUploads.id, uploadId), eq(csvUploads.status, "completed")));
}
