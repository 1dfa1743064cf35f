/**
 * Re-drive for deliveries whose enqueue was lost. The row commits with the change that caused it,
 * but the enqueue happens after commit and can fail (`dispatchWebhooks` only logs). Such a row
 * stays `pending` with no attempt; this finds rows older than a normal queue delay and enqueues
 * them again. Run from the cron trigger. Re-driving a row that is in fact still queued is harmless:
 * the consumer acknowledges a row that is no longer `pending` without sending it again.
 */
import { and, asc, eq, lt } from "drizzle-orm";
import { getConfig } from "../../platform/config/config.ts";
import { connect } from "../../platform/db/client.ts";
import { webhookDeliveries } from "../../platform/db/schema.ts";
import { dispatchWebhooks } from "./outbox.ts";

export interface RedriveOptions {
  /** Only rows older than this are considered lost (the queue normally delivers within seconds). */
  olderThanSeconds?: number;
  /** At most this many rows per run, oldest first. */
  limit?: number;
}

/** Enqueues stale never-attempted deliveries again and returns their ids. */
export async function redriveWebhooks(env: Env, options: RedriveOptions = {}): Promise<number[]> {
  const { olderThanSeconds = 600, limit = 500 } = options;
  const cutoff = new Date(Date.now() - olderThanSeconds * 1000);
  const database = connect(getConfig(env), { max: 1 });
  try {
    const rows = await database.db
      .select({ id: webhookDeliveries.id })
      .from(webhookDeliveries)
      .where(
        and(
          eq(webhookDeliveries.status, "pending"),
          eq(webhookDeliveries.attempts, 0),
          lt(webhookDeliveries.createdAt, cutoff),
        ),
      )
      .orderBy(asc(webhookDeliveries.createdAt))
      .limit(limit);
    const ids = rows.map((row) => row.id);
    await dispatchWebhooks(env, ids);
    return ids;
  } finally {
    await database.end();
  }
}
