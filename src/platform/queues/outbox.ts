/**
 * The queue side of a transactional outbox: a table whose rows commit with the change that caused
 * them, each row then carried by one queue message naming its id. Enqueueing happens after commit
 * and may fail; the row then waits, never attempted, for the cron's re-drive.
 */
import { and, asc, eq, lt } from "drizzle-orm";
import type { AnyPgColumn, PgTable } from "drizzle-orm/pg-core";
import { getConfig } from "../config/config.ts";
import { connect, type PoolDb } from "../db/client.ts";
import { errorFields, log } from "../lib/log.ts";

/** Cloudflare Queues takes at most 100 messages in one `sendBatch`. */
const SEND_BATCH_LIMIT = 100;

/**
 * Enqueues one message per recorded row. A failed send is logged (`<label> enqueue failed`), not
 * thrown: the change that recorded the rows has already succeeded, and they wait for the re-drive.
 */
export async function enqueueRows<Body>(
  queue: Queue<Body>,
  ids: readonly number[],
  messageOf: (id: number) => Body,
  label: string,
): Promise<void> {
  if (ids.length === 0) return;
  try {
    for (let i = 0; i < ids.length; i += SEND_BATCH_LIMIT) {
      const batch = ids.slice(i, i + SEND_BATCH_LIMIT).map((id) => ({ body: messageOf(id) }));
      await queue.sendBatch(batch);
    }
  } catch (error) {
    log("error", `${label} enqueue failed`, { count: ids.length, ...errorFields(error) });
  }
}

export interface RedriveOptions {
  /** Only rows older than this are considered lost (the queue normally delivers within seconds). */
  olderThanSeconds?: number;
  /** At most this many rows per run, oldest first. */
  limit?: number;
}

/** An outbox table: a numeric id, a status, the number of attempts so far and the creation time. */
export type OutboxTable = PgTable & {
  id: AnyPgColumn<{ data: number; notNull: true }>;
  status: AnyPgColumn<{ data: string }>;
  attempts: AnyPgColumn<{ data: number }>;
  createdAt: AnyPgColumn<{ data: Date }>;
};

/** Where one outbox's lost rows are and how they are enqueued. */
export interface RedriveSource {
  table: OutboxTable;
  /** The status of a row that waits for its first attempt. */
  waiting: string;
  dispatch: (env: Env, ids: number[]) => Promise<void>;
}

/** The ids of rows still waiting, never attempted and created before `cutoff`, oldest first, at most `limit`. */
async function staleIds(db: PoolDb, { table, waiting }: RedriveSource, cutoff: Date, limit: number): Promise<number[]> {
  const rows = await db
    .select({ id: table.id })
    .from(table)
    .where(and(eq(table.status, waiting), eq(table.attempts, 0), lt(table.createdAt, cutoff)))
    .orderBy(asc(table.createdAt))
    .limit(limit);
  return rows.map((row) => row.id);
}

/**
 * Enqueues stale never-attempted rows again and returns their ids. Re-driving a row that is in
 * fact still queued is harmless as long as the consumer acknowledges, without working it again,
 * a row that is past its waiting state.
 */
export async function redriveStaleRows(
  env: Env,
  source: RedriveSource,
  options: RedriveOptions = {},
): Promise<number[]> {
  const { olderThanSeconds = 600, limit = 500 } = options;
  const cutoff = new Date(Date.now() - olderThanSeconds * 1000);
  const database = connect(getConfig(env), { max: 1 });
  try {
    const ids = await staleIds(database.db, source, cutoff, limit);
    await source.dispatch(env, ids);
    return ids;
  } finally {
    await database.end();
  }
}
