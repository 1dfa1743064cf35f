/**
 * The transactional outbox for email. Services call `recordEmail` inside the transaction that
 * causes the mail (or put `recordEmailSql` into the batch that makes the change), so a rolled-back
 * change sends nothing; after commit they call `dispatchEmails` with the returned ids, which
 * enqueues one message per email for the consumer to deliver.
 */
import { type SQL, sql } from "drizzle-orm";
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
 * The outbox rows of one email to users, as SQL for a write batch (a statement of its own, or a
 * data-modifying CTE): `insert into email_log ... select ... from users u where <recipients> and
 * u.is_active order by u.id returning id`. `recipients` is a condition on `u` (the users table),
 * so the recipients are whoever is an active user when the batch runs; users' addresses are unique
 * case-insensitively, so there is one row per address as with `recordEmail`.
 *
 * `fill`: a value only the batch knows (e.g. a time an earlier statement of the batch set). The
 * text is rendered with `token` (a fresh random string) in the value's place, and Postgres puts
 * the value in.
 */
export function recordEmailSql<T extends EmailTemplate>(
  template: T,
  data: TemplateData[T],
  recipients: SQL,
  fill?: { token: string; value: SQL },
): SQL {
  const { subject, body } = renderEmail(template, data);
  const text = (value: string): SQL =>
    fill ? sql`replace(${value}::text, ${fill.token}::text, ${fill.value})` : sql`${value}::text`;
  return sql`insert into email_log (to_address, to_user_id, subject, template, body)
    select u.email, u.id, ${text(subject)}, ${template}::text, ${text(body)}
    from users u
    where (${recipients}) and u.is_active
    order by u.id
    returning id`;
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
