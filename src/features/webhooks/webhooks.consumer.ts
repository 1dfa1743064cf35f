/**
 * Consumers of the `webhooks` queue and its dead-letter queue. Each message names one
 * `webhook_deliveries` row. Delivery is at least once: a row no longer `pending` (a redelivery
 * after success, or a re-drive of a row that was in the queue after all) is acknowledged without
 * sending. Every attempt is written to `webhook_attempts` and logged (ids masked; never the URL,
 * the secret or the payload). A network error, a timeout or a non-2xx answer is retried with
 * exponential backoff (`platform/queues/backoff.ts`); after the queue's last retry the runtime moves the
 * message to `webhooks-dlq`, whose consumer marks the row `failed`.
 */
import { sql } from "drizzle-orm";
import { getConfig } from "../../platform/config/config.ts";
import type { PoolDb } from "../../platform/db/client.ts";
import type { WebhookDeliveryEvent } from "../../platform/db/schema.ts";
import { errorFields, log } from "../../platform/lib/log.ts";
import { maskId } from "../../platform/lib/mask.ts";
import { backoffBaseSeconds, backoffDelaySeconds } from "../../platform/queues/backoff.ts";
import type { QueueConsumer } from "../../platform/queues/dispatch.ts";
import { consumeRows, type RowOutcome } from "../../platform/queues/row-consumer.ts";
import { webhookHeaders } from "./signing.ts";
import { webhookUrlProblem } from "./webhooks.policy.ts";
import { urlPolicyFor } from "./webhooks.service.ts";

export const DEFAULT_RETRY_BASE_SECONDS = 30;
/** Cloudflare Queues accepts retry delays up to 12 hours. */
export const MAX_RETRY_DELAY_SECONDS = 12 * 60 * 60;
/** A receiver must answer within this; a slow one is a failed attempt, retried like any other. */
export const DELIVERY_TIMEOUT_MS = 10_000;

/** The id named by a queue message, or null for anything that is not a webhook message. */
export function deliveryIdOf(body: unknown): number | null {
  if (typeof body !== "object" || body === null) return null;
  const { kind, deliveryId } = body as { kind?: unknown; deliveryId?: unknown };
  return kind === "webhook" && typeof deliveryId === "number" && Number.isInteger(deliveryId) && deliveryId > 0
    ? deliveryId
    : null;
}

/** The `webhook-id` of a delivery: the same on every attempt, so receivers can drop duplicates. */
export function webhookMessageId(deliveryId: number): string {
  return `msg_${deliveryId}`;
}

interface DeliveryRow extends Record<string, unknown> {
  id: number;
  subscription_id: number;
  event: WebhookDeliveryEvent;
  payload: Record<string, unknown>;
  status: string;
  attempts: number;
  created_at: string;
  url: string;
  secret: string;
  active: boolean;
}

interface Attempt {
  responseStatus: number | null;
  error: string | null;
  durationMs: number;
}

/** Sends one request and says what happened, as the attempt log keeps it. Never throws. */
async function post(url: string, headers: Record<string, string>, body: string): Promise<Attempt> {
  const started = Date.now();
  try {
    // Redirects are not followed: a public host must not be able to bounce a delivery elsewhere.
    const response = await fetch(url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    await response.body?.cancel();
    const redirected = response.status >= 300 && response.status < 400;
    return {
      responseStatus: response.status,
      error: redirected ? "The receiver answered with a redirect, which is not followed." : null,
      durationMs: Date.now() - started,
    };
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    const reason = error instanceof Error ? error.message : String(error);
    return {
      responseStatus: null,
      error: timedOut
        ? `The receiver did not answer within ${DELIVERY_TIMEOUT_MS / 1000} seconds.`
        : `The request could not be sent: ${reason}`,
      durationMs: Date.now() - started,
    };
  }
}

/**
 * Writes one attempt and its effect on the delivery in one statement: `delivered` on a 2xx,
 * `failed` when `final` (nothing more will be tried), else still `pending`.
 */
async function recordAttempt(db: PoolDb, deliveryId: number, attempt: Attempt, final: boolean): Promise<void> {
  const ok = attempt.responseStatus !== null && attempt.responseStatus >= 200 && attempt.responseStatus < 300;
  const status = ok ? "delivered" : final ? "failed" : "pending";
  await db.execute(sql`
    with attempt as (
      insert into webhook_attempts (delivery_id, response_status, error, duration_ms)
      values (${deliveryId}, ${attempt.responseStatus}, ${attempt.error}, ${attempt.durationMs})
    )
    update webhook_deliveries set
      attempts = attempts + 1,
      response_status = ${attempt.responseStatus},
      status = ${status},
      delivered_at = ${ok ? sql`clock_timestamp()` : sql`null`}
    where id = ${deliveryId} and status = 'pending'`);
}

async function deliverOne(db: PoolDb, env: Env, deliveryId: number): Promise<RowOutcome> {
  const config = getConfig(env);
  const { rows } = await db.execute<DeliveryRow>(sql`
    select d.id, d.subscription_id, d.event, d.payload, d.status, d.attempts,
      to_char(d.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at,
      s.url, s.secret, s.active
    from webhook_deliveries d join webhook_subscriptions s on s.id = d.subscription_id
    where d.id = ${deliveryId}`);
  const row = rows[0];
  const fields = { delivery_id: maskId(deliveryId), subscription_id: maskId(row?.subscription_id), event: row?.event };
  if (!row) {
    // Gone with its subscription (deleted), or its transaction rolled back: nothing to send.
    log("info", "webhook delivery missing", fields);
    return "ack";
  }
  if (row.status !== "pending") return "ack";
  if (!row.active) {
    // Deactivated after the event was recorded: the subscriber asked for nothing more.
    await db.execute(
      sql`update webhook_deliveries set status = 'failed' where id = ${deliveryId} and status = 'pending'`,
    );
    log("info", "webhook delivery dropped: subscription inactive", fields);
    return "ack";
  }
  const problem = webhookUrlProblem(row.url, urlPolicyFor(config));
  if (problem) {
    await recordAttempt(
      db,
      deliveryId,
      { responseStatus: null, error: `Not sent: the URL ${problem}.`, durationMs: 0 },
      true,
    );
    log("warn", "webhook delivery refused by the URL policy", fields);
    return "ack";
  }

  const body = JSON.stringify({ type: row.event, timestamp: row.created_at, data: row.payload });
  const headers = await webhookHeaders(row.secret, webhookMessageId(row.id), Math.floor(Date.now() / 1000), body);
  const attempt = await post(row.url, headers, body);
  await recordAttempt(db, deliveryId, attempt, false);
  const delivered = attempt.responseStatus !== null && attempt.responseStatus >= 200 && attempt.responseStatus < 300;
  log(delivered ? "info" : "warn", "webhook attempt", {
    ...fields,
    attempt: row.attempts + 1,
    response_status: attempt.responseStatus,
    duration_ms: attempt.durationMs,
    outcome: delivered ? "delivered" : "retry",
    error: attempt.error,
  });
  return delivered ? "ack" : "retry";
}

function retryBaseSeconds(env: Env): number {
  return backoffBaseSeconds(env.WEBHOOK_RETRY_BASE_SECONDS, DEFAULT_RETRY_BASE_SECONDS);
}

export const consumeWebhooks: QueueConsumer = consumeRows({
  rowIdOf: deliveryIdOf,
  onMalformed: (message) => log("error", "malformed webhook message", { message_id: maskId(message.id) }),
  handle: deliverOne,
  // The database failed, not the receiver: try again later rather than lose the message.
  onError: (deliveryId, error) =>
    log("error", "webhook consumer error", { delivery_id: maskId(deliveryId), ...errorFields(error) }),
  retryOptions: (env, attempts) => ({
    delaySeconds: backoffDelaySeconds(retryBaseSeconds(env), attempts, MAX_RETRY_DELAY_SECONDS),
  }),
});

/** Messages that exhausted their retries: the delivery becomes `failed`, its attempts kept. */
export const consumeWebhookDeadLetters: QueueConsumer = consumeRows({
  rowIdOf: deliveryIdOf,
  handle: async (db, _env, deliveryId) => {
    await db.execute(
      sql`update webhook_deliveries set status = 'failed' where id = ${deliveryId} and status = 'pending'`,
    );
    log("error", "webhook delivery dead-lettered", { delivery_id: maskId(deliveryId) });
    return "ack";
  },
  onError: (deliveryId, error) =>
    log("error", "webhook dead-letter consumer error", { delivery_id: maskId(deliveryId), ...errorFields(error) }),
});
