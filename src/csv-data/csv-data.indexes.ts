/**
 * Per-upload indexes, built once an upload's rows are in (indexes present during a bulk load make
 * it several times slower; trigram and GIN indexes about ten times). One B-tree per column on exactly the expression the
 * queries use, `(nullif(data->'key','null'), row_number)`, serves equality, ranges, sorting and
 * keyset pagination; one trigram GIN index on `data::text` narrows `search` and `contains`.
 * Until they exist, queries are correct but scan the upload's partition.
 */
import { sql } from "drizzle-orm";
import type { Queryable } from "../db/client.ts";
import type { UploadColumn } from "../db/schema.ts";
import { partitionName } from "../ingest/partitions.ts";
import { columnValue, SAFE_KEY } from "./csv-data.sql.ts";

/** The statements, in build order: the cheap B-trees first so sorting and filters speed up soonest. */
export function rowIndexStatements(uploadId: string, columns: UploadColumn[]) {
  // partitionName checks the id is a UUID, so these names are safe identifiers.
  const partition = partitionName(uploadId);
  const hex = partition.slice("csv_rows_".length);
  const table = sql.identifier(partition);
  const statements = columns
    .map((column, index) => ({ column, index }))
    .filter(({ column }) => SAFE_KEY.test(column.key))
    .map(
      ({ column, index }) =>
        sql`create index if not exists ${sql.raw(`"cr_${hex}_c${index}"`)} on ${table} ((${columnValue(column)}), row_number)`,
    );
  statements.push(
    sql`create index if not exists ${sql.raw(`"cr_${hex}_trgm"`)} on ${table} using gin ((data::text) gin_trgm_ops)`,
  );
  return statements;
}

export async function buildRowIndexes(db: Queryable, uploadId: string, columns: UploadColumn[]): Promise<void> {
  for (const statement of rowIndexStatements(uploadId, columns)) await db.execute(statement);
  await db.execute(sql`analyze ${sql.identifier(partitionName(uploadId))}`);
}
