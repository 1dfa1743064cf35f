/**
 * The row an `insert ... returning` made. An insert without a conflict clause answers exactly one
 * row or throws, so none is a bug: a plain error, answered as a 500.
 */
export function insertedRow<T>(rows: readonly T[]): T {
  const row = rows[0];
  if (row === undefined) throw new Error("insert returned no row");
  return row;
}
