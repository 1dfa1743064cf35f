/**
 * What a task write does once its transaction has committed: replace the cache versions of every
 * user who can see the change, then hand the emails and webhook deliveries recorded in the outboxes
 * to their queues and the notifications made with the emails to their users' live streams.
 *
 * The versions are replaced before the write answers (awaited), so neither the writer nor anyone
 * who reads after the answer can be served the state before it. Doing it only after commit means
 * a concurrent read can never re-cache the pre-write state under the new version. Emails and
 * webhooks go out after the answer (`waitUntil`); a lost enqueue is re-driven by the cron.
 * Notification pushes go after the answer too: the feed is read from Postgres, never from the
 * cache, so it shows them from the commit on whatever the push does, and the push (one call per
 * recipient's object) must neither slow the write down nor fail it.
 */
import type { Context } from "hono";
import type { AppEnv } from "../../platform/context/types.ts";
import { bumpCacheVersions } from "../../platform/edge-state/user-state.client.ts";
import { dispatchEmails, type NewNotification } from "../email/outbox.ts";
import { pushNotifications } from "../notifications/notifications.push.ts";
import { dispatchWebhooks } from "../webhooks/outbox.ts";

/** What a committed task write owes: the outbox rows it recorded and whose caches it changed. */
export interface CommittedWrite {
  emailIds: number[];
  deliveryIds: number[];
  notifications: NewNotification[];
  affectedUserIds: number[];
}

export async function afterCommit(c: Context<AppEnv>, result: CommittedWrite): Promise<void> {
  c.executionCtx.waitUntil(dispatchEmails(c.env, result.emailIds));
  c.executionCtx.waitUntil(dispatchWebhooks(c.env, result.deliveryIds));
  c.executionCtx.waitUntil(pushNotifications(c.env, result.notifications));
  await bumpCacheVersions(c.env, [c.var.user.id, ...result.affectedUserIds], ["tasks"]);
}

/** Awaits a task write, does its `afterCommit`, and answers the write's value. */
export async function committedValue<T>(c: Context<AppEnv>, write: Promise<CommittedWrite & { value: T }>): Promise<T> {
  const result = await write;
  await afterCommit(c, result);
  return result.value;
}
