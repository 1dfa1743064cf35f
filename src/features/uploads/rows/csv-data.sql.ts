/**
 * SQL fragments for row queries. Values are always bound parameters; the only things written into
 * SQL text are column positions and the search index's row-number bounds, which are checked integers.
 *
 * Rows are stored as a JSON array of typed values in column order (see
 * features/uploads/ingest/row-layout.ts). A column filter, sort or keyset predicate compares the
 * column's key (`columnKey`): the value in its column's type, or the jsonb scalar on uploads
 * indexed that way, exactly the expression the upload's per-column index covers; SQL NULL when
 * the value is null.
 */
import { type SQL, sql } from "drizzle-orm";
import { columnKey, columnValue, type IndexKeys, keyListSelect, keyLiteral } from "../ingest/row-layout.ts";
import { inAnySearchIndexPart, searchIndexPredicates } from "../ingest/search-index.ts";
import type { Filter, RowQuery, Sort, TypedValue } from "./csv-data.query.ts";

/** Escapes LIKE wildcards so `%` and `_` in user input match themselves. */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * The rows a query reads: the upload's id, how many records it read (its last row number), which
 * fixes the row ranges its search index is built in (search-index.ts), and what its column
 * indexes hold (row-layout.ts).
 */
export interface QueriedRows {
  id: string;
  processedRows: number;
  indexKeys: IndexKeys;
}

/**
 * What a WHERE clause is for. The planner takes the search index's OR over row ranges as
 * independent ranges and guesses it keeps three rows in four, so the estimate of how many rows
 * match (reported past the exact-count limit) is asked without it.
 */
export type WherePurpose = "read" | "estimate" | "one part";

/** Whether the query tests a substring (a search, or a `contains` filter): the search index serves it. */
function testsSubstring(query: Pick<RowQuery, "filters" | "search">): boolean {
  return query.search !== null || query.filters.some((filter) => filter.op === "contains");
}

/**
 * The statement that counts a filtered query's rows, stopping at `cap`.
 *
 * A query that tests a substring reads the search index, which is built in parts over ranges of
 * row numbers (search-index.ts). Stated as one OR over the parts, every part's index is read in
 * full before the first row is counted; counted part after part (`union all`, each branch with
 * its own range), a part is not read at all once the parts before it reached the cap: a term in
 * 37,000 rows is counted from the first half's index alone. The ranges do not overlap and cover
 * every row number, so the sum is the count. Other queries count in one statement, whose B-tree
 * scan already stops at the cap.
 */
export function cappedCountStatement(rows: QueriedRows, query: Pick<RowQuery, "filters" | "search">, cap: number): SQL {
  if (!testsSubstring(query)) {
    const where = whereClause(rows, query.filters, query.search);
    return sql`select count(*) as n from (select 1 from csv_rows where ${where} limit ${cap}) as matching`;
  }
  const where = whereClause(rows, query.filters, query.search, "one part");
  const branches = searchIndexPredicates(rows.processedRows).map(
    (part) => sql`(select 1 from csv_rows where ${where} and ${part})`,
  );
  return sql`select count(*) as n from (${sql.join(branches, sql` union all `)} limit ${cap}) as matching`;
}

/**
 * A case-insensitive substring test on text that also appears, JSON-escaped, in `data::text`: the
 * trigram index on `data::text` narrows the candidates first (every part of it, by stating their
 * row ranges), and the exact test decides. Terms with characters JSON escapes (quotes, backslashes,
 * control characters) skip the narrowing.
 */
function narrowedLike(rows: QueriedRows, purpose: WherePurpose): NarrowedLike {
  // "one part": the caller states one part's range itself.
  const parts = purpose === "read" ? sql` and ${inAnySearchIndexPart(rows.processedRows)}` : sql``;
  return (exact, term) => {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what JSON escapes.
    if (/["\\\u0000-\u001f]/.test(term)) return exact;
    return sql`(data::text ilike ${likePattern(term)}${parts} and ${exact})`;
  };
}

type NarrowedLike = (exact: SQL, term: string) => SQL;

/**
 * A filter as SQL. Comparisons take the column's key as it is, with no test of its type: every
 * stored value has its column's type or is null (ingestion rejects a record whose value does not
 * fit), and the filter's value is parsed in the column's type. A type test would change no answer
 * but hide the column index's statistics from the planner (a function's result is a fixed 0.5 %
 * guess), which then reads and sorts every row of a range instead of walking the sort column's index.
 */
function comparison(filter: Filter, narrowed: NarrowedLike, keys: IndexKeys): SQL {
  const { type } = filter.column;
  const value = columnKey(type, filter.position, keys);
  const [first] = filter.values;
  const literal = () => keyLiteral(type, first ?? "", keys);
  switch (filter.op) {
    case "eq":
      return sql`${value} = ${literal()}`;
    case "ne":
      return sql`(${value} is not null and ${value} <> ${literal()})`;
    case "lt":
      return sql`${value} < ${literal()}`;
    case "lte":
      return sql`${value} <= ${literal()}`;
    case "gt":
      return sql`${value} > ${literal()}`;
    case "gte":
      return sql`${value} >= ${literal()}`;
    case "contains": {
      // The value's text, whatever the key: no B-tree serves a substring, the trigram index does.
      const term = String(first ?? "");
      return narrowed(sql`(${columnValue(filter.position)} #>> '{}') ilike ${likePattern(term)}`, term);
    }
    case "in":
      return sql`${value} in (${keyListSelect(type, filter.values, keys)})`;
    case "is_null":
      return first === true ? sql`${value} is null` : sql`${value} is not null`;
  }
}

/** Case-insensitive substring over all values of the row. */
function searchCondition(term: string, narrowed: NarrowedLike): SQL {
  return narrowed(
    sql`exists (select 1 from jsonb_array_elements_text(data) as e(value) where e.value ilike ${likePattern(term)})`,
    term,
  );
}

export function whereClause(
  rows: QueriedRows,
  filters: Filter[],
  search: string | null,
  purpose: WherePurpose = "read",
): SQL {
  const narrowed = narrowedLike(rows, purpose);
  const conditions: SQL[] = [sql`upload_id = ${rows.id}::uuid`];
  for (const filter of filters) conditions.push(comparison(filter, narrowed, rows.indexKeys));
  if (search) conditions.push(searchCondition(search, narrowed));
  return sql.join(conditions, sql` and `);
}

/** Ordering over the whole result: nulls last either way, ties by ascending row number. */
export function orderClause(sort: Sort | null, keys: IndexKeys): SQL {
  if (!sort) return sql`row_number asc`;
  const value = columnKey(sort.column.type, sort.position, keys);
  return sort.descending ? sql`${value} desc nulls last, row_number asc` : sql`${value} asc nulls last, row_number asc`;
}

/**
 * The statement that reads one page of the query's rows (after the keyset predicate `after`, from
 * `afterPosition`, on a cursor page): `row_number`, `data` and, when sorted, `sort_value`,
 * each as jsonb text (the driver's own JSON.parse would round big numbers).
 *
 * - The first page (`offset` 0) reads its rows in index order and stops after `limit`.
 * - A later page skips its offset on row numbers alone (an index-only scan once the upload is
 *   vacuumed) and reads only its own rows' data: skipping through the rows themselves would read
 *   every skipped row from the table.
 * - A later page of every row in file order (no filter, search or sort) does not skip from the
 *   start at all. Each committed chunk records the first row number it was planned and how many
 *   rows it stored, so the rows stored before a chunk are the sum over the chunks before it. The
 *   page starts at the last committed chunk with at most `offset` rows before it, and skips only
 *   the rest inside that chunk (at most one chunk's rows): page 20,000 of a million rows costs what
 *   page 2 does. Chunk markers and rows commit in one transaction, so the statement's snapshot sees
 *   both or neither; an upload without chunk records (none is the whole table) skips from the start.
 */
export function pageRowsStatement(
  rows: QueriedRows,
  query: Pick<RowQuery, "filters" | "search" | "sort">,
  after: SQL | null,
  limit: number,
  offset: number,
): SQL {
  const uploadId = rows.id;
  const where = sql`${whereClause(rows, query.filters, query.search)}${after ? sql` and ${after}` : sql``}`;
  // The sort value as jsonb text whatever the key, so a cursor holds it in its exact JSON form.
  const sortValue = query.sort ? sql`, (${columnValue(query.sort.position)})::text as sort_value` : sql``;
  const order = orderClause(query.sort, rows.indexKeys);
  if (offset === 0) {
    return sql`
      select row_number, data::text as data${sortValue}
      from csv_rows
      where ${where}
      order by ${order}
      limit ${limit}`;
  }
  const inFileOrder = query.filters.length === 0 && !query.search && !query.sort && !after;
  if (!inFileOrder) {
    return sql`
      select row_number, data::text as data${sortValue}
      from csv_rows
      where upload_id = ${uploadId}::uuid and row_number in (
        select row_number from csv_rows where ${where} order by ${order} limit ${limit} offset ${offset}
      )
      order by ${order}`;
  }
  return sql`
    with chunk as (
      select chunk_index, first_row_number,
        coalesce(sum(rows_inserted) over (order by chunk_index rows between unbounded preceding and 1 preceding), 0)
          as rows_before
      from csv_upload_chunks
      where upload_id = ${uploadId}::uuid and done_at is not null
    ), start as (
      select first_row_number, rows_before from chunk
      where rows_before <= ${offset}::bigint
      order by chunk_index desc
      limit 1
    )
    select row_number, data::text as data
    from csv_rows
    where upload_id = ${uploadId}::uuid and row_number in (
      select row_number from csv_rows
      where upload_id = ${uploadId}::uuid
        and row_number >= coalesce((select first_row_number from start), 0)
      order by row_number
      limit ${limit}
      offset ${offset}::bigint - coalesce((select rows_before from start), 0)
    )
    order by row_number`;
}

/** Where a cursor page resumes: strictly after the last row of the previous page. */
export interface KeysetPosition {
  /** The last row's sort value, or null when it had none (the null tail). Unused without a sort. */
  value: TypedValue | null;
  rowNumber: number;
}

/**
 * The keyset predicates that continue an ordering after `position`, in order: every row matching
 * the first comes before any row matching the next. The rows with a value and the null tail are
 * separate predicates because an `or ... is null` would turn each into a full scan; apart, each is
 * one index range scan on (value, row_number).
 */
export function afterPosition(sort: Sort | null, position: KeysetPosition, keys: IndexKeys): SQL[] {
  if (!sort) return [sql`row_number > ${position.rowNumber}`];
  const value = columnKey(sort.column.type, sort.position, keys);
  const nullTail = sql`${value} is null`;
  if (position.value === null) return [sql`(${nullTail} and row_number > ${position.rowNumber})`];
  const last = keyLiteral(sort.column.type, position.value, keys);
  const valued = sort.descending
    ? sql`(${value} is not null and (${value} < ${last} or (${value} = ${last} and row_number > ${position.rowNumber})))`
    : sql`(${value} is not null and (${value}, row_number) > (${last}, ${position.rowNumber}::bigint))`;
  return [valued, nullTail];
}
