/**
 * The search index (the trigrams of each row's values, `data::text`) is built in parts by
 * row-number range: one partial GIN index per part, all built at the same time on connections of
 * their own. Postgres 17 builds a GIN index in one process, so a single index over a million rows
 * kept one core busy for over a minute while the others idled; two halves build in about half the
 * time.
 *
 * A query that narrows by trigrams also states every part's range, joined by OR: the planner then
 * scans each part's index and combines the results (a BitmapOr). That condition holds for every
 * row, so it never changes an answer, and an upload indexed before the split (one whole index) is
 * served by its index as before.
 *
 * The bounds depend only on how many records the upload read (its last row number), fixed once it
 * completed, so the index build and every later query derive the same ones. They are written into
 * the SQL text, as checked integers, so that the planner can match them to the partial indexes'
 * predicates even in a plan made before parameter values are known.
 */
import { type SQL, sql } from "drizzle-orm";

export const SEARCH_INDEX_PARTS = 2;

function checkedRowNumber(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error("search-index: a row-number bound is a non-negative integer");
  }
  return value;
}

/** The last row number of every part but the last: part `i` holds the rows in (bounds[i - 1], bounds[i]]. */
export function searchIndexBounds(records: number): number[] {
  const last = checkedRowNumber(records);
  return Array.from({ length: SEARCH_INDEX_PARTS - 1 }, (_, i) => Math.ceil((last * (i + 1)) / SEARCH_INDEX_PARTS));
}

/** Each part's row-number predicate, in part order: the partial indexes' predicates. */
export function searchIndexPredicates(records: number): SQL[] {
  const bounds = searchIndexBounds(records);
  return Array.from({ length: SEARCH_INDEX_PARTS }, (_, part) => {
    const after = part > 0 ? bounds[part - 1] : undefined;
    const upTo = part < bounds.length ? bounds[part] : undefined;
    const conditions: string[] = [];
    if (after !== undefined) conditions.push(`row_number > ${after}`);
    if (upTo !== undefined) conditions.push(`row_number <= ${upTo}`);
    return sql.raw(conditions.join(" and "));
  });
}

/** True of every row: every part's range, joined by OR, which lets a query use all the parts. */
export function inAnySearchIndexPart(records: number): SQL {
  return sql`(${sql.join(
    searchIndexPredicates(records).map((predicate) => sql`(${predicate})`),
    sql` or `,
  )})`;
}
