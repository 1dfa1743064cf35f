/**
 * Each upload's rows live in their own partition of `csv_rows` (LIST by upload_id): its indexes
 * can be built after the load, and deleting an upload is a DROP, not a million-row DELETE.
 */
import { sql } from "drizzle-orm";
import type { Queryable } from "../../../platform/db/client.ts";
import { partitionName } from "./partition-name.ts";

export { partitionName };

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
