/**
 * The transactional outbox for email, and the in-app notifications that come with it. Services
 * call `recordEmailWithNotifications` (or `recordEmail`) inside the transaction that causes the
 * mail, or put `recordEmailSql` (or the CTEs of `outboxSql`) into the batch that makes the change,
 * so a rolled-back change sends nothing and notifies no one; after commit they call
 * `dispatchEmails` with the returned ids, which enqueues one message per email for the consumer to
 * deliver, and `pushNotifications` (features/notifications/notifications.push.ts) with the returned
 * notifications. Each email to a user makes that user a notification in the same statement, so
 * the two cannot disagree and the notification costs no round trip of its own; an email to an
 * address that is no user's makes none.
 */
import { type SQL, sql } from "drizzle-orm";
import type { PoolDb } from "../../platform/db/client.ts";
import type { EmailTemplate } from "../../platform/db/schema.ts";
import { enqueueRows } from "../../platform/queues/outbox.ts";
import {
  type NewNotification,
  type NotificationLink,
  newNotificationsOf,
  notificationsFromMail,
} from "../notifications/notifications.service.ts";
import { renderEmail, type TemplateData } from "./templates.ts";

export type { NewNotification };

export interface EmailMessage {
  kind: "email";
  emailId: number;
}

export interface Recipient {
  email: string;
  userId?: number | null;
}

/** What the outbox recorded in a transaction: the emails to enqueue and the notifications to push after commit. */
export interface Recorded {
  emailIds: number[];
  notifications: NewNotification[];
}

/** The row every outbox statement answers (`recordEmail`, `recordEmailSql`). */
export interface OutboxRow {
  email_ids: number[];
  notifications: NewNotification[];
}

/** The outbox row of a statement's answer; none (a statement that recorded nothing) is nothing recorded. */
export function recordedOf(result: { rows: OutboxRow[] }): Recorded {
  const row = result.rows[0];
  return { emailIds: row?.email_ids ?? [], notifications: row?.notifications ?? [] };
}

/** Several statements' records together. */
export function mergeRecorded(...parts: Recorded[]): Recorded {
  return {
    emailIds: parts.flatMap((part) => part.emailIds),
    notifications: parts.flatMap((part) => part.notifications),
  };
}

export const NOTHING_RECORDED: Recorded = { emailIds: [], notifications: [] };

/** The outbox of one email as the parts of a `with` statement (see `outboxSql`). */
export interface OutboxSql {
  /** Two CTEs (`<name>_mail`, `<name>_notifications`), to list in the statement's `with`. */
  ctes: SQL;
  /** The email ids, an `int[]`. */
  emailIds: SQL;
  /** The notifications made, a JSON array of `NewNotification`. */
  notifications: SQL;
}

export interface OutboxOptions {
  /**
   * A value only the batch knows (e.g. a time an earlier statement of the batch set). The text
   * is rendered with `token` (a fresh random string) in the value's place, and Postgres puts the
   * value in.
   */
  fill?: { token: string; value: SQL };
  /** What the notifications are about. */
  link?: NotificationLink;
}

function mailColumns<T extends EmailTemplate>(template: T, data: TemplateData[T], fill: OutboxOptions["fill"]) {
  const { subject, body } = renderEmail(template, data);
  const text = (value: string): SQL =>
    fill ? sql`replace(${value}::text, ${fill.token}::text, ${fill.value})` : sql`${value}::text`;
  return { subject: text(subject), template: sql`${template}::text`, body: text(body) };
}

/**
 * The outbox rows of one email to users, and their notifications, as CTEs of a write batch's
 * statement: `<name>_mail as (insert into email_log ... select ... from users u where <recipients>
 * and u.is_active order by u.id returning ...), <name>_notifications as (insert into notifications
 * ...)`. `recipients` is a condition on `u` (the users table), so the recipients are whoever is an
 * active user when the batch runs; users' addresses are unique case-insensitively, so there is one
 * row per address as with `recordEmail`. Data-modifying CTEs must be at a statement's top level,
 * which is why these are CTEs to list rather than a statement to nest.
 */
export function outboxSql<T extends EmailTemplate>(
  name: string,
  template: T,
  data: TemplateData[T],
  recipients: SQL,
  options: OutboxOptions = {},
): OutboxSql {
  const mail = sql`${sql.identifier(`${name}_mail`)}`;
  const made = sql`${sql.identifier(`${name}_notifications`)}`;
  const columns = mailColumns(template, data, options.fill);
  return {
    ctes: sql`${mail} as (
      insert into email_log (to_address, to_user_id, subject, template, body)
      select u.email, u.id, ${columns.subject}, ${columns.template}, ${columns.body}
      from users u
      where (${recipients}) and u.is_active
      order by u.id
      returning id, to_user_id, template, subject
    ), ${made} as (${notificationsFromMail(mail, options.link)})`,
    emailIds: sql`coalesce((select array_agg(id order by id) from ${mail}), '{}'::int[])`,
    notifications: newNotificationsOf(made),
  };
}

/** `outboxSql` as a statement of its own, answering one `OutboxRow`. */
export function recordEmailSql<T extends EmailTemplate>(
  template: T,
  data: TemplateData[T],
  recipients: SQL,
  options: OutboxOptions = {},
): SQL {
  const outbox = outboxSql("outbox", template, data, recipients, options);
  return sql`with ${outbox.ctes} select ${outbox.emailIds} as email_ids, ${outbox.notifications} as notifications`;
}

/**
 * Writes one outbox row per recipient, and a notification for each recipient that is a user, in
 * one statement of the caller's transaction (a pool's: the request path's writes use the SQL forms).
 */
export async function recordEmailWithNotifications<T extends EmailTemplate>(
  db: Pick<PoolDb, "execute">,
  template: T,
  recipients: Recipient[],
  data: TemplateData[T],
  link?: NotificationLink,
): Promise<Recorded> {
  const unique = [...new Map(recipients.map((r) => [r.email.toLowerCase(), r])).values()];
  if (unique.length === 0) return NOTHING_RECORDED;
  const mail = sql`${sql.identifier("outbox_mail")}`;
  const made = sql`${sql.identifier("outbox_notifications")}`;
  const columns = mailColumns(template, data, undefined);
  const addresses = sql.param(unique.map((r) => r.email));
  const userIds = sql.param(unique.map((r) => r.userId ?? null));
  const result = await db.execute<OutboxRow & Record<string, unknown>>(sql`
    with ${mail} as (
      insert into email_log (to_address, to_user_id, subject, template, body)
      select r.address, r.user_id, ${columns.subject}, ${columns.template}, ${columns.body}
      from unnest(${addresses}::text[], ${userIds}::int[]) with ordinality as r(address, user_id, n)
      order by r.n
      returning id, to_user_id, template, subject
    ), ${made} as (${notificationsFromMail(mail, link)})
    select coalesce((select array_agg(id order by id) from ${mail}), '{}'::int[]) as email_ids,
      ${newNotificationsOf(made)} as notifications`);
  return recordedOf(result);
}

/** `recordEmailWithNotifications` for a caller with nothing to push (nobody can be watching yet, as after a registration). */
export async function recordEmail<T extends EmailTemplate>(
  db: Pick<PoolDb, "execute">,
  template: T,
  recipients: Recipient[],
  data: TemplateData[T],
): Promise<number[]> {
  return (await recordEmailWithNotifications(db, template, recipients, data)).emailIds;
}

/** Enqueues recorded emails after commit; a failed send leaves the rows `queued` for the re-drive. */
export async function dispatchEmails(env: Env, emailIds: number[]): Promise<void> {
  await enqueueRows(
    env.EMAIL_QUEUE,
    emailIds,
    (emailId) => ({ kind: "email", emailId }) satisfies EmailMessage,
    "email",
  );
}
