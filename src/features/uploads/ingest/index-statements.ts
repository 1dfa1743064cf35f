/**
 * What an upload's index build creates, as statements: which columns get a B-tree (all but
 * free-text ones, judged from a sample of the stored rows), the search index's parts and the
 * statistics on the searched text. Pure and free of Worker types, so the benchmarks count the
 * indexes a build makes by the same rules (index-upload.ts runs them).
 */
import { type SQL, sql } from "drizzle-orm";
import type { UploadColumn } from "../../../platform/db/schema.ts";
import { partitionName } from "./partition-name.ts";
import { columnKey, type IndexKeys } from "./row-layout.ts";
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

/**
 * The statement sampling the average width of each string column, or undefined when the upload has
 * none: `freeTextFrom` reads its rows. The benchmarks run it with their own client to learn which
 * columns the build gives no B-tree.
 */
export function freeTextQuery(uploadId: string, columns: UploadColumn[]): SQL | undefined {
  const strings = columns.flatMap((column, position) => (column.type === "string" ? [position] : []));
  if (strings.length === 0) return undefined;
  const table = sql.identifier(partitionName(uploadId));
  return sql`
    select p.position, avg(length(s.data ->> p.position)) as width
    from (select data from ${table} order by row_number limit ${WIDTH_SAMPLE_ROWS}) as s,
      unnest(${`{${strings.join(",")}}`}::int[]) as p(position)
    group by p.position`;
}

/** The positions whose sampled values average more than `FREE_TEXT_CHARS` characters. */
export function freeTextFrom(
  rows: readonly { position: number | string; width: number | string | null }[],
): Set<number> {
  return new Set(rows.filter((row) => Number(row.width ?? 0) > FREE_TEXT_CHARS).map((row) => Number(row.position)));
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
