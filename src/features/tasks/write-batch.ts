/**
 * The building blocks of a task or comment write over Neon's HTTP API, where there are no
 * interactive transactions and every request is a round trip to the database region:
 *
 * 1. Read the facts without locks, in ONE request (the task with its assignees and its row
 *    version `xmin`, the users and the department the request names). The policy decides in
 *    TypeScript.
 * 2. Run ONE `db.batch([...])`: one non-interactive transaction whose first statement
 *    (`assertTaskUnchanged`) locks the task row and checks that its version is still the one read
 *    in 1. Every later statement therefore acts on exactly the state the decision was made on,
 *    under the row lock, until commit.
 *
 * The version is the row's `xmin` (the id of the transaction that wrote this row version): every
 * update of the row, a foreign key's `ON DELETE SET NULL` included, gives it a new one. Changes to
 * a task's assignees always update the task row too (`updated_at`), so they change it as well.
 * When the check fails, `edge_assert` (migration 0004) raises SQLSTATE `ET409`, the batch rolls
 * back as a whole, and `withRetries` starts again from 1; after `MAX_ATTEMPTS` the client gets a
 * 409 it can act on. A serialization failure or deadlock (should the batch ever run under a
 * stricter isolation level) and a foreign key violation (a user or department named in the
 * request deleted between 1 and 2) are retried the same way: reading the facts again turns them
 * into the answer the request would have had from the start (404, or the usual 400).
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import { type Db, PG_FOREIGN_KEY_VIOLATION, pgErrorCode } from "../../platform/db/client.ts";
import { users } from "../../platform/db/schema.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { type NewNotification, outboxSql } from "../email/outbox.ts";
import type { TemplateData } from "../email/templates.ts";
import { type EventSpec, recordWebhooksSql } from "../webhooks/outbox.ts";
import { type Actor, type TaskFacts, taskReaders } from "./tasks.policy.ts";

/** SQLSTATE raised by `edge_assert` when the facts a write was decided on changed. */
export const PG_FACTS_CHANGED = "ET409";
const PG_SERIALIZATION_FAILURE = "40001";
const PG_DEADLOCK_DETECTED = "40P01";
const RETRYABLE = new Set([PG_FACTS_CHANGED, PG_SERIALIZATION_FAILURE, PG_DEADLOCK_DETECTED, PG_FOREIGN_KEY_VIOLATION]);

/**
 * How many times a write reads its facts and tries its batch before answering 409. Each round
 * lets at least one of the writers racing on a task commit, so this many writers hitting one task
 * at the same moment all land; only a task written to non-stop answers 409.
 */
export const MAX_ATTEMPTS = 5;

export const TASK_CHANGED_DETAIL =
  "The task was changed by someone else while your request was being applied, several times in a row. " +
  "Load the task again and repeat your change if it still applies.";

/** Thrown by a write attempt that found its facts inconsistent before its batch ran. */
export class FactsChanged extends Error {
  constructor() {
    super("facts changed between reads");
    this.name = "FactsChanged";
  }
}

function retryable(error: unknown): boolean {
  if (error instanceof FactsChanged) return true;
  const code = pgErrorCode(error);
  return code !== undefined && RETRYABLE.has(code);
}

/** Runs a write attempt (read the facts, decide, one batch) until it commits, at most `MAX_ATTEMPTS` times. */
export async function withRetries<T>(attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!retryable(error)) throw error;
      if (n >= MAX_ATTEMPTS) throw new ApiError(409, TASK_CHANGED_DETAIL, { cause: error });
    }
  }
}

/** A Postgres `int[]` parameter (an empty list is `'{}'`, never a syntax error). */
export function intArray(ids: readonly number[]): SQL {
  return sql`${sql.param([...ids])}::int[]`;
}

/**
 * The first statement of a write batch: locks the live task row (`FOR UPDATE` for task writes,
 * `FOR SHARE` for comments, which only need it to stay as read) and aborts the batch unless its
 * version is `version` and `also` (more facts re-checked in the same breath) holds.
 */
export function assertTaskUnchanged(
  db: Db,
  taskId: number,
  version: string,
  options: { lock?: "update" | "share"; also?: SQL } = {},
) {
  const lock = sql.raw(options.lock === "share" ? "for share" : "for update");
  const current = sql`(select xmin::text from tasks where id = ${taskId} and deleted_at is null ${lock})`;
  const condition = options.also
    ? sql`${current} is not distinct from ${version} and ${options.also}`
    : sql`${current} is not distinct from ${version}`;
  return db.execute<{ ok: boolean }>(sql`select edge_assert(${condition}, 'task changed') as ok`);
}

/** A re-check for a batch: the department exists (or none is named). */
export function departmentExists(departmentId: number | null): SQL {
  return departmentId === null ? sql`true` : sql`exists (select 1 from departments where id = ${departmentId})`;
}

/** A re-check for a batch: every one of `ids` is an active user. */
export function allActiveUsers(ids: readonly number[]): SQL {
  if (ids.length === 0) return sql`true`;
  return sql`(select count(*) from users where id = any(${intArray(ids)}) and is_active) = ${ids.length}`;
}

/**
 * The last statement of a task write batch: every user whose view of the task may have changed,
 * i.e. everyone who could read it before (`before`, as read in round trip 1 and re-checked by the
 * batch's first statement) or can read it after (`taskReaders`, read after the batch's writes).
 */
export function affectedUsers(db: Db, taskId: number, before: TaskFacts | null) {
  const known = before ? [before.creatorId, ...before.assigneeIds] : [];
  if (before?.assignedById != null) known.push(before.assignedById);
  return db.execute<{ ids: number[] | null }>(sql`
    select array(
      select id from (
        select unnest(${intArray(known)}) as id
        union ${taskReaders(sql`t.id = ${taskId}`, before?.departmentId ?? null)}
      ) ids
      where id is not null
      order by id
    ) as ids`);
}

/**
 * One statement that changes a task's assignees: inserts `add` (existing rows are kept), deletes
 * `remove`, writes one audit row per user actually added or removed, and records the
 * `task_assigned` mail (and notification) of each user actually added (if active). Answers the ids
 * added, removed and of the mail rows, and the notifications made.
 */
export function changeAssigneesStatement(
  db: Db,
  args: {
    taskId: number;
    callerId: number;
    add: readonly number[];
    remove: readonly number[];
    mail: TemplateData["task_assigned"];
  },
) {
  const { taskId, callerId, add, remove, mail } = args;
  const outbox = outboxSql("assigned", "task_assigned", mail, sql`u.id in (select user_id from added)`, {
    link: { task: taskId },
  });
  return db.execute<{ added: number[]; removed: number[]; email_ids: number[]; notifications: NewNotification[] }>(sql`
    with added as (
      insert into task_assignees (task_id, user_id)
      select ${taskId}::int, user_id from unnest(${intArray(add)}) with ordinality as a(user_id, n) order by n
      on conflict do nothing
      returning user_id
    ), removed as (
      delete from task_assignees where task_id = ${taskId} and user_id = any(${intArray(remove)})
      returning user_id
    ), audit as (
      insert into task_assignments (task_id, assigned_to_id, assigned_by_id, action)
      select ${taskId}::int, user_id, ${callerId}::int, 'assigned' from added
      union all
      select ${taskId}::int, user_id, ${callerId}::int, 'unassigned' from removed
    ), ${outbox.ctes}
    select
      coalesce((select array_agg(user_id order by user_id) from added), '{}') as added,
      coalesce((select array_agg(user_id order by user_id) from removed), '{}') as removed,
      ${outbox.emailIds} as email_ids,
      ${outbox.notifications} as notifications`);
}

/** The first row of a raw statement's answer, or a `FactsChanged` (retry) when there is none. */
export function firstRow<T>(result: { rows: T[] }): T {
  const row = result.rows[0];
  if (row === undefined) throw new FactsChanged();
  return row;
}

/** The outcome of a write: what to answer, whom to email and notify, which webhook deliveries to queue, whose caches to refresh. */
export interface WriteResult<T> {
  value: T;
  emailIds: number[];
  notifications: NewNotification[];
  deliveryIds: number[];
  affectedUserIds: number[];
}

export interface Caller extends Actor {
  fullName: string;
}

/** The active users among `ids`, as a query a `db.batch` can hold. */
export function activeUsersQuery(db: Db, ids: readonly number[]) {
  return db
    .select({ id: users.id })
    .from(users)
    .where(and(sql`${users.id} = any(${intArray(ids)})`, eq(users.isActive, true)));
}

/** 400 unless every one of `ids` is among the active users `found`. */
export function assertUsersExist(ids: readonly number[], found: readonly { id: number }[], field: string): void {
  const known = new Set(found.map((row) => row.id));
  const missing = ids.filter((id) => !known.has(id));
  if (missing.length > 0) {
    throw ApiError.badRequest(`Invalid input in ${field}: unknown user ${missing.join(", ")}.`, [
      { field, message: `unknown user id(s): ${missing.join(", ")}` },
    ]);
  }
}

/** The email ids and notifications of an assignee change's answer. */
export const assignedOutbox = (result: { rows: { email_ids: number[]; notifications: NewNotification[] }[] }) => {
  const row = firstRow(result);
  return { emailIds: row.email_ids, notifications: row.notifications };
};

/** The ids a statement's `returning` gave. */
export const returnedIds = (result: { rows: { id: number }[] }): number[] => result.rows.map((row) => row.id);

/** The webhook deliveries of a write's events, as a statement of its batch (after the writes it describes). */
export function webhookStatement(db: Db, events: readonly EventSpec[]) {
  return db.execute<{ id: number }>(recordWebhooksSql(events));
}

/** A batch statement that does nothing: keeps a batch's shape when a step has nothing to do. */
export function nothing<T extends Record<string, unknown>>(db: Db) {
  return db.execute<T>(sql`select 1 as id where false`);
}
