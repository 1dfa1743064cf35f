/**
 * Each upload's rows live in their own partition of `csv_rows` (LIST by upload_id): its indexes
 * can be built after the load, and deleting an upload is a DROP, not a million-row DELETE.
 */
import { sql } from "drizzle-orm";
import type { Queryable } from "../db/client.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `csv_rows_<32 hex>`; the id is checked, so the name is safe to use as an identifier. */
export function partitionName(uploadId: string): string {
  if (!UUID.test(uploadId)) throw new Error("partitionName: not a UUID");
  return `csv_rows_${uploadId.replaceAll("-", "").toLowerCase()}`;
}

export async function createPartition(db: Queryable, uploadId: string): Promise<void> {
  await db.execute(
    sql.raw(
      `CREATE TABLE IF NOT EXISTS "${partitionName(uploadId)}" PARTITION OF csv_rows FOR VALUES IN ('${uploadId.toLowerCase()}')`,
    ),
  );
}

export async function dropPartition(db: Queryable, uploadId: string): Promise<void> {
  await db.execute(sql.raw(`DROP TABLE IF EXISTS "${partitionName(uploadId)}"`));
}

/** Fresh statistics so the planner does not guess selectivity on a just-loaded upload. */
export async function analysePartition(db: Queryable, uploadId: string): Promise<void> {
  await db.execute(sql.raw(`ANALYZE "${partitionName(uploadId)}"`));
}
