/**
 * What a task write does once its transaction has committed: replace the cache versions of every
 * user who can see the change, then hand the emails and webhook deliveries recorded in the outboxes
 * to their queues.
 *
 * The versions are replaced before the write answers (awaited), so neither the writer nor anyone
 * who reads after the answer can be served the state before it. Doing it only after commit means
 * a concurrent read can never re-cache the pre-write state under the new version. Emails and
 * webhooks go out after the answer (`waitUntil`); a lost enqueue is re-driven by the cron.
 */
import type { Context } from "hono";
import { bumpCacheVersions } from "../edge-state/user-state.client.ts";
import { dispatchEmails } from "../email/outbox.ts";
import type { AppEnv } from "../types.ts";
import { dispatchWebhooks } from "../webhooks/outbox.ts";

export async function afterCommit(
  c: Context<AppEnv>,
  result: { emailIds: number[]; deliveryIds: number[]; affectedUserIds: number[] },
): Promise<void> {
  c.executionCtx.waitUntil(dispatchEmails(c.env, result.emailIds));
  c.executionCtx.waitUntil(dispatchWebhooks(c.env, result.deliveryIds));
  await bumpCacheVersions(c.env, [c.var.user.id, ...result.affectedUserIds], ["tasks"]);
}
