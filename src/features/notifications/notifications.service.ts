/**
 * Notification rules and queries. Every query is scoped to its caller's `user_id`: an id that is
 * someone else's answers exactly as an unknown one (404), so ids reveal nothing.
 *
 * Notifications are written only by the email outbox (`features/email/outbox.ts`), through
 * `notificationsFromMail`: the same statement that records an email records one notification per
 * recipient that is a user, so a rolled-back change leaves neither, and a write costs no extra
 * round trip for them.
 */
import { and, eq, isNotNull, isNull, type SQL, sql } from "drizzle-orm";
import type { Db } from "../../platform/db/client.ts";
import { notifications } from "../../platform/db/schema.ts";
import { countedPage, countOf, type Listing, newestFirst, type PageParams } from "../../platform/http/pagination.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import type { NotificationResponse } from "./notifications.schemas.ts";

/** What a notification is about. */
export interface NotificationLink {
  task?: number;
  upload?: string;
}

/** A notification just made, with the user it is for (who must be the only one to receive it). */
export interface NewNotification {
  user: number;
  notification: NotificationResponse;
}

type NotificationRow = typeof notifications.$inferSelect;

export function toNotificationResponse(row: NotificationRow): NotificationResponse {
  return {
    id: row.id,
    type: row.type,
    title: row.title,
    task: row.taskId,
    upload: row.uploadId,
    read_at: row.readAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
  };
}

/** A timestamp as the API writes it (`Date.toISOString`: UTC, milliseconds, `Z`). */
const isoText = (column: SQL) => sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The body of a data-modifying CTE: one notification per row of `mail` (a CTE of the same
 * statement, `insert into email_log ... returning id, to_user_id, template, subject`) that went to
 * a user, titled with the email's subject. Returns `pushed`: the notification as the API shows it,
 * with its user, for the live stream after commit.
 */
export function notificationsFromMail(mail: SQL, link: NotificationLink = {}): SQL {
  return sql`insert into notifications (user_id, type, title, task_id, upload_id)
    select m.to_user_id, m.template, m.subject, ${link.task ?? null}::int, ${link.upload ?? null}::uuid
    from ${mail} m
    where m.to_user_id is not null
    order by m.id
    returning id, json_build_object(
      'user', user_id,
      'notification', json_build_object(
        'id', id, 'type', type, 'title', title, 'task', task_id, 'upload', upload_id,
        'read_at', null, 'created_at', ${isoText(sql`created_at`)}
      )
    ) as pushed`;
}

/** The notifications a `notificationsFromMail` CTE made, as one JSON array (oldest first). */
export function newNotificationsOf(made: SQL): SQL {
  return sql`coalesce((select json_agg(pushed order by id) from ${made}), '[]'::json)`;
}

const unreadCondition = (unread: boolean | undefined) =>
  unread === undefined ? undefined : unread ? isNull(notifications.readAt) : isNotNull(notifications.readAt);

/** The caller's notifications, newest first; `unread` true: only unread, false: only read. One round trip. */
export async function listNotifications(
  db: Db,
  userId: number,
  filter: { unread?: boolean },
  page: PageParams,
): Promise<Listing<NotificationResponse>> {
  const where = and(eq(notifications.userId, userId), unreadCondition(filter.unread));
  const select = db.select().from(notifications).$dynamic();
  const [total, rows] = await db.batch(countedPage(db, notifications, where, select, newestFirst(notifications), page));
  return { count: countOf(total), results: rows.map(toNotificationResponse) };
}

/**
 * Marks one of the caller's notifications read (404 if it is not theirs). Marking it again keeps
 * the first time it was read.
 */
export async function markRead(db: Db, userId: number, id: number): Promise<void> {
  const rows = await db
    .update(notifications)
    .set({ readAt: sql`coalesce(${notifications.readAt}, now())` })
    .where(and(eq(notifications.id, id), eq(notifications.userId, userId)))
    .returning({ id: notifications.id });
  if (rows.length === 0) throw ApiError.notFound("Notification");
}

/** Marks every unread notification of the caller read. */
export async function markAllRead(db: Db, userId: number): Promise<void> {
  await db
    .update(notifications)
    .set({ readAt: sql`now()` })
    .where(and(eq(notifications.userId, userId), isNull(notifications.readAt)));
}
