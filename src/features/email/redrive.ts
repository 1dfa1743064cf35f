/**
 * Re-drive for mail whose enqueue failed. The outbox row is committed with the change that caused
 * it, but the enqueue happens after commit and can fail (the request has already succeeded, so
 * `dispatchEmails` only logs). Such a row stays `queued` with no attempt; this finds rows older
 * than a normal queue delay and enqueues them again. Run it from a cron trigger.
 * Re-driving a row that is in fact still in the queue is harmless: the consumer acks a row that is
 * already `sent` without sending it again.
 */
import { emailLog } from "../../platform/db/schema.ts";
import { type RedriveOptions, redriveStaleRows } from "../../platform/queues/outbox.ts";
import { dispatchEmails } from "./outbox.ts";

/** Enqueues stale never-attempted rows again and returns their ids. */
export function redriveEmails(env: Env, options: RedriveOptions = {}): Promise<number[]> {
  return redriveStaleRows(env, { table: emailLog, waiting: "queued", dispatch: dispatchEmails }, options);
}
