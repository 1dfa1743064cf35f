/**
 * Runs after every test file inside workerd: the file ends once the webhook deliveries recorded
 * while it ran have settled.
 *
 * Webhook subscriptions see every event of the organisation, so while a webhook suite has one
 * active, any file's task writes queue deliveries in that file's own runtime, and the consumer logs
 * each attempt. A log line that reaches vitest after the file's runtime is torn down fails the
 * whole run ("Closing rpc while onUserConsoleLog was pending") although every test passed.
 * Waiting for an observable state (no delivery made since the file started is still pending) ends
 * that; the short pause after it covers the consumer's log call, which follows its last write.
 */
import { and, count, eq, gte } from "drizzle-orm";
import { afterAll } from "vitest";
import { webhookDeliveries } from "../../src/platform/db/schema.ts";
import { eventually, withDb } from "./env.ts";

const fileStartedAt = new Date();
const SETTLE_TIMEOUT_MS = 30_000;
const AFTER_LAST_WRITE_MS = 250;

async function pendingSinceStart(): Promise<number> {
  const [row] = await withDb((db) =>
    db
      .select({ pending: count() })
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.status, "pending"), gte(webhookDeliveries.createdAt, fileStartedAt))),
  );
  return row?.pending ?? 0;
}

afterAll(async () => {
  if ((await pendingSinceStart()) === 0) return;
  // Best effort: a delivery still retrying after the timeout is left to its consumer.
  await eventually(async () => ((await pendingSinceStart()) === 0 ? true : undefined), SETTLE_TIMEOUT_MS).catch(
    () => undefined,
  );
  await new Promise((resolve) => setTimeout(resolve, AFTER_LAST_WRITE_MS));
}, SETTLE_TIMEOUT_MS + 10_000);
