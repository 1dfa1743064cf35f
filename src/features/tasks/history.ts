/**
 * Task history: the one module that writes `task_events` (`history.service.ts` reads them).
 *
 * Each write of a task (or of its assignees, comments, attachments) adds `recordEvent(...)` to the
 * batch that makes the change, so the entry commits or rolls back with it and costs no extra round
 * trip. `changes` maps each changed field to `[old, new]` in the API's own representation (the
 * fields of a task as `GET /tasks/{id}/` shows them). The old values come from the facts the write
 * read, which the batch's first statement re-checks under the row lock, so they are exact; values
 * only Postgres knows (the `completed_at` its clock sets) are filled in by the statement itself.
 */
import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../../platform/db/client.ts";
import type { TaskChanges, TaskEventAction } from "../../platform/db/schema.ts";
import type { TaskResponse } from "./tasks.schemas.ts";

/** `2025-01-02T03:04:05.678Z` for a timestamptz in SQL: exactly what `Date#toISOString` gives for it. */
export function isoText(timestamp: SQL): SQL {
  return sql`to_char(${timestamp} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/** The fields of a task whose changes history records (`updated_at` changes with every write, so it says nothing). */
export const HISTORY_FIELDS = [
  "title",
  "description",
  "status",
  "priority",
  "due_date",
  "estimate_hours",
  "department",
  "assignees",
  "completed_at",
] as const satisfies readonly (keyof TaskResponse)[];
type HistoryField = (typeof HISTORY_FIELDS)[number];

/** `[old, new]` of every field in `fields` whose value differs between the two representations. */
export function fieldChanges(
  before: Partial<Pick<TaskResponse, HistoryField>>,
  after: Partial<Pick<TaskResponse, HistoryField>>,
  fields: readonly HistoryField[] = HISTORY_FIELDS,
): TaskChanges {
  const changes: TaskChanges = {};
  for (const field of fields) {
    const old = before[field] ?? null;
    const next = after[field] ?? null;
    if (JSON.stringify(old) !== JSON.stringify(next)) changes[field] = [old, next];
  }
  return changes;
}

/** `completed_at: [old, the value this transaction set]`, for a change whose new time is Postgres's. */
export function completedAtSetByDatabase(taskId: number, old: string | null): SQL {
  const now = isoText(sql`(select completed_at from tasks where id = ${taskId})`);
  return sql`jsonb_build_object('completed_at', jsonb_build_array(${old}::text, ${now}))`;
}

export interface TaskEvent {
  taskId: number;
  actorId: number;
  action: TaskEventAction;
  changes: TaskChanges;
  /** More changes computed by Postgres in the same statement (a `jsonb` expression). */
  changesInSql?: SQL;
}

/** The history entry of a change, as a statement of the change's own batch. */
export function recordEvent(db: Db, event: TaskEvent) {
  const known = sql`${JSON.stringify(event.changes)}::jsonb`;
  const changes = event.changesInSql ? sql`(${known} || ${event.changesInSql})` : known;
  return db.execute<{ id: number }>(sql`
    insert into task_events (task_id, actor_id, action, changes)
    values (${event.taskId}, ${event.actorId}, ${event.action}, ${changes})
    returning id`);
}

/** `{<field>: [null, the id the previous insert of this transaction took from <table>'s sequence]}`. */
function insertedIdChange(field: string, table: string): SQL {
  return sql`jsonb_build_object(${field}::text, jsonb_build_array(null, currval(pg_get_serial_sequence(${table}, 'id'))))`;
}

/** The rows added to a task whose adding its history records: the event, its changes' field, the table. */
const ADDED_ROWS = {
  comment: { action: "commented", field: "comment", table: "task_comments" },
  attachment: { action: "attachment_added", field: "attachment", table: "task_attachments" },
} as const satisfies Record<string, { action: TaskEventAction; field: string; table: string }>;

/**
 * The history entry of adding a row to a task (a comment, an attachment), as the statement right
 * after the insert in the same batch: its changes are `{<field>: [null, the new row's id]}`.
 */
export function recordInserted(db: Db, kind: keyof typeof ADDED_ROWS, taskId: number, actorId: number) {
  const { action, field, table } = ADDED_ROWS[kind];
  return recordEvent(db, { taskId, actorId, action, changes: {}, changesInSql: insertedIdChange(field, table) });
}

/**
 * Marks a pending attachment ready and records `attachment_added`, in one statement, only when
 * this statement is the one that made it ready (a repeated or concurrent completion records nothing).
 */
export function attachmentReadyStatement(db: Db, attachmentId: number, actorId: number) {
  return db.execute<{ id: number }>(sql`
    with ready as (
      update task_attachments set status = 'ready', completed_at = clock_timestamp()
      where id = ${attachmentId} and status = 'pending'
      returning id, task_id
    )
    insert into task_events (task_id, actor_id, action, changes)
    select task_id, ${actorId}::int, 'attachment_added', jsonb_build_object('attachment', jsonb_build_array(null, id))
    from ready
    returning id`);
}

/** Deletes an attachment and records `attachment_deleted` when it was a ready one, in one statement. */
export function attachmentDeleteStatement(db: Db, attachmentId: number, actorId: number) {
  return db.execute<{ id: number }>(sql`
    with gone as (
      delete from task_attachments where id = ${attachmentId}
      returning id, task_id, status
    )
    insert into task_events (task_id, actor_id, action, changes)
    select task_id, ${actorId}::int, 'attachment_deleted', jsonb_build_object('attachment', jsonb_build_array(id, null))
    from gone where status = 'ready'
    returning id`);
}
