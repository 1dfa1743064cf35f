/**
 * Which writes fire which webhook events: each exactly once, recorded by the write's own
 * transaction (so the delivery rows exist when the write answers, and not at all when it rolls
 * back), then delivered to the receiver and verified there with the `standardwebhooks` package.
 * Subscriptions see every event of the organisation, and other test files write tasks meanwhile,
 * so each assertion is scoped to the task or upload the test made.
 */
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dispatchWebhooks } from "../../src/features/webhooks/outbox.ts";
import { redriveWebhooks } from "../../src/features/webhooks/redrive.ts";
import { webhookMessageId } from "../../src/features/webhooks/webhooks.consumer.ts";
import { webhookDeliveries } from "../../src/platform/db/schema.ts";
import { eventually, testEnv, withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import { makeOrg, type Org } from "../support/org.ts";
import { makeTask, whileTaskHistoryFails } from "../support/tasks.ts";
import { finished, formUpload, sampleCsv } from "../support/uploads.ts";
import { createUser, type TestUser } from "../support/users.ts";
import {
  envelope,
  received,
  receivedWithId,
  type Subscription,
  settledDelivery,
  subscribe,
  unsubscribe,
} from "./webhooks-fixtures.ts";

let org: Org;
let hook: Subscription & { secret: string };
let name: string;

beforeAll(async () => {
  org = await makeOrg();
  ({ hook, name } = await subscribe(org.ceo));
});

afterAll(async () => {
  await unsubscribe(org.ceo, hook.id);
});

/** This subscription's delivery rows about one task (or upload), oldest first. */
async function rowsAbout(kind: "task" | "upload", id: number | string, subscriptionId = hook.id) {
  return withDb((db) =>
    db
      .select()
      .from(webhookDeliveries)
      .where(
        and(
          eq(webhookDeliveries.subscriptionId, subscriptionId),
          sql`${webhookDeliveries.payload}->${kind}->>'id' = ${String(id)}`,
        ),
      )
      .orderBy(webhookDeliveries.id),
  );
}

/** Waits until the receiver holds one request per delivery row about the object, every one verified. */
async function receivedAbout(kind: "task" | "upload", id: number | string, rowCount: number) {
  return eventually(async () => {
    const all = await received(name, hook.secret);
    const mine = all.filter((d) => {
      const data = envelope(d).data as Record<string, { id?: unknown } | undefined>;
      return String(data[kind]?.id) === String(id);
    });
    return mine.length >= rowCount ? mine : undefined;
  }, 20_000);
}

const write = async (path: string, token: string, init: { method?: string; json?: unknown }) => {
  const response = await api(path, { method: "POST", ...init, token });
  expect(response.status, `${init.method ?? "POST"} ${path}: ${await response.clone().text()}`).toBeLessThan(300);
  return response;
};

describe("task events", () => {
  it("each task write fires its events exactly once, recorded before the write answers", async () => {
    const { manager, employee, colleague } = org;
    const events = async (taskId: number) => (await rowsAbout("task", taskId)).map((row) => row.event);

    const task = await makeTask(manager, { assignees: [employee.id] });
    // Written by the create's own batch: present as soon as it answers, no waiting.
    expect(await events(task.id)).toEqual(["task.created", "task.assigned"]);

    await write(`/tasks/${task.id}/`, manager.token, { method: "PATCH", json: { title: "renamed by webhook test" } });
    await write(`/tasks/${task.id}/assign/`, manager.token, { json: { assignees: [colleague.id] } });
    // Naming an assignee again changes nothing and fires nothing.
    await write(`/tasks/${task.id}/assign/`, manager.token, { json: { assignees: [colleague.id] } });
    await write(`/tasks/${task.id}/unassign/`, manager.token, { json: { assignees: [colleague.id] } });
    await write(`/tasks/${task.id}/complete/`, manager.token, {});
    await write(`/tasks/${task.id}/complete/`, manager.token, {});
    // A PATCH that changes nothing fires nothing.
    await write(`/tasks/${task.id}/`, manager.token, { method: "PATCH", json: { title: "renamed by webhook test" } });
    await write(`/tasks/${task.id}/`, manager.token, { method: "DELETE" });

    const expected = [
      "task.created",
      "task.assigned",
      "task.updated",
      "task.assigned",
      "task.unassigned",
      "task.completed",
      "task.deleted",
    ];
    expect(await events(task.id)).toEqual(expected);

    const rows = await rowsAbout("task", task.id);
    const deliveries = await receivedAbout("task", task.id, rows.length);
    expect(deliveries).toHaveLength(expected.length);
    expect(deliveries.every((d) => d.verified)).toBe(true);
    const byId = new Map(deliveries.map((d) => [d.headers["webhook-id"], envelope(d)]));
    const bodies = rows.map((row) => byId.get(`msg_${row.id}`));
    expect(bodies.map((body) => body?.type)).toEqual(expected);

    const [created, assigned, updated, assignedAgain, unassigned, completed, deleted] = bodies;
    expect(created?.data).toMatchObject({
      actor: manager.id,
      task: { id: task.id, title: task.title, assignees: [employee.id], status: "todo", creator: manager.id },
    });
    expect(created?.data.task).toEqual({ ...task, updated_at: created?.data.task?.updated_at });
    expect(assigned?.data.assignees).toEqual([employee.id]);
    expect(updated?.data).toMatchObject({
      task: { title: "renamed by webhook test" },
      changes: { title: [task.title, "renamed by webhook test"] },
    });
    expect(assignedAgain?.data).toMatchObject({
      assignees: [colleague.id],
      task: { assignees: [employee.id, colleague.id].sort((a, b) => a - b) },
    });
    expect(unassigned?.data).toMatchObject({ assignees: [colleague.id], task: { assignees: [employee.id] } });
    expect(completed?.data.task).toMatchObject({ status: "done", completed_at: expect.any(String) });
    expect(deleted?.data).toMatchObject({ actor: manager.id, task: { id: task.id } });
    for (const body of bodies) expect(body?.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("a PATCH fires task.updated for its own fields and the events of what else it did", async () => {
    const { manager, employee, colleague } = org;
    const task = await makeTask(manager, { assignees: [employee.id] });
    const before = (await rowsAbout("task", task.id)).length;
    await write(`/tasks/${task.id}/`, manager.token, { method: "PATCH", json: { assignees: [colleague.id] } });
    await write(`/tasks/${task.id}/`, manager.token, { method: "PATCH", json: { status: "done", priority: "high" } });
    const rows = (await rowsAbout("task", task.id)).slice(before);
    expect(rows.map((row) => [row.event, row.payload.assignees ?? null])).toEqual([
      ["task.assigned", [colleague.id]],
      ["task.unassigned", [employee.id]],
      ["task.updated", null],
      ["task.completed", null],
    ]);
  });

  it("nothing is recorded when the write rolls back", async () => {
    const { manager } = org;
    const marker = `webhook-rollback-${crypto.randomUUID()}`;
    const task = await makeTask(manager);
    // The task write's batch records its history after its webhook deliveries; a history insert
    // that fails for this test's title alone makes the whole batch roll back after them.
    await whileTaskHistoryFails(`new.changes->'title'->>1 = '${marker}'`, async () => {
      const create = await api("/tasks/", { token: manager.token, json: { title: marker } });
      expect(create.status).toBe(500);
      const patch = await api(`/tasks/${task.id}/`, { method: "PATCH", token: manager.token, json: { title: marker } });
      expect(patch.status).toBe(500);
    });
    const recorded = await withDb((db) =>
      db
        .select({ id: webhookDeliveries.id })
        .from(webhookDeliveries)
        .where(sql`${webhookDeliveries.payload}->'task'->>'title' = ${marker}`),
    );
    expect(recorded).toEqual([]);
    expect((await rowsAbout("task", task.id)).map((row) => row.event)).toEqual(["task.created"]);
    // The same write without the fault records its event: the refusal above is what stopped it.
    await write(`/tasks/${task.id}/`, manager.token, { method: "PATCH", json: { title: marker } });
    expect((await rowsAbout("task", task.id)).map((row) => row.event)).toEqual(["task.created", "task.updated"]);
  });
});

describe("upload events", () => {
  let owner: TestUser;
  beforeAll(async () => {
    owner = await createUser();
  });

  /** The owner uploads `text`; it ends `status`, which records one event and delivers it signed. */
  async function uploadEnding(text: string, status: "completed" | "failed") {
    const upload = await formUpload(owner, text);
    expect(await finished(owner, upload.id)).toMatchObject({ status });
    const rows = await eventually(async () => {
      const found = await rowsAbout("upload", upload.id);
      return found.length > 0 ? found : undefined;
    });
    expect(rows.map((row) => row.event)).toEqual([`upload.${status}`]);
    const [delivery] = await receivedAbout("upload", upload.id, 1);
    expect(delivery?.verified).toBe(true);
    return { upload, rows, delivery: delivery! };
  }

  it("a completed upload fires upload.completed once", { timeout: 60_000 }, async () => {
    const { upload, rows, delivery } = await uploadEnding(sampleCsv(50), "completed");
    expect(envelope(delivery).data).toEqual({
      owner: owner.id,
      upload: {
        id: upload.id,
        filename: "data.csv",
        status: "completed",
        total_rows: 50,
        processed_rows: 50,
        error_rows: 0,
        error: null,
        job: expect.any(String),
      },
    });
    expect(await settledDelivery(rows[0]!.id)).toMatchObject({ status: "delivered", attempts: 1 });
    expect(await rowsAbout("upload", upload.id)).toHaveLength(1);
  });

  it("a failed upload fires upload.failed once", { timeout: 60_000 }, async () => {
    const lines = ["id,name,amount"];
    for (let i = 1; i <= 100; i++) lines.push(i > 80 ? `${i},only two fields` : `${i},name ${i},${i}.5`);
    const { upload, delivery } = await uploadEnding(`${lines.join("\n")}\n`, "failed");
    expect(envelope(delivery)).toMatchObject({
      type: "upload.failed",
      data: {
        owner: owner.id,
        upload: { id: upload.id, status: "failed", error: expect.stringContaining("rejected") },
      },
    });
  });
});

describe("subscriptions that should hear nothing", () => {
  it("a subscription hears only the events it asked for", async () => {
    const narrow = await subscribe(org.hr, ["task.created"]);
    const task = await makeTask(org.manager, { assignees: [org.employee.id] });
    await write(`/tasks/${task.id}/`, org.manager.token, { method: "PATCH", json: { title: "heard by one" } });
    await write(`/tasks/${task.id}/complete/`, org.manager.token, {});
    await write(`/tasks/${task.id}/`, org.manager.token, { method: "DELETE" });
    expect((await rowsAbout("task", task.id, narrow.hook.id)).map((row) => row.event)).toEqual(["task.created"]);
    // The subscription to every event recorded them all.
    expect((await rowsAbout("task", task.id)).map((row) => row.event)).toEqual([
      "task.created",
      "task.assigned",
      "task.updated",
      "task.completed",
      "task.deleted",
    ]);
    await unsubscribe(org.hr, narrow.hook.id);
  });

  it("a deactivated subscription and a deleted one record and receive nothing; an active one does", async () => {
    const paused = await subscribe(org.hr, ["task.created"]);
    const removed = await subscribe(org.hr, ["task.created"]);
    const control = await subscribe(org.hr, ["task.created"]);
    const patch = await api(`/webhooks/${paused.hook.id}/`, {
      method: "PATCH",
      token: org.hr.token,
      json: { active: false },
    });
    expect(await json(patch)).toMatchObject({ active: false });
    await unsubscribe(org.hr, removed.hook.id);

    const task = await makeTask(org.manager);
    expect((await rowsAbout("task", task.id, control.hook.id)).map((row) => row.event)).toEqual(["task.created"]);
    expect(await rowsAbout("task", task.id, paused.hook.id)).toEqual([]);
    expect(await rowsAbout("task", task.id, removed.hook.id)).toEqual([]);
    // The control's delivery arrives; the others had no row to send. (Other files' events recorded
    // before the pause may reach the paused path, so only this task's are looked at.)
    const aboutTask = async (receiver: string) =>
      (await received(receiver)).filter((d) => envelope(d).data.task?.id === task.id);
    await eventually(async () => ((await aboutTask(control.name)).length > 0 ? true : undefined), 20_000);
    expect(await aboutTask(paused.name)).toEqual([]);
    expect(await aboutTask(removed.name)).toEqual([]);

    // Paused after an event was recorded: the queued delivery is dropped as failed, never sent.
    const [row] = await withDb((db) =>
      db
        .insert(webhookDeliveries)
        .values({ subscriptionId: paused.hook.id, event: "task.created", payload: { task: { id: task.id } } })
        .returning(),
    );
    await dispatchWebhooks(testEnv, [row!.id]);
    expect(await settledDelivery(row!.id)).toMatchObject({ status: "failed", attempts: 0 });
    expect(await receivedWithId(paused.name, webhookMessageId(row!.id))).toEqual([]);
    await unsubscribe(org.hr, paused.hook.id);
    await unsubscribe(org.hr, control.hook.id);
  });
});

describe("re-drive", () => {
  it("a delivery whose enqueue was lost is enqueued again by the cron's re-drive, and delivered", async () => {
    const { hook: lost, name: lostName } = await subscribe(org.ceo, ["task.deleted"]);
    const [row] = await withDb((db) =>
      db
        .insert(webhookDeliveries)
        .values({
          subscriptionId: lost.id,
          event: "task.deleted",
          payload: { task: { id: 0 } },
          createdAt: new Date(Date.now() - 20 * 60_000),
        })
        .returning(),
    );
    expect(await redriveWebhooks(testEnv)).toContain(row!.id);
    expect(await settledDelivery(row!.id)).toMatchObject({ status: "delivered", attempts: 1 });
    const delivered = await receivedWithId(lostName, webhookMessageId(row!.id), lost.secret);
    expect(delivered.map((d) => d.verified)).toEqual([true]);
    await unsubscribe(org.ceo, lost.id);
  });
});
