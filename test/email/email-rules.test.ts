/**
 * What the email pipeline promises beyond one send: which answers from MailChannels end a mail and
 * which are tried again, that a redelivery or a dead letter never undoes a mail's final state, the
 * production retry delay, a re-drive that leaves fresh mail alone, task mail that really leaves,
 * no mail to a deactivated user, what an upload's mail says, and where the development outbox is
 * served. Each test scopes the stub (shared by the files running at once) to its own address.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { dispatchEmails, recordEmail } from "../../src/features/email/outbox.ts";
import { redriveEmails } from "../../src/features/email/redrive.ts";
import worker from "../../src/index.ts";
import { emailLog, users } from "../../src/platform/db/schema.ts";
import { emailsTo } from "../support/email.ts";
import { eventually, testEnv, withDb } from "../support/env.ts";
import { api, BASE, json } from "../support/http.ts";
import { makeOrg } from "../support/org.ts";
import { finished, formUpload } from "../support/uploads.ts";
import { createUser, uniqueEmail } from "../support/users.ts";

const stubUrl = testEnv.MAILCHANNELS_BASE_URL;

async function stubSends(to: string): Promise<number> {
  const response = await fetch(`${stubUrl}/__requests?to=${encodeURIComponent(to)}`);
  return ((await response.json()) as unknown[]).length;
}

async function stubControl(path: "/__fail" | "/__reject", body: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${stubUrl}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
}

async function welcomeRow(address: string): Promise<number> {
  const [id] = await withDb((db) => recordEmail(db, "welcome", [{ email: address }], { fullName: "Someone" }));
  if (id === undefined) throw new Error("no outbox row");
  return id;
}

async function row(id: number) {
  const [found] = await withDb((db) => db.select().from(emailLog).where(eq(emailLog.id, id)));
  if (!found) throw new Error(`no email row ${id}`);
  return found;
}

/** One message for the row, through the real queue handler; what became of it. */
async function consume(queue: "email" | "email-dlq", emailId: number, env: Env = testEnv, attempts = 1) {
  const batch = createMessageBatch(queue, [
    { id: "the-message", timestamp: new Date(), attempts, body: { kind: "email", emailId } },
  ]);
  const retry = vi.spyOn(batch.messages[0] as Message, "retry");
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  const result = await getQueueResult(batch, ctx);
  return {
    acked: result.explicitAcks.includes("the-message"),
    retried: result.retryMessages.some((message) => message.msgId === "the-message"),
    retry,
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("what each answer from MailChannels does to a mail", () => {
  it("a refusal no retry can fix (400, 403, 413, 422) fails the mail at once", async () => {
    for (const status of [400, 403, 413, 422]) {
      const address = uniqueEmail(`refused-${status}`);
      const id = await welcomeRow(address);
      await stubControl("/__fail", { to: address, count: 1, status });
      const outcome = await consume("email", id);
      expect({ status, acked: outcome.acked, retried: outcome.retried }).toEqual({
        status,
        acked: true,
        retried: false,
      });
      expect(await row(id)).toMatchObject({ status: "failed", attempts: 1 });
      expect((await row(id)).error).toContain(String(status));
    }
  });

  it("throttling, an outage or a key being rotated (429, 500, 401) is tried again", async () => {
    for (const status of [429, 500, 401]) {
      const address = uniqueEmail(`again-${status}`);
      const id = await welcomeRow(address);
      await stubControl("/__fail", { to: address, count: 1, status });
      const outcome = await consume("email", id);
      expect({ status, acked: outcome.acked, retried: outcome.retried }).toEqual({
        status,
        acked: false,
        retried: true,
      });
      expect(await row(id)).toMatchObject({ status: "retrying", attempts: 1 });
    }
  });

  it("MailChannels out of reach is tried again, not a failed mail", async () => {
    const address = uniqueEmail("unreachable");
    const id = await welcomeRow(address);
    const unreachable = { ...testEnv, MAILCHANNELS_BASE_URL: `http://127.0.0.1:${testEnv.TEST_CLOSED_PORT}` } as Env;
    const outcome = await consume("email", id, unreachable);
    expect(outcome).toMatchObject({ acked: false, retried: true });
    expect(await row(id)).toMatchObject({ status: "retrying", attempts: 1, sentAt: null });
    expect(await stubSends(address)).toBe(0);
  });

  it("a 200 that refuses the recipient fails the mail with MailChannels' reason, never 'sent'", async () => {
    const address = uniqueEmail("suppressed");
    const id = await welcomeRow(address);
    await stubControl("/__reject", { to: address, reason: "recipient is on the suppression list" });
    const outcome = await consume("email", id);
    expect(outcome).toMatchObject({ acked: true, retried: false });
    const failed = await row(id);
    expect(failed).toMatchObject({ status: "failed", attempts: 1, sentAt: null });
    expect(failed.error).toContain("recipient is on the suppression list");
  });

  it("outside development a missing API key is retried until fixed, never taken for a skipped mail", async () => {
    const address = uniqueEmail("no-key");
    const id = await welcomeRow(address);
    const noKey = { ...testEnv, ENVIRONMENT: "test", MAILCHANNELS_API_KEY: "" } as Env;
    const outcome = await consume("email", id, noKey);
    expect(outcome).toMatchObject({ acked: false, retried: true });
    const waiting = await row(id);
    expect(waiting).toMatchObject({ status: "retrying", attempts: 1 });
    expect(waiting.error).toContain("MAILCHANNELS_API_KEY is not set");
  });

  it("a failed send's log lines name the mail by id, never its address", async () => {
    const address = uniqueEmail("quiet");
    const id = await welcomeRow(address);
    await stubControl("/__fail", { to: address, count: 1, status: 503 });
    const lines: string[] = [];
    for (const level of ["log", "warn", "error"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        lines.push(args.map(String).join(" "));
      });
    }
    await consume("email", id);
    expect(lines.some((line) => line.includes("email send failed"))).toBe(true);
    expect(lines.filter((line) => line.toLowerCase().includes(address.toLowerCase()))).toEqual([]);
  });
});

describe("mail survives the database being away", () => {
  it("a message whose row cannot be read is tried again, then sent once the database is back", async () => {
    const address = uniqueEmail("db-away");
    const id = await welcomeRow(address);
    const away = { ...testEnv, PG_RELAY: `127.0.0.1:${testEnv.TEST_CLOSED_PORT}` } as Env;
    expect(await consume("email", id, away)).toMatchObject({ acked: false, retried: true });
    expect(await stubSends(address)).toBe(0);
    expect(await consume("email", id)).toMatchObject({ acked: true });
    expect(await row(id)).toMatchObject({ status: "sent", attempts: 1 });
  });
});

describe("a mail's final state stays final", () => {
  it("a redelivered message of a failed mail sends nothing", async () => {
    const address = uniqueEmail("failed-once");
    const id = await welcomeRow(address);
    await stubControl("/__fail", { to: address, count: 1, status: 400 });
    await consume("email", id);
    expect(await row(id)).toMatchObject({ status: "failed", attempts: 1 });

    expect(await consume("email", id)).toMatchObject({ acked: true, retried: false });
    expect(await stubSends(address)).toBe(1);
    expect(await row(id)).toMatchObject({ status: "failed", attempts: 1 });
  });

  it("a dead letter for a mail that was sent leaves it sent", async () => {
    const address = uniqueEmail("sent-then-dead");
    const id = await welcomeRow(address);
    await consume("email", id);
    const sent = await row(id);
    expect(sent).toMatchObject({ status: "sent", error: null });

    expect(await consume("email-dlq", id)).toMatchObject({ acked: true });
    expect(await row(id)).toMatchObject({ status: "sent", error: null, sentAt: sent.sentAt });
  });

  it("a dead letter for a mail still being retried marks it failed", async () => {
    const address = uniqueEmail("retrying-then-dead");
    const id = await welcomeRow(address);
    await stubControl("/__fail", { to: address, count: 1, status: 503 });
    await consume("email", id);
    expect(await consume("email-dlq", id)).toMatchObject({ acked: true });
    expect(await row(id)).toMatchObject({ status: "failed", sentAt: null });
  });
});

describe("when mail is tried again", () => {
  it("without EMAIL_RETRY_BASE_SECONDS the first retry waits 30 seconds, the next 60", async () => {
    const production = { ...testEnv } as Partial<Env>;
    delete production.EMAIL_RETRY_BASE_SECONDS;
    for (const [attempts, delaySeconds] of [
      [1, 30],
      [2, 60],
    ] as const) {
      const address = uniqueEmail(`delay-${attempts}`);
      const id = await welcomeRow(address);
      await stubControl("/__fail", { to: address, count: 1, status: 503 });
      const outcome = await consume("email", id, production as Env, attempts);
      expect(outcome.retry).toHaveBeenCalledWith({ delaySeconds });
    }
  });

  it("one write's mail to more than a queue batch's 100 recipients all leaves at once", async () => {
    const addresses = Array.from({ length: 150 }, (_, i) => uniqueEmail(`many-${i}`));
    const ids = await withDb((db) =>
      recordEmail(
        db,
        "task_completed",
        addresses.map((email) => ({ email })),
        { taskId: 1, title: "Everyone", completedAt: "2030-01-01T00:00:00.000Z" },
      ),
    );
    expect(ids).toHaveLength(150);
    await dispatchEmails(testEnv, ids);
    const sent = await eventually(async () => {
      const rows = await withDb((db) => db.select().from(emailLog).where(inArray(emailLog.id, ids)));
      const done = rows.filter((mail) => mail.status === "sent");
      return done.length === ids.length ? done : undefined;
    }, 30_000);
    expect(sent).toHaveLength(150);
  }, 40_000);

  it("the cron's re-drive leaves mail younger than ten minutes to its own message", async () => {
    const ids = await Promise.all(["nine", "eleven"].map((age) => welcomeRow(uniqueEmail(`redrive-${age}`))));
    const [nine, eleven] = ids as [number, number];
    await withDb(async (db) => {
      await db
        .update(emailLog)
        .set({ createdAt: new Date(Date.now() - 9 * 60_000) })
        .where(eq(emailLog.id, nine));
      await db
        .update(emailLog)
        .set({ createdAt: new Date(Date.now() - 11 * 60_000) })
        .where(eq(emailLog.id, eleven));
    });
    const redriven = await redriveEmails(testEnv);
    expect(redriven).toContain(eleven);
    expect(redriven).not.toContain(nine);
  });
});

describe("task and upload mail", () => {
  it("an assignment's mail leaves for MailChannels right after the write, not at the next re-drive", async () => {
    const org = await makeOrg();
    const created = await api("/tasks/", {
      json: { title: "Mail me", department: org.departmentId, assignees: [org.employee.id] },
      token: org.manager.token,
    });
    expect(created.status).toBe(201);
    const sent = await eventually(async () => {
      const [mail] = await emailsTo(org.employee.email, "task_assigned");
      return mail?.status === "sent" ? mail : undefined;
    }, 15_000);
    expect(sent.subject).toBe("You were assigned: Mail me");
    expect(await stubSends(org.employee.email)).toBeGreaterThanOrEqual(1);
  });

  it("a deactivated user gets no task mail; an active one in the same place does", async () => {
    const org = await makeOrg();
    await withDb((db) => db.update(users).set({ isActive: false }).where(eq(users.id, org.manager.id)));
    for (const [department, title] of [
      [org.departmentId, "In A"],
      [org.otherDepartmentId, "In B"],
    ] as const) {
      const response = await api("/tasks/", { json: { title, department }, token: org.ceo.token });
      expect(response.status).toBe(201);
    }
    expect((await emailsTo(org.otherManager.email, "task_created")).map((mail) => mail.subject)).toEqual([
      "Task created: In B",
    ]);
    expect(await emailsTo(org.manager.email, "task_created")).toEqual([]);
  });

  it("an upload's mail counts the rows stored and the records rejected", async () => {
    const user = await createUser();
    // 30 records, two of them of the wrong width.
    const records = Array.from({ length: 30 }, (_, i) => (i === 9 ? "10" : i === 19 ? "20,t,extra" : `${i + 1},t`));
    const upload = await formUpload(user, `n,label\n${records.join("\n")}\n`, "counted.csv");
    const done = await finished(user, upload.id);
    expect(done).toMatchObject({ status: "completed", total_rows: 28, error_rows: 2 });
    const [mail] = await eventually(async () => {
      const found = await emailsTo(user.email, "upload_completed");
      return found.length > 0 ? found : undefined;
    });
    expect(mail?.body).toContain("Rows stored: 28\nRows rejected: 2\n");
  });
});

describe("the development outbox", () => {
  it("is served only in development: 404 in test, staging and production", async () => {
    const user = await createUser();
    for (const environment of ["test", "staging", "production"]) {
      const env = { ...testEnv, ENVIRONMENT: environment } as Env;
      const response = await worker.fetch(
        new Request(`${BASE}/dev/outbox/`, { headers: { Authorization: `Bearer ${user.token}` } }),
        env,
        createExecutionContext(),
      );
      expect(response.status, environment).toBe(404);
    }
  });

  it("finds an address however its case is written", async () => {
    const hr = await createUser({ role: "hr" });
    const user = await createUser();
    const count = async (to: string) =>
      (await json<{ count: number }>(await api(`/dev/outbox/?to=${encodeURIComponent(to)}`, { token: hr.token })))
        .count;
    const lower = await count(user.email);
    expect(lower).toBeGreaterThanOrEqual(1);
    expect(await count(user.email.toUpperCase())).toBe(lower);
  });
});
