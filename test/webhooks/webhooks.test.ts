/**
 * Webhook subscriptions over HTTP, and delivery end to end: the route, the `webhooks` queue and its
 * dead-letter queue, the consumer posting to the Node-side receiver (test/node/webhook-receiver.ts),
 * which verifies every signature with the `standardwebhooks` package. The test environment is
 * development (`http` to a loopback host is allowed); the production URL rules are unit-tested in
 * test/webhooks/webhooks.policy.unit.test.ts.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { webhookMessageId } from "../../src/features/webhooks/webhooks.consumer.ts";
import worker from "../../src/index.ts";
import { webhookDeliveries, webhookSubscriptions } from "../../src/platform/db/schema.ts";
import { fromBase64 } from "../../src/platform/lib/base64.ts";
import { maskId } from "../../src/platform/lib/mask.ts";
import { eventually, testEnv, withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import { createUser, type TestUser } from "../support/users.ts";
import {
  envelope,
  failNext,
  type Received,
  received,
  receivedWithId,
  receiverUrl,
  type Subscription,
  subscribe,
  unsubscribe,
} from "./webhooks-fixtures.ts";

interface Delivery {
  id: number;
  event: string;
  status: string;
  attempts: number;
  response_status: number | null;
  created_at: string;
  delivered_at: string | null;
}

interface DeliveryDetail extends Delivery {
  payload: Record<string, unknown>;
  attempt_log: { attempted_at: string; response_status: number | null; error: string | null; duration_ms: number }[];
}

let ceo: TestUser;
let hr: TestUser;
let manager: TestUser;
let employee: TestUser;

beforeAll(async () => {
  [ceo, hr, manager, employee] = await Promise.all([
    createUser({ role: "ceo" }),
    createUser({ role: "hr" }),
    createUser({ role: "manager" }),
    createUser({ role: "employee" }),
  ]);
});

/** Sends a ping and waits until the receiver path has `count` requests; answers the delivery's final detail. */
async function pingUntilSettled(user: TestUser, hook: Subscription): Promise<DeliveryDetail> {
  const sent = await api(`/webhooks/${hook.id}/test/`, { method: "POST", token: user.token });
  expect(sent.status).toBe(202);
  const delivery = await json<Delivery>(sent);
  expect(delivery).toMatchObject({ event: "ping", status: "pending", attempts: 0, response_status: null });
  return eventually(async () => {
    const response = await api(`/webhooks/${hook.id}/deliveries/${delivery.id}/`, { token: user.token });
    expect(response.status).toBe(200);
    const detail = await json<DeliveryDetail>(response);
    return detail.status === "pending" ? undefined : detail;
  }, 20_000);
}

describe("who may manage webhooks", () => {
  it("CEO and HR create, read, change and delete; managers and employees get 403 on every route", async () => {
    for (const user of [ceo, hr]) {
      const { hook } = await subscribe(user, ["task.created"]);
      expect(hook.created_by).toBe(user.id);
      expect((await api(`/webhooks/${hook.id}/`, { token: user.token })).status).toBe(200);
      expect((await api("/webhooks/", { token: user.token })).status).toBe(200);
      expect((await api(`/webhooks/${hook.id}/deliveries/`, { token: user.token })).status).toBe(200);
      const patched = await api(`/webhooks/${hook.id}/`, {
        method: "PATCH",
        token: user.token,
        json: { description: "renamed" },
      });
      expect(patched.status).toBe(200);
      expect((await json<Subscription>(patched)).description).toBe("renamed");
      expect((await api(`/webhooks/${hook.id}/`, { method: "DELETE", token: user.token })).status).toBe(204);
      expect((await api(`/webhooks/${hook.id}/`, { token: user.token })).status).toBe(404);
    }

    const { hook } = await subscribe(ceo, ["task.created"]);
    for (const user of [manager, employee]) {
      const calls: [string, { method?: string; json?: unknown }][] = [
        ["/webhooks/", {}],
        ["/webhooks/", { json: { url: receiverUrl("denied"), events: ["task.created"] } }],
        [`/webhooks/${hook.id}/`, {}],
        [`/webhooks/${hook.id}/`, { method: "PATCH", json: { active: false } }],
        [`/webhooks/${hook.id}/`, { method: "DELETE" }],
        [`/webhooks/${hook.id}/deliveries/`, {}],
        [`/webhooks/${hook.id}/deliveries/1/`, {}],
        [`/webhooks/${hook.id}/test/`, { method: "POST" }],
        // An id that does not exist answers 403 as well: nothing is revealed to whoever may not manage.
        ["/webhooks/2147483000/", {}],
      ];
      for (const [path, init] of calls) {
        const response = await api(path, { ...init, token: user.token });
        expect(response.status, `${user.role} ${init.method ?? (init.json ? "POST" : "GET")} ${path}`).toBe(403);
        expect(await json(response)).toEqual({ detail: "Only CEO and HR can manage webhooks." });
      }
    }
    // The refused PATCH and DELETE changed nothing.
    const still = await api(`/webhooks/${hook.id}/`, { token: ceo.token });
    expect(await json<Subscription>(still)).toMatchObject({ id: hook.id, active: true });
    expect((await api("/webhooks/", { token: "" })).status).toBe(401);
    await unsubscribe(ceo, hook.id);
  });

  it("unknown ids answer 404 on every route", async () => {
    const { hook } = await subscribe(ceo, ["task.created"]);
    const missing = 2_147_483_000;
    const calls: [string, { method?: string; json?: unknown }][] = [
      [`/webhooks/${missing}/`, {}],
      [`/webhooks/${missing}/`, { method: "PATCH", json: { active: false } }],
      [`/webhooks/${missing}/`, { method: "DELETE" }],
      [`/webhooks/${missing}/deliveries/`, {}],
      [`/webhooks/${missing}/deliveries/1/`, {}],
      [`/webhooks/${missing}/test/`, { method: "POST" }],
      [`/webhooks/${hook.id}/deliveries/${missing}/`, {}],
    ];
    for (const [path, init] of calls) {
      const response = await api(path, { ...init, token: hr.token });
      expect(response.status, `${init.method ?? "GET"} ${path}`).toBe(404);
    }
    await unsubscribe(ceo, hook.id);
  });

  it("a subscription's deliveries are its own: its list holds no other's, and another's id is 404 under it", async () => {
    const a = await subscribe(ceo, ["task.deleted"]);
    const b = await subscribe(ceo, ["task.deleted"]);
    const ping = async (id: number) =>
      json<Delivery>(await api(`/webhooks/${id}/test/`, { method: "POST", token: ceo.token }));
    const pingA = await ping(a.hook.id);
    const pingB = await ping(b.hook.id);
    const listed = await json<{ results: Delivery[] }>(
      await api(`/webhooks/${a.hook.id}/deliveries/?page_size=100`, { token: ceo.token }),
    );
    const ids = listed.results.map((delivery) => delivery.id);
    expect(ids).toContain(pingA.id);
    expect(ids).not.toContain(pingB.id);
    const owners = await withDb((db) =>
      db
        .selectDistinct({ subscription: webhookDeliveries.subscriptionId })
        .from(webhookDeliveries)
        .where(inArray(webhookDeliveries.id, ids)),
    );
    expect(owners).toEqual([{ subscription: a.hook.id }]);
    expect((await api(`/webhooks/${a.hook.id}/deliveries/${pingB.id}/`, { token: ceo.token })).status).toBe(404);
    expect((await api(`/webhooks/${b.hook.id}/deliveries/${pingB.id}/`, { token: ceo.token })).status).toBe(200);
    await unsubscribe(ceo, a.hook.id);
    await unsubscribe(ceo, b.hook.id);
  });

  it("a change moves updated_at, which a later GET answers too; created_at stays", async () => {
    const { hook } = await subscribe(hr, ["task.created"]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const patched = await json<Subscription>(
      await api(`/webhooks/${hook.id}/`, { method: "PATCH", token: hr.token, json: { description: "changed" } }),
    );
    expect(Date.parse(patched.updated_at)).toBeGreaterThan(Date.parse(hook.updated_at));
    const read = await json<Subscription>(await api(`/webhooks/${hook.id}/`, { token: hr.token }));
    expect(read).toMatchObject({ description: "changed", updated_at: patched.updated_at, created_at: hook.created_at });
    await unsubscribe(hr, hook.id);
  });
});

describe("the signing secret", () => {
  it("is whsec_ + base64 of 32 random bytes, answered by the create only", async () => {
    const { hook } = await subscribe(ceo, ["task.created", "upload.failed"]);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(fromBase64(hook.secret.slice("whsec_".length)).length).toBeGreaterThanOrEqual(24);
    expect(hook).toMatchObject({
      events: ["task.created", "upload.failed"],
      description: "test receiver",
      active: true,
    });

    const detail = await json<Subscription>(await api(`/webhooks/${hook.id}/`, { token: ceo.token }));
    expect(detail).not.toHaveProperty("secret");
    expect(detail).toEqual({ ...hook, secret: undefined });
    const patched = await json(
      await api(`/webhooks/${hook.id}/`, { method: "PATCH", token: ceo.token, json: { events: ["task.deleted"] } }),
    );
    expect(patched).not.toHaveProperty("secret");
    let page = `/webhooks/?page_size=100`;
    let listed: Subscription | undefined;
    for (;;) {
      const body = await json<{ next: string | null; results: Subscription[] }>(await api(page, { token: hr.token }));
      for (const item of body.results) expect(item).not.toHaveProperty("secret");
      listed ??= body.results.find((item) => item.id === hook.id);
      if (!body.next) break;
      page = body.next;
    }
    expect(listed).toMatchObject({ id: hook.id, events: ["task.deleted"] });
    expect(JSON.stringify(listed)).not.toContain(hook.secret.slice(6));

    const other = await subscribe(ceo, ["task.created"]);
    expect(other.hook.secret).not.toBe(hook.secret);
    await unsubscribe(ceo, hook.id);
    await unsubscribe(ceo, other.hook.id);
  });
});

describe("validation", () => {
  const create = (body: unknown) => api("/webhooks/", { token: ceo.token, json: body });
  const good = { url: receiverUrl("validation"), events: ["task.created"] };

  it("events: a non-empty list of the documented names, each once", async () => {
    const cases: [unknown, string][] = [
      [[], "must name at least one event"],
      [
        ["task.exploded"],
        "must be one of task.created, task.updated, task.completed, task.assigned, task.unassigned, task.deleted, upload.completed, upload.failed",
      ],
      [["ping"], "must be one of"],
      [["task.created", "task.created"], "must not name an event twice"],
      ["task.created", "must be a list of event names"],
    ];
    for (const [events, message] of cases) {
      const response = await create({ ...good, events });
      expect(response.status, JSON.stringify(events)).toBe(400);
      const body = await json<{ detail: string; errors: { field: string; message: string }[] }>(response);
      expect(body.errors[0]?.field).toMatch(/^events/);
      expect(body.errors[0]?.message).toContain(message);
    }
    const missing = await create({ url: good.url });
    expect(missing.status).toBe(400);
    const ok = await create({ ...good, events: [...new Set(["task.created", "upload.completed", "upload.failed"])] });
    expect(ok.status).toBe(201);
    await unsubscribe(ceo, (await json<Subscription>(ok)).id);
  });

  it("url in development: https anywhere, http only to loopback hosts, nothing else", async () => {
    const refused: [string, string][] = [
      [
        "http://hooks.example.com/x",
        "must use https; plain http is allowed only to localhost or a loopback address in development",
      ],
      ["ftp://127.0.0.1/x", "must use https (not ftp)"],
      ["hooks.example.com/x", "must be an absolute URL such as https://example.com/webhooks"],
      ["http://user:pw@127.0.0.1/x", "must not contain a user name or password"],
    ];
    for (const [url, message] of refused) {
      const response = await create({ ...good, url });
      expect(response.status, url).toBe(400);
      expect(await json(response)).toEqual({
        detail: `Invalid value for 'url': ${message}`,
        errors: [{ field: "url", message }],
      });
    }
    const ids: number[] = [];
    for (const url of [
      "http://localhost:9/x",
      "http://127.0.0.1:9/x",
      "http://[::1]:9/x",
      "https://hooks.example.com/x",
    ]) {
      const response = await create({ ...good, url });
      expect(response.status, url).toBe(201);
      ids.push((await json<Subscription>(response)).id);
    }
    // The same rule on a change of URL.
    const patch = await api(`/webhooks/${ids[0]}/`, {
      method: "PATCH",
      token: ceo.token,
      json: { url: "http://hooks.example.com/x" },
    });
    expect(patch.status).toBe(400);
    for (const id of ids) await unsubscribe(ceo, id);
  });

  it("unknown fields, a long description and a wrong type for active are 400", async () => {
    expect((await create({ ...good, secret: "whsec_mine" })).status).toBe(400);
    expect((await create({ ...good, description: "x".repeat(501) })).status).toBe(400);
    const { hook } = await subscribe(ceo, ["task.created"]);
    const patch = await api(`/webhooks/${hook.id}/`, { method: "PATCH", token: ceo.token, json: { active: "no" } });
    expect(patch.status).toBe(400);
    await unsubscribe(ceo, hook.id);
  });
});

describe("delivery", () => {
  it("a ping arrives once, signed: it verifies with the subscription's secret and not with another", async () => {
    const { hook, name } = await subscribe(hr, ["task.deleted"]);
    const detail = await pingUntilSettled(hr, hook);
    expect(detail).toMatchObject({ event: "ping", status: "delivered", attempts: 1, response_status: 204 });
    expect(detail.delivered_at).not.toBeNull();
    expect(detail.attempt_log).toEqual([
      { attempted_at: expect.any(String), response_status: 204, error: null, duration_ms: expect.any(Number) },
    ]);

    const right = await receivedWithId(name, `msg_${detail.id}`, hook.secret);
    expect(right).toHaveLength(1);
    const [ping] = right as [Received];
    expect(ping.verified).toBe(true);
    expect(ping.headers["webhook-id"]).toBe(`msg_${detail.id}`);
    expect(ping.headers["content-type"]).toBe("application/json");
    expect(ping.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
    expect(Math.abs(Number(ping.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(60);
    expect(envelope(ping)).toEqual({
      type: "ping",
      timestamp: detail.created_at,
      data: { webhook: hook.id, actor: hr.id, message: "Test delivery from Edge Tasks." },
    });
    expect(detail.payload).toEqual(envelope(ping).data);

    const other = await subscribe(hr, ["task.deleted"]);
    const wrong = await receivedWithId(name, `msg_${detail.id}`, other.hook.secret);
    expect(wrong.map((d) => d.verified)).toEqual([false]);
    await unsubscribe(hr, hook.id);
    await unsubscribe(hr, other.hook.id);
  });

  it("a failing receiver is retried with backoff until it answers 2xx; every attempt is listed", async () => {
    const { hook, name } = await subscribe(ceo, ["task.deleted"]);
    await failNext(name, 2, 503, { type: "ping" });
    const detail = await pingUntilSettled(ceo, hook);
    expect(detail).toMatchObject({ status: "delivered", attempts: 3, response_status: 204 });
    expect(detail.attempt_log.map((a) => [a.response_status, a.error])).toEqual([
      [503, null],
      [503, null],
      [204, null],
    ]);
    const pings = await receivedWithId(name, `msg_${detail.id}`, hook.secret);
    expect(pings.map((d) => d.status)).toEqual([503, 503, 204]);
    // Every attempt is signed afresh, all with the same message id.
    expect(pings.every((d) => d.verified)).toBe(true);
    expect(new Set(pings.map((d) => d.headers["webhook-id"]))).toEqual(new Set([`msg_${detail.id}`]));

    const list = await json<{ results: Delivery[] }>(
      await api(`/webhooks/${hook.id}/deliveries/`, { token: ceo.token }),
    );
    expect(list.results.find((d) => d.id === detail.id)).toEqual({
      id: detail.id,
      event: "ping",
      status: "delivered",
      attempts: 3,
      response_status: 204,
      created_at: detail.created_at,
      delivered_at: detail.delivered_at,
    });
    await unsubscribe(ceo, hook.id);
  });

  it("a receiver that never recovers: the last retry dead-letters the delivery as failed", async () => {
    const { hook, name } = await subscribe(ceo, ["task.deleted"]);
    await failNext(name, 1000, 500, { type: "ping" });
    const detail = await pingUntilSettled(ceo, hook);
    // max_retries = 5 in wrangler.toml: six attempts in all.
    expect(detail).toMatchObject({ status: "failed", attempts: 6, response_status: 500, delivered_at: null });
    expect(detail.attempt_log).toHaveLength(6);
    expect(detail.attempt_log.every((a) => a.response_status === 500)).toBe(true);
    await unsubscribe(ceo, hook.id);
  });

  it("an unreachable receiver: each attempt logs why, as a sentence", async () => {
    const response = await api("/webhooks/", {
      token: ceo.token,
      json: { url: `http://127.0.0.1:${testEnv.TEST_CLOSED_PORT}/x`, events: ["task.deleted"] },
    });
    expect(response.status).toBe(201);
    const hook = await json<Subscription>(response);
    const detail = await pingUntilSettled(ceo, hook);
    expect(detail).toMatchObject({ status: "failed", attempts: 6, response_status: null });
    for (const attempt of detail.attempt_log) {
      expect(attempt.response_status).toBeNull();
      expect(attempt.error).toMatch(/^The request could not be sent: /);
    }
    await unsubscribe(ceo, hook.id);
  });

  it("a ping to an inactive subscription is refused with 409", async () => {
    const { hook } = await subscribe(ceo, ["task.deleted"]);
    await api(`/webhooks/${hook.id}/`, { method: "PATCH", token: ceo.token, json: { active: false } });
    const response = await api(`/webhooks/${hook.id}/test/`, { method: "POST", token: ceo.token });
    expect(response.status).toBe(409);
    expect(await json(response)).toEqual({
      detail: "The webhook is inactive; set `active` to true before sending a test.",
    });
    await unsubscribe(ceo, hook.id);
  });
});

describe("the consumer, called directly", () => {
  /** One delivery row carrying `marker` in its payload, for a subscription of its own. */
  async function pendingDelivery(marker: string) {
    const { hook, name } = await subscribe(ceo, ["task.deleted"]);
    const [row] = await withDb((db) =>
      db
        .insert(webhookDeliveries)
        .values({ subscriptionId: hook.id, event: "task.deleted", payload: { note: marker } })
        .returning(),
    );
    if (!row) throw new Error("no delivery row");
    return { hook, name, row };
  }

  async function consume(deliveryId: number, attempts = 1, env: Env = testEnv) {
    const batch = createMessageBatch("webhooks", [
      { id: `m-${deliveryId}`, timestamp: new Date(), attempts, body: { kind: "webhook", deliveryId } },
    ]);
    // The test batch records retries but not their options, so the delay is read off the call.
    const retry = vi.spyOn(batch.messages[0] as Message, "retry");
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    return { ...(await getQueueResult(batch, ctx)), retry };
  }

  it("logs each attempt with masked ids, never the URL, the secret or the payload", async () => {
    const marker = `payload-value-${crypto.randomUUID()}`;
    const { hook, name, row } = await pendingDelivery(marker);
    // Scoped to this delivery: other files' task deletions reach this subscription too.
    await failNext(name, 1, 502, { id: webhookMessageId(row.id) });
    const lines: string[] = [];
    const capture = (line: unknown) => {
      lines.push(String(line));
    };
    const spies = [
      vi.spyOn(console, "log").mockImplementation(capture),
      vi.spyOn(console, "warn").mockImplementation(capture),
      vi.spyOn(console, "error").mockImplementation(capture),
    ];
    let result: Awaited<ReturnType<typeof consume>>;
    try {
      // As deployed: a 30 s base, doubling; this is the message's third attempt.
      result = await consume(row.id, 3, { ...testEnv, WEBHOOK_RETRY_BASE_SECONDS: "30" });
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    // A 502 is retried after the backoff: 30 · 2² seconds before the fourth attempt.
    expect(result.retryMessages).toEqual([{ msgId: `m-${row.id}` }]);
    expect(result.retry).toHaveBeenCalledWith({ delaySeconds: 120 });
    const attempt = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.message === "webhook attempt");
    expect(attempt).toMatchObject({
      level: "warn",
      event: "task.deleted",
      attempt: 1,
      response_status: 502,
      duration_ms: expect.any(Number),
      outcome: "retry",
      delivery_id: maskId(row.id),
      subscription_id: maskId(hook.id),
    });
    const text = lines.join("\n");
    for (const value of [marker, hook.secret, hook.secret.slice(6), name, hook.url]) {
      expect(text, value).not.toContain(value);
    }
    expect(text).not.toContain(`"delivery_id":${row.id}`);

    // The retry delivers; a redelivery after that sends nothing more.
    expect((await consume(row.id, 4)).explicitAcks).toEqual([`m-${row.id}`]);
    expect((await consume(row.id, 5)).explicitAcks).toEqual([`m-${row.id}`]);
    const mine = async () => (await received(name)).filter((d) => d.headers["webhook-id"] === webhookMessageId(row.id));
    expect((await mine()).map((d) => d.status)).toEqual([502, 204]);
    await unsubscribe(ceo, hook.id);
    // Deleted with its subscription: a late message finds nothing and sends nothing.
    expect((await consume(row.id, 6)).explicitAcks).toEqual([`m-${row.id}`]);
    expect(await mine()).toHaveLength(2);
  });

  /** The delivery's detail as its subscription's owner reads it. */
  async function detailOf(hookId: number, deliveryId: number): Promise<DeliveryDetail> {
    return json<DeliveryDetail>(await api(`/webhooks/${hookId}/deliveries/${deliveryId}/`, { token: ceo.token }));
  }

  it("a redirect is not followed: the attempt says so, the delivery is retried, and the other address gets nothing", async () => {
    const { hook, name, row } = await pendingDelivery(`redirected-${crypto.randomUUID()}`);
    const elsewhere = await subscribe(ceo, ["task.deleted"]);
    const messageId = webhookMessageId(row.id);
    await failNext(name, 1, 307, { id: messageId, location: receiverUrl(elsewhere.name) });
    const result = await consume(row.id, 1);
    expect(result.retryMessages).toEqual([{ msgId: `m-${row.id}` }]);
    expect(result.explicitAcks).toEqual([]);
    const detail = await detailOf(hook.id, row.id);
    expect(detail).toMatchObject({ status: "pending", attempts: 1, response_status: 307, delivered_at: null });
    expect(detail.attempt_log.map((attempt) => [attempt.response_status, attempt.error])).toEqual([
      [307, "The receiver answered with a redirect, which is not followed."],
    ]);
    expect((await receivedWithId(name, messageId)).map((delivery) => delivery.status)).toEqual([307]);
    expect(await receivedWithId(elsewhere.name, messageId)).toEqual([]);
    await unsubscribe(ceo, hook.id);
    await unsubscribe(ceo, elsewhere.hook.id);
  });

  it("the URL rule is checked again before each delivery: a URL it refuses now is never sent to", async () => {
    const { hook, row } = await pendingDelivery(`refused-${crypto.randomUUID()}`);
    // As if the rule had changed since the subscription was made: plain http to a public host.
    await withDb((db) =>
      db
        .update(webhookSubscriptions)
        .set({ url: "http://hooks.example.com/edge" })
        .where(eq(webhookSubscriptions.id, hook.id)),
    );
    const result = await consume(row.id, 1);
    expect(result.explicitAcks).toEqual([`m-${row.id}`]);
    const detail = await detailOf(hook.id, row.id);
    expect(detail).toMatchObject({ status: "failed", attempts: 1, response_status: null, delivered_at: null });
    expect(detail.attempt_log.map((attempt) => attempt.error)).toEqual([
      "Not sent: the URL must use https; plain http is allowed only to localhost or a loopback address in development.",
    ]);
    await unsubscribe(ceo, hook.id);
  });

  it("retries wait twice as long each time, and never more than 12 hours", async () => {
    const { hook, name, row } = await pendingDelivery(`backoff-${crypto.randomUUID()}`);
    await failNext(name, 2, 503, { id: webhookMessageId(row.id) });
    const deployed = { ...testEnv, WEBHOOK_RETRY_BASE_SECONDS: "30" };
    // The 11th attempt failed: 30 · 2^10 = 30,720 s, under the cap.
    expect((await consume(row.id, 11, deployed)).retry).toHaveBeenCalledWith({ delaySeconds: 30_720 });
    // The 12th: 30 · 2^11 = 61,440 s, held to 12 hours.
    expect((await consume(row.id, 12, deployed)).retry).toHaveBeenCalledWith({ delaySeconds: 43_200 });
    await unsubscribe(ceo, hook.id);
  });

  it("a malformed message is acknowledged without work", async () => {
    const batch = createMessageBatch("webhooks", [
      { id: "junk", timestamp: new Date(), attempts: 1, body: { kind: "webhook", deliveryId: "1" } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, testEnv, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["junk"]);
  });
});
