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
 * `VACUUM (ANALYZE)` then gives the planner statistics (those on the searched text included) and
 * sets the visibility map, so counts can be answered from the indexes alone. Until
 * `indexes_ready_at` is set, queries are correct but scan the upload's partition.
 */
import { and, eq, isNull, type SQL, sql } from "drizzle-orm";
import type { PoolDb } from "../../../platform/db/client.ts";
import { csvUploads, type UploadColumn } from "../../../platform/db/schema.ts";
import { partitionName } from "./partition-name.ts";
import { BUILT_INDEX_KEYS, columnKey, type IndexKeys } from "./row-layout.ts";
import { searchIndexPredicates } from "./search-index.ts";

/** Average characters above which a string column is free text and gets no B-tree. */
export const FREE_TEXT_CHARS = 64;
/**
 * A completed upload as its index build needs it: `records` (how many it read, its last row
 * number) bounds the search index's parts, and `indexKeys` says what its B-trees hold.
 */
export interface UploadToIndex {
  id: string;
  records: number;
  columns: UploadColumn[];
  indexKeys: IndexKeys;
}

/** Histogram entries of the statistics on the searched text (Postgres's default is 100). */
const SEARCH_STATISTICS_TARGET = 400;
/** Rows sampled to measure a column's average width: the first rows of the file, cheap to read. */
const WIDTH_SAMPLE_ROWS = 2000;

/** The positions of string columns whose sampled values average more than `FREE_TEXT_CHARS` characters. */
export async function freeTextPositions(db: PoolDb, uploadId: string, columns: UploadColumn[]): Promise<Set<number>> {
  const strings = columns.flatMap((column, position) => (column.type === "string" ? [position] : []));
  if (strings.length === 0) return new Set();
  const table = sql.identifier(partitionName(uploadId));
  const result = await db.execute<{ position: number; width: string | null }>(sql`
    select p.position, avg(length(s.data ->> p.position)) as width
    from (select data from ${table} order by row_number limit ${WIDTH_SAMPLE_ROWS}) as s,
      unnest(${`{${strings.join(",")}}`}::int[]) as p(position)
    group by p.position`);
  return new Set(
    result.rows.filter((row) => Number(row.width ?? 0) > FREE_TEXT_CHARS).map((row) => Number(row.position)),
  );
}

/**
 * The statements: the column B-trees, the trigram index's parts (search-index.ts), and statistics
 * on the text they index. The planner estimates how many rows a search matches from statistics on
 * the indexed expression, and takes them from an index only when the index is whole; without them
 * it guesses a few dozen rows for any term, and reads and sorts tens of thousands of matches
 * instead of stopping at the first page's. The estimate counts how many of the histogram's sampled
 * texts hold the term, so the histogram is four times Postgres's default: a term in 2 % of the rows
 * is then missed by every sample once in thousands of builds rather than once in seven (about 2 s
 * more of ANALYZE on a million rows).
 */
export function rowIndexStatements(
  upload: UploadToIndex,
  freeText: ReadonlySet<number> = new Set(),
): { btrees: SQL[]; searchParts: SQL[]; searchStatistics: SQL[] } {
  // partitionName checks the id is a UUID, so these names are safe identifiers.
  const partition = partitionName(upload.id);
  const hex = partition.slice("csv_rows_".length);
  const table = sql.identifier(partition);
  // Typed keys' B-trees are named `k<position>`, jsonb ones `c<position>`: `if not exists` goes by
  // name, so a build never takes an index of the other kind, left by an earlier version, for its own.
  const kind = upload.indexKeys === "typed" ? "k" : "c";
  const btrees = upload.columns.flatMap((column, position) =>
    freeText.has(position)
      ? []
      : [
          sql`create index if not exists ${sql.raw(`"cr_${hex}_${kind}${position}"`)} on ${table} ((${columnKey(column.type, position, upload.indexKeys)}), row_number) with (fillfactor = 100)`,
        ],
  );
  const searchParts = searchIndexPredicates(upload.records).map(
    (predicate, part) =>
      sql`create index if not exists ${sql.raw(`"cr_${hex}_trgm${part}"`)} on ${table} using gin ((data::text) gin_trgm_ops) where ${predicate}`,
  );
  const statistics = sql.raw(`"cr_${hex}_text"`);
  const searchStatistics = [
    sql`create statistics if not exists ${statistics} on ((data::text)) from ${table}`,
    sql`alter statistics ${statistics} set statistics ${sql.raw(String(SEARCH_STATISTICS_TARGET))}`,
  ];
  return { btrees, searchParts, searchStatistics };
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
