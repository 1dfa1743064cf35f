/**
 * Re-drive for mail whose enqueue failed. The outbox row is committed with the change that caused
 * it, but the enqueue happens after commit and can fail (the request has already succeeded, so
 * `dispatchEmails` only logs). Such a row stays `queued` with no attempt; this finds rows older
 * than a normal queue delay and enqueues them again. Run it from a cron trigger.
 * Re-driving a row that is in fact still in the queue is harmless: the consumer acks a row that is
 * already `sent` without sending it again.
 */
import { and, asc, eq, lt } from "drizzle-orm";
import { getConfig } from "../../platform/config/config.ts";
import { connect } from "../../platform/db/client.ts";
import { emailLog } from "../../platform/db/schema.ts";
import { dispatchEmails } from "./outbox.ts";

export interface RedriveOptions {
  /** Only rows older than this are considered lost (the queue normally delivers within seconds). */
  olderThanSeconds?: number;
  /** At most this many rows per run, oldest first. */
  limit?: number;
}

/** Enqueues stale never-attempted rows again and returns their ids. */
export async function redriveEmails(env: Env, options: RedriveOptions = {}): Promise<number[]> {
  const { olderThanSeconds = 600, limit = 500 } = options;
  const cutoff = new Date(Date.now() - olderThanSeconds * 1000);
  const database = connect(getConfig(env), { max: 1 });
  try {
    const rows = await database.db
      .select({ id: emailLog.id })
      .from(emailLog)
      .where(and(eq(emailLog.status, "queued"), eq(emailLog.attempts, 0), lt(emailLog.createdAt, cutoff)))
      .orderBy(asc(emailLog.createdAt))
      .limit(limit);
    const ids = rows.map((row) => row.id);
    await dispatchEmails(env, ids);
    return ids;
  } finally {
    await database.end();
  }
}
