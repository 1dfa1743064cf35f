/**
 * Webhook subscriptions and their deliveries in the database. Who may call this is decided by the
 * routes (`webhooks.policy.ts`); which URLs are accepted, here, by the same rule the consumer
 * applies before every delivery. Every read is one round trip (a page and its count in one batch).
 */
import { and, asc, desc, eq, sql } from "drizzle-orm";
import { type AppConfig, isProductionLike } from "../../platform/config/config.ts";
import type { Db } from "../../platform/db/client.ts";
import { insertedRow } from "../../platform/db/rows.ts";
import { webhookAttempts, webhookDeliveries, webhookSubscriptions } from "../../platform/db/schema.ts";
import { countedPage, countOf, type Listing, type PageParams } from "../../platform/http/pagination.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { newWebhookSecret } from "./signing.ts";
import { assertWebhookUrl, type UrlPolicy } from "./webhooks.policy.ts";
import type {
  CreateWebhookInput,
  DeliveryDetailResponse,
  DeliveryResponse,
  UpdateWebhookInput,
  WebhookResponse,
} from "./webhooks.schemas.ts";

/** Production and staging send only to public `https` hosts; anywhere else, local receivers too. */
export function urlPolicyFor(config: AppConfig): UrlPolicy {
  return isProductionLike(config) ? "production" : "development";
}

type SubscriptionRow = typeof webhookSubscriptions.$inferSelect;
type DeliveryRow = typeof webhookDeliveries.$inferSelect;

/** Every column but the secret: no read ever selects it. */
const PUBLIC_COLUMNS = {
  id: webhookSubscriptions.id,
  url: webhookSubscriptions.url,
  events: webhookSubscriptions.events,
  description: webhookSubscriptions.description,
  active: webhookSubscriptions.active,
  createdById: webhookSubscriptions.createdById,
  createdAt: webhookSubscriptions.createdAt,
  updatedAt: webhookSubscriptions.updatedAt,
};

function toWebhook(row: Omit<SubscriptionRow, "secret">): WebhookResponse {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    description: row.description,
    active: row.active,
    created_by: row.createdById,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function toDelivery(row: DeliveryRow): DeliveryResponse {
  return {
    id: row.id,
    event: row.event,
    status: row.status,
    attempts: row.attempts,
    response_status: row.responseStatus,
    created_at: row.createdAt.toISOString(),
    delivered_at: row.deliveredAt?.toISOString() ?? null,
  };
}

const notFound = () => ApiError.notFound("Webhook");

export async function createWebhook(
  db: Db,
  creatorId: number,
  policy: UrlPolicy,
  input: CreateWebhookInput,
): Promise<WebhookResponse & { secret: string }> {
  assertWebhookUrl(input.url, policy);
  const secret = newWebhookSecret();
  const row = insertedRow(
    await db
      .insert(webhookSubscriptions)
      .values({
        url: input.url,
        events: input.events,
        description: input.description ?? "",
        secret,
        createdById: creatorId,
      })
      .returning(PUBLIC_COLUMNS),
  );
  return { ...toWebhook(row), secret };
}

export async function listWebhooks(db: Db, page: PageParams): Promise<Listing<WebhookResponse>> {
  const select = db.select(PUBLIC_COLUMNS).from(webhookSubscriptions).$dynamic();
  const byId = [asc(webhookSubscriptions.id)];
  const [total, rows] = await db.batch(countedPage(db, webhookSubscriptions, undefined, select, byId, page));
  return { count: countOf(total), results: rows.map(toWebhook) };
}

export async function getWebhook(db: Db, id: number): Promise<WebhookResponse> {
  const [row] = await db.select(PUBLIC_COLUMNS).from(webhookSubscriptions).where(eq(webhookSubscriptions.id, id));
  if (!row) throw notFound();
  return toWebhook(row);
}

export async function updateWebhook(
  db: Db,
  id: number,
  policy: UrlPolicy,
  input: UpdateWebhookInput,
): Promise<WebhookResponse> {
  if (input.url !== undefined) assertWebhookUrl(input.url, policy);
  const [row] = await db
    .update(webhookSubscriptions)
    .set({
      url: input.url,
      events: input.events,
      description: input.description,
      active: input.active,
      updatedAt: sql`clock_timestamp()`,
    })
    .where(eq(webhookSubscriptions.id, id))
    .returning(PUBLIC_COLUMNS);
  if (!row) throw notFound();
  return toWebhook(row);
}

/** Deletes the subscription with its deliveries and their attempts; queued messages then find nothing to send. */
export async function deleteWebhook(db: Db, id: number): Promise<void> {
  const deleted = await db
    .delete(webhookSubscriptions)
    .where(eq(webhookSubscriptions.id, id))
    .returning({ id: webhookSubscriptions.id });
  if (deleted.length === 0) throw notFound();
}

export async function listDeliveries(
  db: Db,
  subscriptionId: number,
  page: PageParams,
): Promise<Listing<DeliveryResponse>> {
  const mine = eq(webhookDeliveries.subscriptionId, subscriptionId);
  const select = db.select().from(webhookDeliveries).$dynamic();
  const [found, total, rows] = await db.batch([
    db
      .select({ id: webhookSubscriptions.id })
      .from(webhookSubscriptions)
      .where(eq(webhookSubscriptions.id, subscriptionId)),
    ...countedPage(db, webhookDeliveries, mine, select, [desc(webhookDeliveries.id)], page),
  ]);
  if (found.length === 0) throw notFound();
  return { count: countOf(total), results: rows.map(toDelivery) };
}

export async function getDelivery(db: Db, subscriptionId: number, deliveryId: number): Promise<DeliveryDetailResponse> {
  const [found, deliveries, attempts] = await db.batch([
    db
      .select({ id: webhookSubscriptions.id })
      .from(webhookSubscriptions)
      .where(eq(webhookSubscriptions.id, subscriptionId)),
    db
      .select()
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.subscriptionId, subscriptionId))),
    db
      .select()
      .from(webhookAttempts)
      .where(eq(webhookAttempts.deliveryId, deliveryId))
      .orderBy(asc(webhookAttempts.id)),
  ]);
  if (found.length === 0) throw notFound();
  const delivery = deliveries[0];
  if (!delivery) throw ApiError.notFound("Delivery");
  return {
    ...toDelivery(delivery),
    payload: delivery.payload,
    attempt_log: attempts.map((attempt) => ({
      attempted_at: attempt.attemptedAt.toISOString(),
      response_status: attempt.responseStatus,
      error: attempt.error,
      duration_ms: attempt.durationMs,
    })),
  };
}

/**
 * Records a `ping` for the subscription (the caller enqueues it). 409 while the subscription is
 * inactive: the consumer would drop it.
 */
export async function recordPing(db: Db, subscriptionId: number, actorId: number): Promise<DeliveryResponse> {
  const [subscription] = await db
    .select({ active: webhookSubscriptions.active })
    .from(webhookSubscriptions)
    .where(eq(webhookSubscriptions.id, subscriptionId));
  if (!subscription) throw notFound();
  if (!subscription.active) {
    throw ApiError.conflict("The webhook is inactive; set `active` to true before sending a test.");
  }
  const row = insertedRow(
    await db
      .insert(webhookDeliveries)
      .values({
        subscriptionId,
        event: "ping",
        payload: { webhook: subscriptionId, actor: actorId, message: "Test delivery from Edge Tasks." },
      })
      .returning(),
  );
  return toDelivery(row);
}
