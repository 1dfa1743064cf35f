/**
 * How an upload's rows are stored: `data` is a JSON array of the row's typed values in the upload's
 * column order (`null` for an empty value), and the column keys are kept once, on the upload. A
 * key-per-row object would repeat every key in every row and in the search index; positions keep
 * both at the size of the values. Pure and free of Worker types, so scripts share it.
 */
import { type SQL, sql } from "drizzle-orm";

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

/** A stored row (the array) back as `{key: value}` in column order; a missing position is null. */
export function rowObject(keys: readonly string[], values: readonly unknown[]): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [position, key] of keys.entries()) data[key] = values[position] ?? null;
  return data;
}
