/**
 * The transactional outbox of webhooks, as the email outbox is for mail. A write puts
 * `recordWebhooksSql` into the batch (or runs `recordWebhooks` in the transaction) that makes the
 * change: one `INSERT … SELECT` writes a delivery row per active subscription asking for each
 * event, so a rolled-back change delivers nothing and the event costs no round trip of its own.
 * After commit the caller hands the returned ids to `dispatchWebhooks`, which enqueues them; a lost
 * enqueue is re-driven by the cron (`redrive.ts`).
 */
import { type SQL, sql } from "drizzle-orm";
import type { PoolDb, Tx } from "../../platform/db/client.ts";
import type { WebhookEvent } from "../../platform/db/schema.ts";
import { enqueueRows } from "../../platform/queues/outbox.ts";

export interface WebhookMessage {
  kind: "webhook";
  deliveryId: number;
}

/** One event of a write: its type and its `data`, as a `jsonb` expression the batch evaluates. */
export interface EventSpec {
  event: WebhookEvent;
  data: SQL;
}

/** A timestamptz as `Date#toISOString` writes it (null stays null). */
function isoText(timestamp: SQL): SQL {
  return sql`to_char(${timestamp} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/**
 * A task as `GET /tasks/{id}/` shows it, built by Postgres from the row as the batch left it (so
 * values its clock set, `updated_at` and `completed_at`, are the committed ones).
 */
export function taskJson(taskId: number): SQL {
  return sql`(select jsonb_build_object(
      'id', t.id, 'title', t.title, 'description', t.description, 'status', t.status,
      'priority', t.priority, 'due_date', ${isoText(sql`t.due_date`)},
      'estimate_hours', t.estimate_hours::float8, 'department', t.department_id,
      'creator', t.creator_id, 'assigned_by', t.assigned_by_id,
      'assignees', coalesce((select jsonb_agg(a.user_id order by a.user_id) from task_assignees a where a.task_id = t.id), '[]'::jsonb),
      'completed_at', ${isoText(sql`t.completed_at`)}, 'created_at', ${isoText(sql`t.created_at`)},
      'updated_at', ${isoText(sql`t.updated_at`)})
    from tasks t where t.id = ${taskId})`;
}

/** `{task, actor, ...extra}`: the `data` of every task event. */
export function taskEventData(taskId: number, actorId: number, extra: Record<string, unknown> = {}): SQL {
  return sql`(jsonb_build_object('task', ${taskJson(taskId)}, 'actor', ${actorId}::int) || ${JSON.stringify(extra)}::jsonb)`;
}

/**
 * One statement that records `events` for every active subscription asking for them and answers
 * the new rows' ids. With no events it still runs (and inserts nothing), so a batch keeps its shape.
 */
export function recordWebhooksSql(events: readonly EventSpec[]): SQL {
  if (events.length === 0) return sql`select 1 as id where false`;
  const rows = sql.join(
    events.map((e) => sql`(${e.event}::text, ${e.data})`),
    sql`, `,
  );
  return sql`insert into webhook_deliveries (subscription_id, event, payload)
    select s.id, e.event, e.data
    from (values ${rows}) as e(event, data)
    join webhook_subscriptions s on s.active and s.events @> array[e.event]::text[]
    order by s.id
    returning id`;
}

/** `recordWebhooksSql` on a transaction or pool (the upload outcome's interactive transaction). */
export async function recordWebhooks(db: PoolDb | Tx, events: readonly EventSpec[]): Promise<number[]> {
  if (events.length === 0) return [];
  const result = await db.execute<{ id: number }>(recordWebhooksSql(events));
  return result.rows.map((row) => row.id);
}

/** Enqueues recorded deliveries after commit; a failed send leaves the rows `pending` for the re-drive. */
export async function dispatchWebhooks(env: Env, deliveryIds: readonly number[]): Promise<void> {
  await enqueueRows(
    env.WEBHOOK_QUEUE,
    deliveryIds,
    (deliveryId) => ({ kind: "webhook", deliveryId }) satisfies WebhookMessage,
    "webhook",
  );
}
