/**
 * Consumers of the `email` queue and its dead-letter queue. Each message names one `email_log`
 * row; delivery is at-least-once, so a row already `sent` (a redelivery) is acknowledged without
 * sending again. Messages are acked or retried one by one, so one bad message never holds back
 * the rest of its batch. After the queue's last retry the runtime moves a message to `email-dlq`,
 * whose consumer marks the row `failed`.
 */
import { and, eq, notInArray, sql } from "drizzle-orm";
import { getConfig } from "../../platform/config/config.ts";
import type { PoolDb } from "../../platform/db/client.ts";
import { emailLog } from "../../platform/db/schema.ts";
import { errorFields, log } from "../../platform/lib/log.ts";
import type { QueueConsumer } from "../../platform/queues/dispatch.ts";
import { consumeRows, type RowOutcome } from "../../platform/queues/row-consumer.ts";
import { retryBaseSeconds, retryDelaySeconds } from "./retry.ts";
import { deliver } from "./transport.ts";

/** The id named by a queue message, or null for anything that is not an email message. */
export function emailIdOf(body: unknown): number | null {
  if (typeof body !== "object" || body === null) return null;
  const { kind, emailId } = body as { kind?: unknown; emailId?: unknown };
  return kind === "email" && typeof emailId === "number" && Number.isInteger(emailId) && emailId > 0 ? emailId : null;
}

async function sendOne(db: PoolDb, config: ReturnType<typeof getConfig>, emailId: number): Promise<RowOutcome> {
  const [row] = await db.select().from(emailLog).where(eq(emailLog.id, emailId)).limit(1);
  if (!row) {
    // The row can only vanish with its transaction rolled back or data deleted: nothing to send.
    log("warn", "email row missing", { email_id: emailId });
    return "ack";
  }
  if (row.status === "sent" || row.status === "skipped" || row.status === "failed") return "ack";

  const result = await deliver(config, { to: row.toAddress, subject: row.subject, body: row.body });
  const attempts = sql`${emailLog.attempts} + 1`;
  if (result.outcome === "sent") {
    await db
      .update(emailLog)
      .set({
        status: "sent",
        provider: result.provider,
        attempts,
        error: null,
        sentAt: new Date(),
        updatedAt: new Date(),
      })
      .where(eq(emailLog.id, emailId));
    return "ack";
  }
  if (result.outcome === "skipped") {
    // Recorded as what happened: nothing left the system, so no `sent_at` either.
    await db
      .update(emailLog)
      .set({ status: "skipped", provider: result.provider, attempts, error: result.reason, updatedAt: new Date() })
      .where(eq(emailLog.id, emailId));
    return "ack";
  }
  await db
    .update(emailLog)
    .set({
      status: result.retryable ? "retrying" : "failed",
      provider: result.provider,
      attempts,
      error: result.error,
      updatedAt: new Date(),
    })
    .where(eq(emailLog.id, emailId));
  log(result.retryable ? "warn" : "error", "email send failed", {
    email_id: emailId,
    attempt: row.attempts + 1,
    retryable: result.retryable,
    error: result.error,
  });
  return result.retryable ? "retry" : "ack";
}

export const consumeEmails: QueueConsumer = consumeRows({
  rowIdOf: emailIdOf,
  onMalformed: (message) => log("error", "malformed email message", { message_id: message.id }),
  handle: (db, env, emailId) => sendOne(db, getConfig(env), emailId),
  // The database failed, not the mail: try again later rather than lose the message.
  onError: (emailId, error) => log("error", "email consumer error", { email_id: emailId, ...errorFields(error) }),
  retryOptions: (env, attempts) => ({ delaySeconds: retryDelaySeconds(retryBaseSeconds(env), attempts) }),
});

/** Messages that exhausted their retries: the row becomes `failed`, keeping the last error. */
export const consumeEmailDeadLetters: QueueConsumer = consumeRows({
  rowIdOf: emailIdOf,
  handle: async (db, _env, emailId) => {
    await db
      .update(emailLog)
      .set({
        status: "failed",
        error: sql`coalesce(${emailLog.error}, 'Delivery failed after the last retry.')`,
        updatedAt: new Date(),
      })
      .where(and(eq(emailLog.id, emailId), notInArray(emailLog.status, ["sent", "skipped"])));
    log("error", "email dead-lettered", { email_id: emailId });
    return "ack";
  },
  onError: (emailId, error) =>
    log("error", "email dead-letter consumer error", { email_id: emailId, ...errorFields(error) }),
});
