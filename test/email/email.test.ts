/**
 * The email pipeline end to end: the transactional outbox row, the real `email` queue and its
 * dead-letter queue, the consumer talking HTTP to the MailChannels stub (test/node/mail-stub.ts),
 * and the development outbox route. The stub is shared by every test file running at the same
 * time, so each test scopes failures and assertions to its own recipient address.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { recordEmail } from "../../src/features/email/outbox.ts";
import { redriveEmails } from "../../src/features/email/redrive.ts";
import { MAX_RETRY_DELAY_SECONDS, retryDelaySeconds } from "../../src/features/email/retry.ts";
import worker from "../../src/index.ts";
import { emailLog } from "../../src/platform/db/schema.ts";
import { eventually, testEnv, withDb } from "../support/env.ts";
import { api, BASE, clientIp, json } from "../support/http.ts";
import { createUser, PASSWORD, uniqueEmail } from "../support/users.ts";

interface StubRequest {
  apiKey: string | undefined;
  to: string[];
  status: number;
  body: {
    personalizations: { to: { email: string; name?: string }[] }[];
    from: { email: string; name?: string };
    subject: string;
    content: { type: string; value: string }[];
  };
}

interface OutboxEntry {
  to: string;
  subject: string;
  template: string;
  body: string;
  status: string;
  created_at: string;
}

interface OutboxPage {
  count: number;
  next: string | null;
  previous: string | null;
  results: OutboxEntry[];
}

const stubUrl = testEnv.MAILCHANNELS_BASE_URL;

async function stubRequests(to: string): Promise<StubRequest[]> {
  const response = await fetch(`${stubUrl}/__requests?to=${encodeURIComponent(to)}`);
  return (await response.json()) as StubRequest[];
}

async function failSendsTo(to: string, count: number, status: number): Promise<void> {
  const response = await fetch(`${stubUrl}/__fail`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ to, count, status }),
  });
  expect(response.status).toBe(200);
}

async function emailRows(address: string) {
  return withDb((db) =>
    db.select().from(emailLog).where(sql`lower(${emailLog.toAddress}) = ${address.toLowerCase()}`).orderBy(emailLog.id),
  );
}

async function register(email: string, fullName = "Grace Hopper"): Promise<Response> {
  return api("/auth/user/register/", {
    json: { email, password: PASSWORD, full_name: fullName },
    headers: { "CF-Connecting-IP": clientIp() },
  });
}

/** Waits until the address's single email row reaches a terminal status, and returns it. */
async function settledRow(address: string, timeoutMs = 15_000) {
  return eventually(async () => {
    const [row] = await emailRows(address);
    return row && (row.status === "sent" || row.status === "failed") ? row : undefined;
  }, timeoutMs);
}

describe("email delivery through MailChannels", () => {
  it("sends the welcome mail with the exact MailChannels request", async () => {
    const email = uniqueEmail("welcome");
    expect((await register(email, "Grace Hopper")).status).toBe(201);

    const row = await settledRow(email);
    expect(row).toMatchObject({
      status: "sent",
      provider: "mailchannels",
      attempts: 1,
      error: null,
      template: "welcome",
    });
    expect(row.sentAt).toBeInstanceOf(Date);

    const requests = await stubRequests(email);
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request?.apiKey).toBe("test-mailchannels-key");
    expect(request?.body.personalizations).toHaveLength(1);
    expect(request?.body.personalizations[0]?.to).toEqual([{ email }]);
    expect(request?.body.from).toEqual({ email: "no-reply@tasks.example.com", name: "Edge Tasks" });
    expect(request?.body.subject).toBe("Welcome to Edge Tasks");
    expect(request?.body.content).toHaveLength(1);
    expect(request?.body.content[0]).toMatchObject({ type: "text/plain" });
    expect(request?.body.content[0]?.value).toContain("Hello Grace Hopper");
    expect(request?.body.content[0]?.value).toBe(row.body);
  });

  it("retries after a 5xx and records both attempts", async () => {
    const email = uniqueEmail("retry");
    await failSendsTo(email, 1, 503);
    expect((await register(email)).status).toBe(201);

    const row = await settledRow(email);
    expect(row).toMatchObject({ status: "sent", attempts: 2, error: null, provider: "mailchannels" });
    expect((await stubRequests(email)).map((r) => r.status)).toEqual([503, 200]);
  });

  it("dead-letters after every retry failed and marks the row failed with the last error", async () => {
    const email = uniqueEmail("dlq");
    await failSendsTo(email, 20, 502);
    expect((await register(email)).status).toBe(201);

    const row = await settledRow(email, 25_000);
    // wrangler.toml: max_retries = 4, so one delivery and four retries.
    expect(row).toMatchObject({ status: "failed", attempts: 5, provider: "mailchannels" });
    expect(row.error).toMatch(/502/);
    expect(row.sentAt).toBeNull();
    const requests = await stubRequests(email);
    expect(requests.map((r) => r.status)).toEqual([502, 502, 502, 502, 502]);
  }, 40_000);

  it("sends nothing for a registration that failed (duplicate email, any case)", async () => {
    const email = uniqueEmail("dup");
    expect((await register(email)).status).toBe(201);
    await settledRow(email);

    const duplicate = await register(email.toUpperCase());
    expect(duplicate.status).toBe(409);
    expect(await emailRows(email)).toHaveLength(1);
    // A registration after it, on the same queue: once its mail is sent, anything the duplicate
    // enqueued (earlier, so in the same or an earlier batch) has been consumed too.
    const sentinel = uniqueEmail("after-dup");
    expect((await register(sentinel)).status).toBe(201);
    expect(await settledRow(sentinel)).toMatchObject({ status: "sent" });
    expect(await stubRequests(email)).toHaveLength(1);
    expect(await emailRows(email)).toHaveLength(1);
  });

  it("a rolled-back transaction leaves no outbox row, and a stray message for it sends nothing", async () => {
    const email = uniqueEmail("rollback");
    let ids: number[] = [];
    await expect(
      withDb((db) =>
        db.transaction(async (tx) => {
          ids = await recordEmail(tx, "welcome", [{ email }], { fullName: "Nobody" });
          throw new Error("roll back");
        }),
      ),
    ).rejects.toThrow("roll back");
    expect(ids).toHaveLength(1);
    expect(await emailRows(email)).toHaveLength(0);

    const batch = createMessageBatch("email", [
      { id: "stray", timestamp: new Date(), attempts: 1, body: { kind: "email", emailId: ids[0] } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, testEnv, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["stray"]);
    expect(result.retryMessages).toEqual([]);
    expect(await stubRequests(email)).toHaveLength(0);
  });

  it("acks a redelivered message of a sent mail without sending it again", async () => {
    const email = uniqueEmail("redeliver");
    expect((await register(email)).status).toBe(201);
    const row = await settledRow(email);

    const batch = createMessageBatch("email", [
      { id: "again", timestamp: new Date(), attempts: 1, body: { kind: "email", emailId: row.id } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, testEnv, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["again"]);
    expect(await stubRequests(email)).toHaveLength(1);
    expect((await emailRows(email))[0]?.attempts).toBe(1);
  });

  it("acks each message on its own: one failing send does not retry the others", async () => {
    const good = uniqueEmail("batch-good");
    const bad = uniqueEmail("batch-bad");
    const ids = await withDb(async (db) => [
      ...(await recordEmail(db, "welcome", [{ email: good }], { fullName: "Good" })),
      ...(await recordEmail(db, "welcome", [{ email: bad }], { fullName: "Bad" })),
    ]);
    await failSendsTo(bad, 1, 500);

    const batch = createMessageBatch("email", [
      { id: "good", timestamp: new Date(), attempts: 1, body: { kind: "email", emailId: ids[0] } },
      { id: "bad", timestamp: new Date(), attempts: 3, body: { kind: "email", emailId: ids[1] } },
      { id: "junk", timestamp: new Date(), attempts: 1, body: { kind: "email", emailId: "x" } },
    ]);
    // The test batch records retries but not their options, so the delay is read off the call.
    const retry = vi.spyOn(batch.messages[1] as Message, "retry");
    const ctx = createExecutionContext();
    await worker.queue(batch, { ...testEnv, EMAIL_RETRY_BASE_SECONDS: "10" } as Env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryBatch.retry).toBe(false);
    expect(result.explicitAcks.sort()).toEqual(["good", "junk"]);
    expect(result.retryMessages).toEqual([{ msgId: "bad" }]);
    // Exponential backoff: the third attempt waits base * 2^2.
    expect(retry).toHaveBeenCalledWith({ delaySeconds: 40 });
    expect((await emailRows(good))[0]).toMatchObject({ status: "sent", attempts: 1 });
    expect((await emailRows(bad))[0]).toMatchObject({ status: "retrying", attempts: 1 });
    expect((await emailRows(bad))[0]?.error).toMatch(/500/);
  });

  it("marks a permanently rejected mail failed at once instead of retrying", async () => {
    const email = uniqueEmail("rejected");
    const [id] = await withDb((db) => recordEmail(db, "welcome", [{ email }], { fullName: "Rejected" }));
    await failSendsTo(email, 1, 400);

    const batch = createMessageBatch("email", [
      { id: "rejected", timestamp: new Date(), attempts: 1, body: { kind: "email", emailId: id } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, testEnv, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["rejected"]);
    expect(result.retryMessages).toEqual([]);
    expect((await emailRows(email))[0]).toMatchObject({ status: "failed", attempts: 1 });
    expect((await emailRows(email))[0]?.error).toMatch(/400/);
  });

  it("without an API key in development keeps mail in the local outbox as skipped, never sent, and calls nobody", async () => {
    const email = uniqueEmail("outbox");
    const [id] = await withDb((db) => recordEmail(db, "welcome", [{ email }], { fullName: "Local" }));

    const batch = createMessageBatch("email", [
      { id: "local", timestamp: new Date(), attempts: 1, body: { kind: "email", emailId: id } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, { ...testEnv, MAILCHANNELS_API_KEY: "" } as Env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["local"]);
    expect((await emailRows(email))[0]).toMatchObject({
      status: "skipped",
      provider: "outbox",
      attempts: 1,
      sentAt: null,
    });
    expect(await stubRequests(email)).toHaveLength(0);
  });
});

describe("re-drive of mail whose enqueue failed", () => {
  it("enqueues stale never-attempted rows again and they are delivered once", async () => {
    const stale = uniqueEmail("stale");
    const fresh = uniqueEmail("fresh");
    const [staleId, freshId] = await withDb(async (db) => {
      const ids = [
        ...(await recordEmail(db, "welcome", [{ email: stale }], { fullName: "Stale" })),
        ...(await recordEmail(db, "welcome", [{ email: fresh }], { fullName: "Fresh" })),
      ];
      // As if the request committed an hour ago and its enqueue was lost.
      await db
        .update(emailLog)
        .set({ createdAt: new Date(Date.now() - 3_600_000) })
        .where(eq(emailLog.id, ids[0] ?? 0));
      return ids;
    });

    const redriven = await redriveEmails(testEnv, { olderThanSeconds: 600 });
    expect(redriven).toContain(staleId);
    expect(redriven).not.toContain(freshId);

    const row = await settledRow(stale);
    expect(row).toMatchObject({ status: "sent", attempts: 1 });
    expect(await stubRequests(stale)).toHaveLength(1);
    expect((await emailRows(fresh))[0]).toMatchObject({ status: "queued", attempts: 0 });
    // A second run finds nothing left to re-drive for that row.
    expect(await redriveEmails(testEnv, { olderThanSeconds: 600 })).not.toContain(staleId);
  });
});

describe("GET /dev/outbox/", () => {
  it("lists the welcome mail to its recipient, in the documented shape", async () => {
    const user = await createUser();
    const entry = await eventually(async () => {
      const page = await json<OutboxPage>(await api("/dev/outbox/", { token: user.token }));
      return page.results.find((e) => e.template === "welcome" && e.status === "sent");
    });
    expect(Object.keys(entry).sort()).toEqual(["body", "created_at", "status", "subject", "template", "to"]);
    expect(entry).toMatchObject({ to: user.email, subject: "Welcome to Edge Tasks", template: "welcome" });
    expect(new Date(entry.created_at).toISOString()).toBe(entry.created_at);
  });

  it("shows an employee only their own mail, newest first; HR sees everyone's", async () => {
    const alice = await createUser({ prefix: "alice" });
    const bob = await createUser({ prefix: "bob" });
    const hr = await createUser({ role: "hr" });
    // A later mail to Alice addressed in another case still reaches her outbox.
    await withDb((db) =>
      recordEmail(db, "task_assigned", [{ email: alice.email.toUpperCase() }], {
        taskId: 7,
        title: "Write the report",
        assignedByName: "Bob",
      }),
    );

    const own = await json<OutboxPage>(await api("/dev/outbox/", { token: alice.token }));
    expect(own.count).toBe(2);
    expect(own.results.map((e) => e.template)).toEqual(["task_assigned", "welcome"]);
    expect(own.results[0]?.subject).toBe("You were assigned: Write the report");
    expect(own.results.every((e) => e.to.toLowerCase() === alice.email)).toBe(true);

    const bobsForAlice = await json<OutboxPage>(
      await api(`/dev/outbox/?to=${encodeURIComponent(bob.email)}`, { token: alice.token }),
    );
    expect(bobsForAlice.count).toBe(0);

    const hrView = await json<OutboxPage>(
      await api(`/dev/outbox/?to=${encodeURIComponent(bob.email)}`, { token: hr.token }),
    );
    expect(hrView.count).toBe(1);
    expect(hrView.results[0]).toMatchObject({ to: bob.email, template: "welcome" });

    const filtered = await json<OutboxPage>(
      await api(`/dev/outbox/?template=task_assigned&to=${encodeURIComponent(alice.email)}`, { token: hr.token }),
    );
    expect(filtered.results.map((e) => e.subject)).toEqual(["You were assigned: Write the report"]);
  });

  it("paginates with full next/previous links and rejects bad page parameters", async () => {
    const hr = await createUser({ role: "hr" });
    const first = await api("/dev/outbox?page_size=1", { token: hr.token });
    expect(first.status).toBe(200);
    const page1 = await json<OutboxPage>(first);
    expect(page1.results).toHaveLength(1);
    expect(page1.count).toBeGreaterThanOrEqual(1);
    expect(page1.previous).toBeNull();
    if (page1.count > 1) {
      expect(page1.next).toBe(`${BASE}/dev/outbox?page_size=1&page=2`);
      const page2 = await json<OutboxPage>(await api(page1.next ?? "", { token: hr.token }));
      expect(page2.previous).toBe(`${BASE}/dev/outbox?page_size=1&page=1`);
    }

    for (const query of ["page=0", "page=abc", "page_size=0", "page_size=101", "template=nope"]) {
      const response = await api(`/dev/outbox/?${query}`, { token: hr.token });
      expect(response.status, query).toBe(400);
      const body = await json<{ detail: string; errors: { field: string }[] }>(response);
      expect(body.errors[0]?.field).toBe(query.split("=")[0]);
    }
  });

  it("is described in the OpenAPI document with its query parameters and page schema", async () => {
    const document = await json<{
      paths: Record<string, { get?: { parameters?: { name: string }[]; responses: Record<string, unknown> } }>;
    }>(await api("/openapi.json"));
    const operation = document.paths["/api/v1/dev/outbox/"]?.get;
    expect(operation?.parameters?.map((p) => p.name).sort()).toEqual(["page", "page_size", "template", "to"]);
    expect(Object.keys(operation?.responses ?? {})).toEqual(expect.arrayContaining(["200", "400", "401", "404"]));
  });

  it("requires authentication", async () => {
    const response = await api("/dev/outbox/");
    expect(response.status).toBe(401);
    expect(await json(response)).toEqual({ detail: "Authentication credentials were not provided." });
  });

  it("is 404 like an unknown route when ENVIRONMENT is not development", async () => {
    const user = await createUser();
    const production = { ...testEnv, ENVIRONMENT: "production" } as Env;
    const call = async (path: string, token?: string) => {
      const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
      return worker.fetch(new Request(`${BASE}${path}`, { headers }), production, createExecutionContext());
    };

    for (const token of [user.token, undefined]) {
      const response = await call("/dev/outbox/", token);
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ detail: "No route matches GET /api/v1/dev/outbox/." });
    }
    const unknown = await call("/dev/nothing-here/");
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ detail: "No route matches GET /api/v1/dev/nothing-here/." });
  });
});

describe("retry backoff", () => {
  it("doubles per attempt from the base and stops at the Queues maximum", () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelaySeconds(30, attempt))).toEqual([30, 60, 120, 240]);
    expect(retryDelaySeconds(0, 4)).toBe(0);
    expect(retryDelaySeconds(30, 40)).toBe(MAX_RETRY_DELAY_SECONDS);
  });
});

describe("email rows", () => {
  it("writes one row per recipient, de-duplicated case-insensitively", async () => {
    const a = uniqueEmail("multi");
    const b = uniqueEmail("multi");
    const ids = await withDb((db) =>
      recordEmail(db, "task_completed", [{ email: a }, { email: a.toUpperCase() }, { email: b }], {
        taskId: 1,
        title: "Ship it",
        completedAt: "2030-01-01T00:00:00.000Z",
      }),
    );
    expect(ids).toHaveLength(2);
    const rows = await withDb((db) =>
      db
        .select()
        .from(emailLog)
        .where(eq(emailLog.id, ids[0] ?? 0)),
    );
    expect(rows[0]).toMatchObject({ status: "queued", attempts: 0, subject: "Task completed: Ship it" });
  });
});
