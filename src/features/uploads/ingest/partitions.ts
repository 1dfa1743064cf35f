/**
 * Each upload's rows live in their own partition of `csv_rows` (LIST by upload_id): its indexes
 * can be built after the load, and deleting an upload is a DROP, not a million-row DELETE.
 *
 * Adding and removing a partition never takes the strongest lock on `csv_rows`. `CREATE TABLE …
 * PARTITION OF` and `DROP TABLE` of a partition both do (ACCESS EXCLUSIVE), and while such a
 * request waits for a long query on `csv_rows` (a row page, an export, up to the statement timeout),
 * every later query on it, for every user's uploads, queues behind it. So a partition is created
 * as a table of its own and attached (SHARE UPDATE EXCLUSIVE on `csv_rows`: queries read on), and
 * detached concurrently before it is dropped (the detach waits for the queries already running,
 * and blocks none).
 */
import { sql } from "drizzle-orm";
import { type PoolDb, pgErrorCode, type Queryable, type Tx } from "../../../platform/db/client.ts";
import { partitionName } from "./partition-name.ts";

export { partitionName };

/**
 * Creates and attaches the upload's partition, unless it exists. Run it in the transaction that
 * starts the upload: the table and its attachment then exist together or not at all.
 */
export async function createPartition(tx: Tx, uploadId: string): Promise<void> {
  const name = partitionName(uploadId);
  const { rows } = await tx.execute<{ exists: boolean }>(sql`select to_regclass(${name}) is not null as exists`);
  if (rows[0]?.exists) return;
  // Empty, so attaching it checks no row; the primary key's index is made by the attachment.
  await tx.execute(sql.raw(`CREATE TABLE "${name}" (LIKE csv_rows)`));
  await tx.execute(
    sql.raw(`ALTER TABLE csv_rows ATTACH PARTITION "${name}" FOR VALUES IN ('${uploadId.toLowerCase()}')`),
  );
}

/** Where a partition is on its way out: attached, detached half-way, or a table on its own. */
type PartitionState = "attached" | "detach_pending" | "detached" | "absent";

async function partitionState(db: PoolDb, name: string): Promise<PartitionState> {
  const { rows } = await db.execute<{ exists: boolean; pending: boolean | null }>(sql`
    select to_regclass(${name}) is not null as exists,
      (select inhdetachpending from pg_inherits where inhrelid = to_regclass(${name})) as pending`);
  const row = rows[0];
  if (!row?.exists) return "absent";
  if (row.pending === null) return "detached";
  return row.pending ? "detach_pending" : "attached";
}

/**
 * Postgres detaches one partition of a table concurrently at a time: another's detach refuses with
 * this code until the pending one is done, which takes as long as the queries it waits for (each
 * at most the statement timeout). Such a refusal is waited out, this long at most.
 */
const PG_OBJECT_NOT_IN_PREREQUISITE_STATE = "55000";
/** The partition went between reading its state and acting on it (another call for the upload). */
const PG_UNDEFINED_TABLE = "42P01";
const RETRIED = new Set([PG_OBJECT_NOT_IN_PREREQUISITE_STATE, PG_UNDEFINED_TABLE]);
const DETACH_WAIT_MS = 60_000;
const DETACH_RETRY_MAX_MS = 2_000;

/**
 * Detaches and drops the upload's partition; nothing when it is gone. Not in a transaction: a
 * concurrent detach runs in two of its own. A detach interrupted half-way (left pending) is
 * finished first; a detach refused because another partition's is pending is tried again.
 */
export async function dropPartition(db: PoolDb, uploadId: string): Promise<void> {
  const name = partitionName(uploadId);
  const deadline = Date.now() + DETACH_WAIT_MS;
  for (let pause = 50; ; pause = Math.min(pause * 2, DETACH_RETRY_MAX_MS)) {
    const state = await partitionState(db, name);
    if (state === "absent") return;
    try {
      if (state === "attached") {
        await db.execute(sql.raw(`ALTER TABLE csv_rows DETACH PARTITION "${name}" CONCURRENTLY`));
      } else if (state === "detach_pending") {
        await db.execute(sql.raw(`ALTER TABLE csv_rows DETACH PARTITION "${name}" FINALIZE`));
      }
      await db.execute(sql.raw(`DROP TABLE IF EXISTS "${name}"`));
      return;
    } catch (error) {
      if (!RETRIED.has(pgErrorCode(error) ?? "") || Date.now() + pause > deadline) throw error;
      await scheduler.wait(pause);
    }
  }
}

/** Fresh statistics so the planner does not guess selectivity on a just-loaded upload. */
export async function analysePartition(db: Queryable, uploadId: string): Promise<void> {
  await db.execute(sql.raw(`ANALYZE "${partitionName(uploadId)}"`));
}
