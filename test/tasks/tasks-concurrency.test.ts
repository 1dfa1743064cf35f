/**
 * Task writes over HTTP are two round trips: read the facts, then one batch that re-checks them
 * under the task row's lock (src/features/tasks/write-batch.ts). These tests put a change exactly between
 * the two: a transaction of the test holds the row (or a row the batch needs), the request's batch
 * queues behind it, the test changes what the request read, and lets go. Which statement waits is
 * read from `pg_stat_activity`, so the interleaving is the same on every run.
 *
 * The last block counts the requests each route sends to the SQL-over-HTTP endpoint (the Neon
 * driver's `fetchFunction`, which every HTTP query and batch goes through).
 */
import { neonConfig, type PoolClient } from "@neondatabase/serverless";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_ATTEMPTS, TASK_CHANGED_DETAIL, withRetries } from "../../src/features/tasks/write-batch.ts";
import type { Database } from "../../src/platform/db/client.ts";
import { departments, emailLog, taskAssignments, tasks, users } from "../../src/platform/db/schema.ts";
import { database, withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import { makeOrg } from "../support/org.ts";
import { makeTask, type TaskBody } from "../support/tasks.ts";
import { createUser, type TestUser } from "../support/users.ts";

let handle: Database;
beforeAll(() => {
  handle = database();
});
afterAll(async () => {
  await handle.end();
});

/** A transaction of the test's own, on its own connection. */
interface Holder {
  pid: number;
  client: PoolClient;
  /** Resolves once the lock query (if any) holds its lock. */
  locked: Promise<unknown>;
  finish(outcome: "commit" | "rollback"): Promise<void>;
}

/** Opens a transaction and runs `lock` in it (not awaited: it may have to queue for the lock). */
async function hold(lock: string, params: unknown[]): Promise<Holder> {
  const client = await handle.pool.connect();
  const pid = Number((await client.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]?.pid);
  await client.query("begin");
  const locked = client.query(lock, params);
  locked.catch(() => {});
  return {
    pid,
    client,
    locked,
    async finish(outcome) {
      await locked;
      await client.query(outcome);
      client.release();
    },
  };
}

const HELD = "as held_by_test";
const holdTask = (taskId: number) => hold(`select 1 ${HELD} from tasks where id = $1 for update`, [taskId]);

/**
 * Waits until `count` statements whose text contains `marker` wait (directly or behind each other)
 * for a lock `holder` holds.
 */
async function waitForWaiters(holder: Holder, marker: string, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const result = await handle.pool.query<{ n: number }>(
      `with recursive blocked(pid) as (
         select $1::int
         union
         select a.pid from pg_stat_activity a join blocked b on b.pid = any(pg_blocking_pids(a.pid))
       )
       select count(*)::int as n from pg_stat_activity
       where pid in (select pid from blocked) and pid <> pg_backend_pid() and position($2 in query) > 0`,
      [holder.pid, marker],
    );
    if ((result.rows[0]?.n ?? 0) >= count) return;
    if (Date.now() > deadline)
      throw new Error(`${count} statement(s) with "${marker}" never queued behind ${holder.pid}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const GUARD = "edge_assert";

/**
 * Sends `request` while row `id` of `table` is locked, waits until the request's statement naming
 * `marker` is blocked on it, deletes the row under it, and returns the request's answer.
 */
async function deletedUnder(
  table: "departments" | "users",
  id: number,
  marker: string,
  request: () => Promise<Response>,
): Promise<Response> {
  const holder = await hold(`select 1 from ${table} where id = $1 for update`, [id]);
  await holder.locked;
  const answer = request();
  await waitForWaiters(holder, marker, 1);
  await holder.client.query(`delete from ${table} where id = $1`, [id]);
  await holder.finish("commit");
  return answer;
}

async function emailsOf(userId: number, template: string) {
  return withDb((db) =>
    db
      .select({ subject: emailLog.subject, body: emailLog.body })
      .from(emailLog)
      .where(sql`${emailLog.toUserId} = ${userId} and ${emailLog.template} = ${template}`),
  );
}

async function auditOf(taskId: number) {
  return withDb((db) =>
    db
      .select({ to: taskAssignments.assignedToId, action: taskAssignments.action })
      .from(taskAssignments)
      .where(eq(taskAssignments.taskId, taskId))
      .orderBy(taskAssignments.id),
  );
}

const patch = (member: TestUser, taskId: number, body: unknown) =>
  api(`/tasks/${taskId}/`, { method: "PATCH", token: member.token, json: body });

describe("a task that changes between a write's reads and its batch", () => {
  it("two PATCHes of different fields that read the same version both land", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { title: "before", assignees: [org.employee.id] });
    const holder = await holdTask(task.id);
    await holder.locked;
    const renaming = patch(org.manager, task.id, { title: "renamed" });
    const prioritising = patch(org.ceo, task.id, { priority: "critical" });
    await waitForWaiters(holder, GUARD, 2);
    await holder.finish("rollback");

    const answers = await Promise.all([renaming, prioritising]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    const bodies = await Promise.all(answers.map((answer) => json<TaskBody>(answer)));
    // Whichever batch went second retried on the other's result: its answer holds both changes.
    expect(bodies.some((body) => body.title === "renamed" && body.priority === "critical")).toBe(true);
    const now = await json<TaskBody>(await api(`/tasks/${task.id}/?nocache=1`, { token: org.manager.token }));
    expect(now).toMatchObject({ title: "renamed", priority: "critical", assignees: [org.employee.id] });
  });

  it("concurrent completions: one completion, one mail per recipient naming the completed_at every caller gets", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { assignees: [org.employee.id, org.colleague.id] });
    const holder = await holdTask(task.id);
    await holder.locked;
    const calls = [
      api(`/tasks/${task.id}/complete/`, { method: "POST", token: org.employee.token }),
      api(`/tasks/${task.id}/mark_done/`, { method: "POST", token: org.manager.token }),
      api(`/tasks/${task.id}/complete/`, { method: "POST", token: org.ceo.token }),
      patch(org.colleague, task.id, { status: "done" }),
    ];
    await waitForWaiters(holder, GUARD, calls.length);
    await holder.finish("rollback");

    const answers = await Promise.all(calls);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    const bodies = await Promise.all(answers.map((answer) => json<{ completed_at: string }>(answer)));
    const completedAt = bodies[0]?.completed_at;
    expect(completedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    for (const body of bodies) expect(body.completed_at).toBe(completedAt);
    for (const member of [org.manager, org.employee, org.colleague]) {
      const mails = await emailsOf(member.id, "task_completed");
      expect(mails, member.role).toHaveLength(1);
      expect(mails[0]?.body).toBe(`The task "${task.title}" (#${task.id}) was completed at ${completedAt}.\n`);
    }
    expect(await emailsOf(org.ceo.id, "task_completed")).toHaveLength(0);
  });

  it("two assigns that read the same assignees: both users end up assigned, audited and mailed once each", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager);
    const holder = await holdTask(task.id);
    await holder.locked;
    const first = api(`/tasks/${task.id}/assign/`, {
      token: org.manager.token,
      json: { assignees: [org.employee.id] },
    });
    const second = api(`/tasks/${task.id}/assign/`, { token: org.ceo.token, json: { assignees: [org.colleague.id] } });
    await waitForWaiters(holder, GUARD, 2);
    await holder.finish("rollback");

    const answers = await Promise.all([first, second]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    const both = [org.employee.id, org.colleague.id].sort((a, b) => a - b);
    const lists = await Promise.all(answers.map((answer) => json<{ assignees: number[] }>(answer)));
    expect(lists.some((body) => JSON.stringify(body.assignees) === JSON.stringify(both))).toBe(true);
    const now = await json<TaskBody>(await api(`/tasks/${task.id}/?nocache=1`, { token: org.manager.token }));
    expect(now.assignees).toEqual(both);
    expect((await auditOf(task.id)).map((row) => `${row.action} ${row.to}`).sort()).toEqual(
      [`assigned ${org.employee.id}`, `assigned ${org.colleague.id}`].sort(),
    );
    expect(await emailsOf(org.employee.id, "task_assigned")).toHaveLength(1);
    expect(await emailsOf(org.colleague.id, "task_assigned")).toHaveLength(1);
  });

  it("an assignee added after a PATCH read the task is kept, and the PATCH's answer shows them", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { assignees: [org.employee.id] });
    const holder = await holdTask(task.id);
    await holder.locked;
    const renaming = patch(org.manager, task.id, { title: "renamed", status: "in_progress" });
    await waitForWaiters(holder, GUARD, 1);
    // What another request's batch does: a new assignee, and the task row's `updated_at`.
    await holder.client.query("insert into task_assignees (task_id, user_id) values ($1, $2)", [
      task.id,
      org.colleague.id,
    ]);
    await holder.client.query("update tasks set updated_at = clock_timestamp() where id = $1", [task.id]);
    await holder.finish("commit");

    const answer = await renaming;
    expect(answer.status).toBe(200);
    const both = [org.employee.id, org.colleague.id].sort((a, b) => a - b);
    expect(await json(answer)).toMatchObject({ title: "renamed", status: "in_progress", assignees: both });
    const now = await json<TaskBody>(await api(`/tasks/${task.id}/?nocache=1`, { token: org.manager.token }));
    expect(now).toMatchObject({ title: "renamed", assignees: both });
  });

  it("a PATCH that sets the assignees after another request added one decides on what is there now", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { assignees: [org.employee.id] });
    const holder = await holdTask(task.id);
    await holder.locked;
    // Read while the task had [employee]: "add colleague". Applied as read, the batch would keep
    // the hr user added meanwhile without deciding about them, and write no audit row for them.
    const setting = patch(org.manager, task.id, { assignees: [org.employee.id, org.colleague.id] });
    await waitForWaiters(holder, GUARD, 1);
    await holder.client.query("insert into task_assignees (task_id, user_id) values ($1, $2)", [task.id, org.hr.id]);
    await holder.client.query("update tasks set updated_at = clock_timestamp() where id = $1", [task.id]);
    await holder.finish("commit");

    const answer = await setting;
    expect(answer.status).toBe(200);
    const wanted = [org.employee.id, org.colleague.id].sort((a, b) => a - b);
    expect((await json<TaskBody>(answer)).assignees).toEqual(wanted);
    expect((await auditOf(task.id)).map((row) => `${row.action} ${row.to}`)).toEqual([
      `assigned ${org.employee.id}`,
      `assigned ${org.colleague.id}`,
      `unassigned ${org.hr.id}`,
    ]);
  });

  it("a comment on a task deleted after the comment's read is refused, as on a deleted task", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { assignees: [org.employee.id] });
    const holder = await holdTask(task.id);
    await holder.locked;
    const commenting = api(`/tasks/${task.id}/comments/`, { token: org.employee.token, json: { content: "late" } });
    await waitForWaiters(holder, GUARD, 1);
    await holder.client.query(
      "update tasks set deleted_at = clock_timestamp(), updated_at = clock_timestamp() where id = $1",
      [task.id],
    );
    await holder.finish("commit");
    const answer = await commenting;
    expect(answer.status).toBe(404);
    expect(await json(answer)).toEqual({ detail: "Task not found." });
  });

  it("a task that changes under every attempt: 409 after the last, with a sentence a person can act on", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { title: "contested" });
    let holder = await holdTask(task.id);
    await holder.locked;
    const renaming = patch(org.manager, task.id, { title: "mine" });
    const answered = renaming.then(() => "answered" as const);
    // Every time the request's batch waits for the row, the row changes under it. The next change
    // queues for the row before this one commits, so a retried batch finds the row held again.
    // (Postgres may hand the row to the queued change before the batch; the batch then meets two
    // changes at once, so the loop runs until the request answers rather than a fixed count.)
    let changes = 0;
    for (;;) {
      const batchWaits = waitForWaiters(holder, GUARD, 1).then(
        () => "waiting" as const,
        () => "not waiting" as const,
      );
      if ((await Promise.race([answered, batchWaits])) !== "waiting") break;
      const next = await holdTask(task.id);
      await waitForWaiters(holder, HELD, 1);
      await holder.client.query("update tasks set updated_at = clock_timestamp() where id = $1", [task.id]);
      await holder.finish("commit");
      changes++;
      await next.locked;
      holder = next;
    }
    await holder.finish("rollback");
    expect(changes).toBeGreaterThanOrEqual(MAX_ATTEMPTS);
    const answer = await renaming;
    expect(answer.status).toBe(409);
    expect(await json(answer)).toEqual({ detail: TASK_CHANGED_DETAIL });
    const now = await json<TaskBody>(await api(`/tasks/${task.id}/?nocache=1`, { token: org.manager.token }));
    expect(now.title).toBe("contested");
  });

  it("gives up after MAX_ATTEMPTS re-checks, and passes any other error through at once", async () => {
    let calls = 0;
    const changed = Object.assign(new Error("task changed"), { code: "ET409" });
    await expect(
      withRetries(async () => {
        calls++;
        throw changed;
      }),
    ).rejects.toMatchObject({ status: 409, detail: TASK_CHANGED_DETAIL });
    expect(calls).toBe(MAX_ATTEMPTS);
    calls = 0;
    await expect(
      withRetries(async () => {
        calls++;
        throw Object.assign(new Error("boom"), { code: "42P01" });
      }),
    ).rejects.toThrow("boom");
    expect(calls).toBe(1);
    calls = 0;
    expect(await withRetries(async () => (++calls < 3 ? Promise.reject(changed) : "third time"))).toBe("third time");
  });
});

describe("a user or department named in a create that goes away before its batch", () => {
  it("a department deleted in between: the same 400 as for one that never existed", async () => {
    const manager = await createUser({ role: "manager", via: "sql" });
    const [department] = await withDb((db) =>
      db
        .insert(departments)
        .values({ name: `doomed-${crypto.randomUUID()}` })
        .returning({ id: departments.id }),
    );
    if (!department) throw new Error("no department");
    // The insert's foreign key check needs the department row: held here, it waits.
    const answer = await deletedUnder("departments", department.id, 'insert into "tasks"', () =>
      api("/tasks/", { token: manager.token, json: { title: "x", department: department.id } }),
    );
    expect(answer.status).toBe(400);
    expect(await json(answer)).toEqual({
      detail: `Invalid value for 'department': no department with id ${department.id}`,
      errors: [{ field: "department", message: `no department with id ${department.id}` }],
    });
  });

  it("an assignee deleted in between: the same 400 as for an unknown user, and no task is left", async () => {
    const manager = await createUser({ role: "manager", via: "sql" });
    const doomed = await createUser({ role: "employee", via: "sql" });
    const title = `orphan ${crypto.randomUUID()}`;
    const answer = await deletedUnder("users", doomed.id, "task_assignees", () =>
      api("/tasks/", { token: manager.token, json: { title, assignees: [doomed.id] } }),
    );
    expect(answer.status).toBe(400);
    expect(await json(answer)).toEqual({
      detail: `Invalid input in assignees: unknown user ${doomed.id}.`,
      errors: [{ field: "assignees", message: `unknown user id(s): ${doomed.id}` }],
    });
    expect(await withDb((db) => db.select().from(tasks).where(eq(tasks.title, title)))).toEqual([]);
    expect(await withDb((db) => db.select().from(users).where(eq(users.id, doomed.id)))).toEqual([]);
  });
});

describe("round trips to the database per request", () => {
  let requests: string[] = [];
  let original: unknown;
  beforeAll(() => {
    original = neonConfig.fetchFunction;
    neonConfig.fetchFunction = (input: RequestInfo | URL, init?: RequestInit) => {
      requests.push(typeof init?.body === "string" ? init.body : "");
      return fetch(input, init);
    };
  });
  afterAll(() => {
    neonConfig.fetchFunction = original;
  });

  /** The database requests `call` makes (each one a round trip: nothing here is sent in parallel). */
  async function trips(call: () => Promise<Response>, status: number): Promise<string[]> {
    requests = [];
    const response = await call();
    expect(response.status).toBe(status);
    await response.arrayBuffer();
    return requests;
  }

  it("every uncached GET is one, every task and comment write at most two", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { assignees: [org.employee.id] });
    // Each caller's first request lets their edge state learn the login (it may ask Postgres once).
    for (const member of [org.manager, org.employee, org.ceo]) await api("/tasks/my_tasks/", { token: member.token });
    const t = `/tasks/${task.id}/`;
    const m = org.manager.token;
    const reads: [string, string][] = [
      ["list", "/tasks/?nocache=1"],
      ["my tasks", "/tasks/my_tasks/?nocache=1"],
      ["detail", `${t}?nocache=1`],
      ["assignments", `/task-assignments/?task=${task.id}`],
      ["comments", `${t}comments/`],
    ];
    for (const [name, path] of reads) expect(await trips(() => api(path, { token: m }), 200), name).toHaveLength(1);

    const created = await trips(
      () =>
        api("/tasks/", {
          token: m,
          json: { title: "counted", department: org.departmentId, assignees: [org.employee.id] },
        }),
      201,
    );
    expect(created).toHaveLength(2);
    const writes: [string, () => Promise<Response>, number, number][] = [
      ["patch", () => patch(org.manager, task.id, { title: "counted" }), 200, 2],
      ["patch that changes nothing", () => patch(org.manager, task.id, { title: "counted" }), 200, 1],
      ["put", () => api(t, { method: "PUT", token: m, json: { title: "put", assignees: [org.colleague.id] } }), 200, 2],
      ["assign", () => api(`${t}assign/`, { token: m, json: { assignees: [org.employee.id] } }), 200, 2],
      ["unassign", () => api(`${t}unassign/`, { token: m, json: { assignees: [org.employee.id] } }), 200, 2],
      ["comment", () => api(`${t}comments/`, { token: m, json: { content: "counted" } }), 201, 2],
      ["complete", () => api(`${t}complete/`, { method: "POST", token: m }), 200, 2],
      ["complete again", () => api(`${t}complete/`, { method: "POST", token: m }), 200, 1],
      ["delete", () => api(t, { method: "DELETE", token: m }), 204, 2],
    ];
    for (const [name, call, status, expected] of writes) {
      const sent = await trips(call, status);
      expect(sent.length, name).toBe(expected);
      // The second is one batch whose first statement is the re-check.
      if (expected === 2) expect(JSON.parse(sent[1] ?? "{}").queries?.[0]?.query, name).toContain(GUARD);
    }
  });

  it("deleting a comment is two", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager);
    const comment = await json<{ id: number }>(
      await api(`/tasks/${task.id}/comments/`, { token: org.manager.token, json: { content: "bye" } }),
    );
    expect(
      await trips(() => api(`/comments/${comment.id}/`, { method: "DELETE", token: org.manager.token }), 204),
    ).toHaveLength(2);
  });
});
