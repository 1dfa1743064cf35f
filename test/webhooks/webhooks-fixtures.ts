/**
 * Webhook test helpers: subscriptions pointing at the Node-side receiver
 * (test/node/webhook-receiver.ts), each at a path of its own, and what the receiver and the
 * database say about their deliveries.
 */
import { eq } from "drizzle-orm";
import { expect } from "vitest";
import { WEBHOOK_EVENTS, webhookDeliveries } from "../../src/platform/db/schema.ts";
import { eventually, testEnv, withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";

/** Whoever calls: only the token matters. */
type Caller = { token: string };

/** Every event a subscription can ask for. */
export const ALL_EVENTS: string[] = [...WEBHOOK_EVENTS];

export interface Subscription {
  id: number;
  url: string;
  events: string[];
  description: string;
  active: boolean;
  created_by: number | null;
  created_at: string;
  updated_at: string;
  secret?: string;
}

export interface Received {
  headers: Record<string, string>;
  body: string;
  status: number;
  verified: boolean | null;
}

export interface Envelope {
  type: string;
  timestamp: string;
  data: Record<string, unknown> & { task?: { id: number } & Record<string, unknown>; assignees?: number[] };
}

export function receiverUrl(name: string): string {
  return `${testEnv.TEST_WEBHOOK_RECEIVER_URL}/hooks/${name}`;
}

/** Subscribes a fresh receiver path; answers the subscription (with its secret) and the path's name. */
export async function subscribe(
  user: Caller,
  events: string[] = ALL_EVENTS,
): Promise<{ hook: Subscription & { secret: string }; name: string }> {
  const name = `r-${crypto.randomUUID()}`;
  const response = await api("/webhooks/", {
    token: user.token,
    json: { url: receiverUrl(name), events, description: "test receiver" },
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return { hook: await json<Subscription & { secret: string }>(response), name };
}

export async function received(name: string, secret?: string): Promise<Received[]> {
  const query = secret ? `?secret=${encodeURIComponent(secret)}` : "";
  const response = await fetch(`${testEnv.TEST_WEBHOOK_RECEIVER_URL}/__deliveries/${name}${query}`);
  return (await response.json()) as Received[];
}

/**
 * Fails the next `count` deliveries to `name` (only those of event `type`, or of `webhook-id` `id`,
 * when given), answering `status` (with a `Location` header when `location` is given).
 */
export async function failNext(
  name: string,
  count: number,
  status: number,
  only: { type?: string; id?: string; location?: string } = {},
): Promise<void> {
  const response = await fetch(`${testEnv.TEST_WEBHOOK_RECEIVER_URL}/__fail/${name}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ count, status, ...only }),
  });
  expect(response.status).toBe(200);
}

export const envelope = (delivery: Received): Envelope => JSON.parse(delivery.body) as Envelope;

/** Waits until the delivery row has left `pending`, and answers it. */
export async function settledDelivery(deliveryId: number, timeoutMs = 20_000) {
  return eventually(async () => {
    const [row] = await withDb((db) => db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, deliveryId)));
    return row && row.status !== "pending" ? row : undefined;
  }, timeoutMs);
}

/** The deliveries `name` received with the given `webhook-id`. */
export async function receivedWithId(name: string, webhookId: string, secret?: string): Promise<Received[]> {
  return (await received(name, secret)).filter((d) => d.headers["webhook-id"] === webhookId);
}

/** Deletes a subscription at the end of a test, so it stops receiving the rest of the suite's events. */
export async function unsubscribe(user: Caller, id: number): Promise<void> {
  const response = await api(`/webhooks/${id}/`, { method: "DELETE", token: user.token });
  expect([204, 404]).toContain(response.status);
}
