/**
 * Notifications: one per email to a user, written in the same statement as the email (so a
 * rolled-back write makes none), read only by their user, marked read one by one or all at once,
 * and pushed live over the user's own WebSocket after commit.
 *
 * Absence on a stream is proved without waiting: each check that a socket did NOT receive
 * something sends that socket a later message of its own (a sentinel) and asserts the sentinel is
 * the first thing it received. Writes whose pushes must have happened before the sentinel go
 * through `callWorker`, which returns only after the request's `waitUntil` work (the push) ended.
 */
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { recordEmail } from "../../src/features/email/outbox.ts";
import { emailLog, notifications } from "../../src/platform/db/schema.ts";
import { eventually, testEnv, withDb } from "../support/env.ts";
import { api, callWorker, json } from "../support/http.ts";
import { makeOrg } from "../support/org.ts";
import { makeTask, whileTaskHistoryFails } from "../support/tasks.ts";
import { encode, finished, formUpload, sampleCsv } from "../support/uploads.ts";
import { createUser, type TestUser } from "../support/users.ts";

interface Notification {
  id: number;
  type: string;
  title: string;
  task: number | null;
  upload: string | null;
  read_at: string | null;
  created_at: string;
}

interface Page {
  count: number;
  next: string | null;
  previous: string | null;
  results: Notification[];
}

const FIELDS = ["created_at", "id", "read_at", "task", "title", "type", "upload"];

async function feed(user: { token: string }, query = ""): Promise<Page> {
  const response = await api(`/notifications/${query}`, { token: user.token });
  expect(response.status).toBe(200);
  return json<Page>(response);
}

const markRead = (user: { token: string }, id: number) =>
  api(`/notifications/${id}/read/`, { method: "POST", token: user.token });
const markAllRead = (user: { token: string }) => api("/notifications/read-all/", { method: "POST", token: user.token });

/** A stream's messages as they arrive, and a way to wait for the n-th. */
async function openStream(token: string) {
  const response = await api(`/notifications/stream/?access_token=${encodeURIComponent(token)}`, {
    headers: { Upgrade: "websocket" },
  });
  expect(response.status).toBe(101);
  const socket = response.webSocket;
  if (!socket) throw new Error("no WebSocket in the 101 response");
  const messages: Notification[] = [];
  let closed: { code: number; reason: string } | null = null;
  socket.addEventListener("message", (event) => {
    messages.push(JSON.parse(String(event.data)) as Notification);
  });
  socket.addEventListener("close", (event) => {
    closed = { code: event.code, reason: event.reason };
  });
  socket.accept();
  return {
    messages,
    socket,
    closed: () => closed,
    /** The first `n` messages, once that many arrived. */
    first: (n: number) => eventually(async () => (messages.length >= n ? messages.slice(0, n) : undefined), 15_000),
  };
}

const assign = (actor: TestUser, taskId: number, assignees: number[]) =>
  callWorker(testEnv, `/tasks/${taskId}/assign/`, actor.token, {
    method: "POST",
    body: JSON.stringify({ assignees }),
  });

describe("the notification feed", () => {
  it("a registration makes the welcome notification", async () => {
    const user = await createUser();
    const page = await feed(user);
    expect(page.count).toBe(1);
    const [welcome] = page.results;
    expect(Object.keys(welcome ?? {}).sort()).toEqual(FIELDS);
    expect(welcome).toMatchObject({
      type: "welcome",
      title: "Welcome to Edge Tasks",
      task: null,
      upload: null,
      read_at: null,
    });
    expect(Date.parse(welcome?.created_at ?? "")).toBeGreaterThan(Date.now() - 60_000);
  });

  it("task created, assigned and completed notify the email's recipients, linked to the task", async () => {
    const org = await makeOrg();
    const title = `notify ${crypto.randomUUID()}`;
    const task = await makeTask(org.employee, { title });

    // Created: the creator and the department's manager (as the email).
    const creator = await feed(org.employee);
    expect(creator.results).toEqual([
      expect.objectContaining({ type: "task_created", title: `Task created: ${title}`, task: task.id, upload: null }),
    ]);
    expect((await feed(org.manager)).results).toEqual([
      expect.objectContaining({ type: "task_created", title: `Task created: ${title}`, task: task.id }),
    ]);
    expect((await feed(org.colleague)).count).toBe(0);

    // Assigned: only the users newly assigned.
    expect((await assign(org.manager, task.id, [org.colleague.id])).status).toBe(200);
    expect((await feed(org.colleague)).results).toEqual([
      expect.objectContaining({ type: "task_assigned", title: `You were assigned: ${title}`, task: task.id }),
    ]);
    expect((await assign(org.employee, task.id, [org.employee.id])).status).toBe(200);
    expect((await feed(org.employee)).results.map((n) => n.type)).toEqual(["task_assigned", "task_created"]);
    expect((await feed(org.colleague)).count).toBe(1);

    // Completed: the creator and every assignee.
    const completed = await api(`/tasks/${task.id}/complete/`, { method: "POST", token: org.colleague.token });
    expect(completed.status).toBe(200);
    for (const member of [org.employee, org.colleague]) {
      const [newest] = (await feed(member)).results;
      expect(newest).toMatchObject({ type: "task_completed", title: `Task completed: ${title}`, task: task.id });
    }
    // The manager is no recipient of the completion mail, so gets no notification of it either.
    expect((await feed(org.manager)).results.map((n) => n.type)).toEqual(["task_created"]);
    // One notification per email to a user, and one email per notification.
    for (const member of [org.employee, org.colleague, org.manager]) {
      const mails = await withDb((db) => db.select().from(emailLog).where(eq(emailLog.toUserId, member.id)));
      expect((await feed(member)).count, member.email).toBe(mails.length);
    }
  });

  it("upload completed and upload failed notify the owner, linked to the upload", { timeout: 90_000 }, async () => {
    const user = await createUser();
    const good = await formUpload(user, sampleCsv(50), "good.csv");
    expect((await finished(user, good.id, 80_000)).status).toBe("completed");
    // Half the records rejected: above the allowed ratio, so the upload fails.
    const bad = await formUpload(user, new TextDecoder().decode(encode("a,b\n1,2\n3\n4,5\n6\n")), "bad.csv");
    expect((await finished(user, bad.id, 80_000)).status).toBe("failed");
    // The details may report the end (from the progress object) a moment before its outcome commits.
    const page = await eventually(async () => {
      const current = await feed(user);
      return current.count === 3 ? current : undefined;
    });
    expect(page.results).toEqual([
      expect.objectContaining({
        type: "upload_failed",
        title: "CSV ingestion failed: bad.csv",
        upload: bad.id,
        task: null,
      }),
      expect.objectContaining({
        type: "upload_completed",
        title: "CSV ingested: good.csv",
        upload: good.id,
        task: null,
      }),
      expect.objectContaining({ type: "welcome" }),
    ]);
  });

  it("is newest first and paginated", async () => {
    const org = await makeOrg();
    const tasks = [];
    for (let i = 0; i < 5; i++) tasks.push(await makeTask(org.manager, { assignees: [org.employee.id] }));
    const all = await feed(org.employee);
    expect(all.count).toBe(5);
    expect(all.results.map((n) => n.task)).toEqual(tasks.map((t) => t.id).reverse());

    const first = await feed(org.employee, "?page_size=2");
    expect(first).toMatchObject({ count: 5, previous: null });
    expect(first.results.map((n) => n.id)).toEqual(all.results.slice(0, 2).map((n) => n.id));
    expect(first.next).toMatch(/page=2/);
    const second = await json<Page>(await api(first.next ?? "", { token: org.employee.token }));
    expect(second.results.map((n) => n.id)).toEqual(all.results.slice(2, 4).map((n) => n.id));
    const last = await feed(org.employee, "?page_size=2&page=3");
    expect(last.results.map((n) => n.id)).toEqual(all.results.slice(4).map((n) => n.id));
    expect(last.next).toBeNull();
  });

  it("refuses unknown and malformed filters", async () => {
    const user = await createUser({ role: "employee", via: "sql" });
    for (const query of ["?unread=yes", "?unread=1", "?page=0", "?read=true"]) {
      expect((await api(`/notifications/${query}`, { token: user.token })).status, query).toBe(400);
    }
    expect((await api("/notifications/")).status).toBe(401);
  });
});

describe("reading notifications", () => {
  it("unread=true lists only unread ones and unread=false only read ones; marking read is idempotent", async () => {
    const org = await makeOrg();
    for (let i = 0; i < 3; i++) await makeTask(org.manager, { assignees: [org.employee.id] });
    const [newest, middle, oldest] = (await feed(org.employee)).results;
    if (!newest || !middle || !oldest) throw new Error("expected three notifications");

    expect((await feed(org.employee, "?unread=true")).count).toBe(3);
    expect((await feed(org.employee, "?unread=false")).count).toBe(0);

    expect((await markRead(org.employee, middle.id)).status).toBe(204);
    const unread = await feed(org.employee, "?unread=true");
    expect(unread.results.map((n) => n.id)).toEqual([newest.id, oldest.id]);
    expect(unread.count).toBe(2);
    const read = await feed(org.employee, "?unread=false");
    expect(read.results.map((n) => n.id)).toEqual([middle.id]);
    const readAt = read.results[0]?.read_at;
    expect(readAt).toEqual(expect.any(String));

    // Again: still 204, and the first time it was read is kept.
    expect((await markRead(org.employee, middle.id)).status).toBe(204);
    expect((await feed(org.employee, "?unread=false")).results[0]?.read_at).toBe(readAt);
  });

  it("read-all marks every one of the caller's notifications read, and nobody else's", async () => {
    const org = await makeOrg();
    await makeTask(org.manager, { assignees: [org.employee.id, org.colleague.id] });
    await makeTask(org.manager, { assignees: [org.employee.id] });
    expect((await feed(org.employee, "?unread=true")).count).toBe(2);

    expect((await markAllRead(org.employee)).status).toBe(204);
    expect((await feed(org.employee, "?unread=true")).count).toBe(0);
    const all = await feed(org.employee);
    expect(all.count).toBe(2);
    expect(all.results.every((n) => n.read_at !== null)).toBe(true);
    // The colleague's and the manager's stay unread.
    expect((await feed(org.colleague, "?unread=true")).count).toBe(1);
    expect((await feed(org.manager, "?unread=true")).count).toBe(2);
    // Nothing left to mark: still 204.
    expect((await markAllRead(org.employee)).status).toBe(204);
  });

  it("read-all keeps the time each one already read was first read", async () => {
    const org = await makeOrg();
    for (let i = 0; i < 2; i++) await makeTask(org.manager, { assignees: [org.employee.id] });
    const [newest, oldest] = (await feed(org.employee)).results;
    if (!newest || !oldest) throw new Error("expected two notifications");
    expect((await markRead(org.employee, oldest.id)).status).toBe(204);
    const firstRead = (await feed(org.employee, "?unread=false")).results[0]?.read_at;
    expect(firstRead).toEqual(expect.any(String));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await markAllRead(org.employee)).status).toBe(204);
    const after = new Map((await feed(org.employee)).results.map((n) => [n.id, n.read_at]));
    expect(after.get(oldest.id)).toBe(firstRead);
    expect(after.get(newest.id)).toEqual(expect.any(String));
    expect(Date.parse(after.get(newest.id) ?? "")).toBeGreaterThan(Date.parse(firstRead ?? ""));
  });

  it("another user's notifications are invisible and cannot be marked read (404, as an unknown id)", async () => {
    const org = await makeOrg();
    await makeTask(org.manager, { assignees: [org.employee.id] });
    const [mine] = (await feed(org.employee)).results;
    if (!mine) throw new Error("expected a notification");

    expect((await feed(org.colleague)).results.map((n) => n.id)).not.toContain(mine.id);
    for (const other of [org.colleague, org.ceo, org.manager]) {
      const response = await markRead(other, mine.id);
      expect(response.status, other.email).toBe(404);
      const unknown = await markRead(other, 2_147_483_000);
      expect(await response.text()).toBe(await unknown.text());
    }
    expect((await markAllRead(org.colleague)).status).toBe(204);
    expect((await feed(org.employee)).results[0]).toMatchObject({ id: mine.id, read_at: null });
    expect((await markRead(org.employee, mine.id)).status).toBe(204);
  });
});

describe("notifications commit or roll back with their change", () => {
  it("a task write whose batch rolls back makes no notification (nor email); the same write committed does", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager);
    // Fail the assignment's own transaction at its last statement (the history entry), for this task only.
    await whileTaskHistoryFails(`new.task_id = ${task.id}`, async () => {
      const failed = await assign(org.manager, task.id, [org.employee.id]);
      expect(failed.status).toBe(500);
    });
    expect((await feed(org.employee)).count).toBe(0);
    expect(await withDb((db) => db.select().from(emailLog).where(eq(emailLog.toUserId, org.employee.id)))).toEqual([]);

    expect((await assign(org.manager, task.id, [org.employee.id])).status).toBe(200);
    expect((await feed(org.employee)).results).toEqual([
      expect.objectContaining({ type: "task_assigned", task: task.id }),
    ]);
  });

  it("an outbox write in a rolled-back interactive transaction leaves no notification", async () => {
    const user = await createUser({ role: "employee", via: "sql" });
    await expect(
      withDb((db) =>
        db.transaction(async (tx) => {
          await recordEmail(tx, "welcome", [{ email: user.email, userId: user.id }], { fullName: "Nobody" });
          throw new Error("roll back");
        }),
      ),
    ).rejects.toThrow("roll back");
    expect(await withDb((db) => db.select().from(notifications).where(eq(notifications.userId, user.id)))).toEqual([]);

    await withDb((db) =>
      db.transaction((tx) =>
        recordEmail(tx, "welcome", [{ email: user.email, userId: user.id }], { fullName: "Somebody" }),
      ),
    );
    expect((await feed(user)).results).toEqual([expect.objectContaining({ type: "welcome" })]);
  });

  it("an email to an address that is no user's makes no notification", async () => {
    const user = await createUser({ role: "employee", via: "sql" });
    const ids = await withDb((db) =>
      db.transaction((tx) =>
        recordEmail(
          tx,
          "welcome",
          [{ email: `nobody-${crypto.randomUUID()}@example.com` }, { email: user.email, userId: user.id }],
          {
            fullName: "Both",
          },
        ),
      ),
    );
    // Two emails, one notification: the address of no user has no feed to put one in.
    expect(ids).toHaveLength(2);
    const rows = await withDb((db) => db.select().from(notifications).where(eq(notifications.userId, user.id)));
    expect(rows).toHaveLength(1);
  });
});

describe("the notification stream", () => {
  it("receives each new notification of its user, as the feed shows it, and another user's stream does not", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager);
    const employee = await openStream(org.employee.token);
    const colleague = await openStream(org.colleague.token);

    // Assigning the employee notifies the employee; the push ends before the call returns.
    expect((await assign(org.manager, task.id, [org.employee.id])).status).toBe(200);
    const [pushed] = await employee.first(1);
    const [listed] = (await feed(org.employee)).results;
    expect(pushed).toEqual(listed);
    expect(pushed).toMatchObject({ type: "task_assigned", task: task.id, read_at: null });

    // The colleague's sentinel: the first thing their stream receives is their own notification.
    expect((await assign(org.manager, task.id, [org.colleague.id])).status).toBe(200);
    const [sentinel] = await colleague.first(1);
    const [colleagueListed] = (await feed(org.colleague)).results;
    expect(sentinel).toEqual(colleagueListed);
    expect(sentinel?.id).not.toBe(pushed?.id);
    // ...and the employee's stream got nothing of the colleague's (its own sentinel comes first).
    const completed = await callWorker(testEnv, `/tasks/${task.id}/complete/`, org.manager.token, { method: "POST" });
    expect(completed.status).toBe(200);
    const [, employeeNext] = await employee.first(2);
    expect(employeeNext).toMatchObject({ type: "task_completed", task: task.id });
    expect(employee.messages.map((n) => n.type)).toEqual(["task_assigned", "task_completed"]);
    employee.socket.close();
    colleague.socket.close();
  });

  it("every notification one write makes for a user is pushed, not only the last", async () => {
    const org = await makeOrg();
    const stream = await openStream(org.employee.token);
    // Creating a task assigned to oneself makes two notifications for its creator.
    const task = await makeTask(org.employee, { assignees: [org.employee.id] });
    const listed = (await feed(org.employee)).results.filter((n) => n.task === task.id);
    expect(listed.map((n) => n.type).sort()).toEqual(["task_assigned", "task_created"]);
    const pushed = await stream.first(2);
    const byId = (a: Notification, b: Notification) => a.id - b.id;
    expect([...pushed].sort(byId)).toEqual([...listed].sort(byId));
    stream.socket.close();
  });

  it("a rolled-back write pushes nothing", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager);
    const stream = await openStream(org.employee.token);
    await whileTaskHistoryFails(`new.task_id = ${task.id}`, async () => {
      expect((await assign(org.manager, task.id, [org.employee.id])).status).toBe(500);
    });
    expect((await assign(org.manager, task.id, [org.employee.id])).status).toBe(200);
    const [first] = await stream.first(1);
    const [committed] = (await feed(org.employee)).results;
    expect(first).toEqual(committed);
    expect(stream.messages).toHaveLength(1);
    stream.socket.close();
  });

  it("pushes an upload's outcome to its owner", { timeout: 90_000 }, async () => {
    const user = await createUser();
    const stream = await openStream(user.token);
    const upload = await formUpload(user, sampleCsv(20), "live.csv");
    const [pushed] = await stream.first(1);
    expect(pushed).toMatchObject({ type: "upload_completed", upload: upload.id, title: "CSV ingested: live.csv" });
    expect((await feed(user)).results[0]).toEqual(pushed);
    stream.socket.close();
  });

  it("refuses a missing, invalid or revoked token, and a request that is not an upgrade", async () => {
    const user = await createUser();
    const upgrade = { Upgrade: "websocket" };
    const none = await api("/notifications/stream/", { headers: upgrade });
    expect(none.status).toBe(401);
    expect(none.webSocket).toBeNull();
    const forged = await api(`/notifications/stream/?access_token=${user.token}x`, { headers: upgrade });
    expect(forged.status).toBe(401);
    const plain = await api("/notifications/stream/", { token: user.token });
    expect(plain.status).toBe(426);
    expect(await json(plain)).toMatchObject({ detail: expect.stringMatching(/WebSocket/) });

    // Logging out closes the open stream, and the token opens no new one.
    const stream = await openStream(user.token);
    expect((await api("/auth/user/logout/", { method: "POST", token: user.token })).status).toBe(204);
    const closed = await eventually(async () => stream.closed() ?? undefined);
    expect(closed.code).toBe(4401);
    const revoked = await api(`/notifications/stream/?access_token=${user.token}`, { headers: upgrade });
    expect(revoked.status).toBe(401);
  });
});
