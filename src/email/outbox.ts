/**
 * The transactional outbox for email. Services call `recordEmail` inside the transaction that
 * causes the mail, so a rolled-back change sends nothing; after commit they call `dispatchEmails`
 * with the returned ids, which enqueues one message per email for the consumer to deliver.
 */
import type { Queryable } from "../db/client.ts";
import { type EmailTemplate, emailLog } from "../db/schema.ts";
import { errorFields, log } from "../lib/log.ts";
import { renderEmail, type TemplateData } from "./templates.ts";

export interface EmailMessage {
  kind: "email";
  emailId: number;
}

export interface Recipient {
  email: string;
  userId?: number | null;
}

/** Writes one outbox row per recipient (in the caller's transaction) and returns their ids. */
export async function recordEmail<T extends EmailTemplate>(
  db: Queryable,
  template: T,
  recipients: Recipient[],
  data: TemplateData[T],
): Promise<number[]> {
  const unique = [...new Map(recipients.map((r) => [r.email.toLowerCase(), r])).values()];
  if (unique.length === 0) return [];
  const { subject, body } = renderEmail(template, data);
  const rows = await db
    .insert(emailLog)
    .values(unique.map((r) => ({ toAddress: r.email, toUserId: r.userId ?? null, subject, template, body })))
    .returning({ id: emailLog.id });
  return rows.map((row) => row.id);
}

/**
 * Enqueues recorded emails after commit. A failed send is logged, not thrown: the request that
 * caused the mail has already succeeded, and the row stays `queued` for a re-drive.
 */
export async function dispatchEmails(env: Env, emailIds: number[]): Promise<void> {
  if (emailIds.length === 0) return;
  try {
    for (let i = 0; i < emailIds.length; i += 100) {
      const batch = emailIds
        .slice(i, i + 100)
        .map((emailId) => ({ body: { kind: "email", emailId } satisfies EmailMessage }));
      await env.EMAIL_QUEUE.sendBatch(batch);
    }
  } catch (error) {
    log("error", "email enqueue failed", { count: emailIds.length, ...errorFields(error) });
  }
}
