/**
 * The live half of notifications: after the transaction that made them commits, each new
 * notification is sent to its user's open streams (their `UserState` object). Pushing only after
 * commit means a stream never shows a notification a rollback then takes back. The feed in
 * Postgres stays the record: a push that is lost (no stream open, the object unreachable) is
 * found by the next `GET /notifications/`, and a client re-reads the feed when it reconnects.
 */
import { deliverToStreams } from "../../platform/edge-state/user-state.client.ts";
import { errorFields, log } from "../../platform/lib/log.ts";
import type { NewNotification } from "./notifications.service.ts";

export async function pushNotifications(env: Env, made: readonly NewNotification[]): Promise<void> {
  if (made.length === 0) return;
  const byUser = new Map<number, string[]>();
  for (const { user, notification } of made) {
    const messages = byUser.get(user) ?? [];
    messages.push(JSON.stringify(notification));
    byUser.set(user, messages);
  }
  try {
    await Promise.all([...byUser].map(([user, messages]) => deliverToStreams(env, user, messages)));
  } catch (error) {
    log("error", "notification push failed", { count: made.length, ...errorFields(error) });
  }
}
