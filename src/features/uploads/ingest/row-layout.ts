/**
 * How an upload's rows are stored: `data` is a JSON array of the row's typed values in the upload's
 * column order (`null` for an empty value), and the column keys are kept once, on the upload. A
 * key-per-row object would repeat every key in every row and in the search index; positions keep
 * both at the size of the values. Pure and free of Worker types, so scripts share it.
 */
import { type SQL, sql } from "drizzle-orm";
import type { UploadColumn, UploadIndexKeys } from "../../../platform/db/schema.ts";
import { isExactNumber, numberText, type RawJson } from "../../../platform/lib/exact-json.ts";

/** A column's place in the stored array: its index in the upload's `columns`. */
export function checkedPosition(position: number): number {
  if (!Number.isInteger(position) || position < 0 || position > 10_000) {
    throw new Error("row-layout: a column position is a small non-negative integer");
  }
  return position;
}

/**
 * The indexed value expression of a column: a jsonb scalar, or SQL NULL when the value is null.
 * jsonb compares numbers numerically and strings bytewise, so typed values (numbers as JSON
 * numbers, dates as YYYY-MM-DD, datetimes as ISO strings) compare and sort without casts that could
 * fail. The position is written into the SQL text (it is checked to be an integer) so the
 * expression is exactly the one the per-upload indexes cover.
 */
export function columnValue(position: number): SQL {
  return sql.raw(`nullif(data -> ${checkedPosition(position)}, 'null'::jsonb)`);
}

/**
 * What an upload's column B-trees hold, recorded by the build that made them (with the time they
 * became ready), so that its queries compare exactly what its indexes cover:
 * - `typed`: the value in its column's type: `numeric` for numbers, `boolean`, and text for
 *   strings, dates and datetimes. These keys are a third to a half smaller than the jsonb scalar
 *   (no container header or entry word) and compare without jsonb's type dispatch, so the B-trees
 *   build in well under half the time;
 * - `jsonb`: the jsonb scalar (`columnValue`), as uploads indexed before typed keys hold.
 * Both order values alike: jsonb numbers are `numeric`, and jsonb strings compare as text in the
 * database's collation. Casting stored values cannot fail: every stored value has its column's
 * type or is null (ingestion rejects a record whose value does not fit).
 */
export type IndexKeys = UploadIndexKeys;

type ColumnType = UploadColumn["type"];

/** What the column B-trees this version builds hold. */
export const BUILT_INDEX_KEYS: IndexKeys = "typed";

/**
 * The keys a query compares. The build records them when the indexes are ready; until then, the
 * B-trees it has finished already serve queries, and they hold what this version builds.
 * A ready upload that records nothing was indexed before typed keys: its B-trees hold jsonb.
 *
 * So the keys do not change when the indexes become ready, and a description cached before then
 * stays right. The one exception is a build by the previous version finishing during a deploy,
 * after this version cached the upload's description: its jsonb B-trees are then unused, and
 * its filters scan (answering correctly) until that description expires (`CACHE_TTL_SECONDS`).
 */
export function queriedKeys(recorded: IndexKeys | null, indexesReadyAt: Date | null): IndexKeys {
  return recorded ?? (indexesReadyAt === null ? BUILT_INDEX_KEYS : "jsonb");
}

/** The cast from a value's text to its typed key: none for strings, dates and datetimes. */
function typedKeyCast(type: ColumnType): "::numeric" | "::boolean" | "" {
  if (type === "integer" || type === "number") return "::numeric";
  return type === "boolean" ? "::boolean" : "";
}

/**
 * A column's value as its B-tree keys it: SQL NULL when the value is null. Column filters, sorts
 * and keyset predicates compare this expression, written exactly as the index's, so the planner
 * can use the index.
 */
export function columnKey(type: ColumnType, position: number, keys: IndexKeys): SQL {
  if (keys === "jsonb") return columnValue(position);
  const text = `(data ->> ${checkedPosition(position)})`;
  const cast = typedKeyCast(type);
  return sql.raw(cast ? `(${text}${cast})` : text);
}

/** A typed value (a filter's, a cursor's) as a bound parameter comparable with `columnKey`. */
export function keyLiteral(type: ColumnType, value: string | number | boolean | RawJson, keys: IndexKeys): SQL {
  if (keys === "jsonb") return sql`${JSON.stringify(value)}::jsonb`;
  const text = isExactNumber(value) ? numberText(value) : String(value);
  return sql`${text}${sql.raw(typedKeyCast(type) || "::text")}`;
}

/**
 * Every value of a JSON array of typed values (an `in` filter's), as a set comparable with
 * `columnKey`: jsonb elements, or their text cast to the column's key type.
 */
export function keyListSelect(type: ColumnType, values: readonly unknown[], keys: IndexKeys): SQL {
  const list = JSON.stringify(values);
  if (keys === "jsonb") return sql`select jsonb_array_elements(${list}::jsonb)`;
  return sql`select e.value${sql.raw(typedKeyCast(type))} from jsonb_array_elements_text(${list}::jsonb) as e(value)`;
}

/** A stored row (the array) back as `{key: value}` in column order; a missing position is null. */
export function rowObject(keys: readonly string[], values: readonly unknown[]): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [position, key] of keys.entries()) data[key] = values[position] ?? null;
  return data;
}
