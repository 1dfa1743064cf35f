/**
 * Re-drive for deliveries whose enqueue was lost. The row commits with the change that caused it,
 * but the enqueue happens after commit and can fail (`dispatchWebhooks` only logs). Such a row
 * stays `pending` with no attempt; this finds rows older than a normal queue delay and enqueues
 * them again. Run from the cron trigger. Re-driving a row that is in fact still queued is harmless:
 * the consumer acknowledges a row that is no longer `pending` without sending it again.
 */
import { webhookDeliveries } from "../../platform/db/schema.ts";
import { type RedriveOptions, redriveStaleRows } from "../../platform/queues/outbox.ts";
import { dispatchWebhooks } from "./outbox.ts";

/** Enqueues stale never-attempted deliveries again and returns their ids. */
export function redriveWebhooks(env: Env, options: RedriveOptions = {}): Promise<number[]> {
  return redriveStaleRows(env, { table: webhookDeliveries, waiting: "pending", dispatch: dispatchWebhooks }, options);
}
