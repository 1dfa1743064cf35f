/**
 * Safe retries with `Idempotency-Key`: a client that lost the answer to a committed POST retries
 * and gets the first answer, with exactly one object created; concurrent duplicates create one;
 * another request under a used key is a 422; keys are per user.
 */
import { runInDurableObject } from "cloudflare:test";
import { and, count, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { taskComments, tasks } from "../../src/platform/db/schema.ts";
import { userStateOf } from "../../src/platform/edge-state/user-state.client.ts";
import { testEnv, withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import { makeOrg, type Org } from "../support/org.ts";
import { makeTask, whileTaskHistoryFails } from "../support/tasks.ts";

const tasksTitled = (title: string) =>
  withDb(async (db) => (await db.select({ n: count() }).from(tasks).where(eq(tasks.title, title)))[0]?.n ?? 0);

const newKey = () => `key-${crypto.randomUUID()}`;

/** A task creation under a fresh key: `send` makes the same request each time. */
function keyedTaskCreate(token: string, about: string) {
  const key = newKey();
  const title = `${about} ${key}`;
  const send = () => api("/tasks/", { token, json: { title }, headers: { "Idempotency-Key": key } });
  return { key, title, send };
}

describe("Idempotency-Key", () => {
  let org: Org;

  beforeAll(async () => {
    org = await makeOrg();
  });

  it("a retry after the answer was lost gets the first answer, replayed, and one task exists", async () => {
    const { key, title, send } = keyedTaskCreate(org.manager.token, "once");

    // The first request commits; its answer is dropped unread, as when the connection breaks.
    const lost = await send();
    expect(lost.status).toBe(201);
    const first = await lost.text();
    expect(lost.headers.get("Idempotent-Replayed")).toBeNull();

    const retried = await send();
    expect(retried.status).toBe(201);
    expect(retried.headers.get("Idempotent-Replayed")).toBe("true");
    expect(retried.headers.get("Content-Type")).toContain("application/json");
    expect(await retried.text()).toBe(first);
    expect(await tasksTitled(title)).toBe(1);

    // The trailing slash does not make it another request.
    const withoutSlash = await api("/tasks", {
      token: org.manager.token,
      json: { title },
      headers: { "Idempotency-Key": key },
    });
    expect(withoutSlash.status).toBe(201);
    expect(withoutSlash.headers.get("Idempotent-Replayed")).toBe("true");
    expect(await tasksTitled(title)).toBe(1);
  });

  it("concurrent duplicates create exactly one task; the others wait (409) or replay", async () => {
    const key = newKey();
    const title = `concurrent ${key}`;
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        api("/tasks/", { token: org.manager.token, json: { title }, headers: { "Idempotency-Key": key } }),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 201 || status === 409)).toHaveLength(6);
    const fresh = answers.filter(
      (answer) => answer.status === 201 && answer.headers.get("Idempotent-Replayed") === null,
    );
    expect(fresh).toHaveLength(1);
    const conflict = answers.find((answer) => answer.status === 409);
    if (conflict) expect((await json<{ detail: string }>(conflict)).detail).toMatch(/still being processed/);
    expect(await tasksTitled(title)).toBe(1);
  });

  it("the same key with another body, path or method is a 422 and does nothing", async () => {
    const key = newKey();
    const task = await makeTask(org.manager, { title: "target" });
    const first = await api(`/tasks/${task.id}/comments/`, {
      token: org.manager.token,
      json: { content: "first" },
      headers: { "Idempotency-Key": key },
    });
    expect(first.status).toBe(201);

    const otherBody = await api(`/tasks/${task.id}/comments/`, {
      token: org.manager.token,
      json: { content: "second" },
      headers: { "Idempotency-Key": key },
    });
    expect(otherBody.status).toBe(422);
    expect((await json<{ detail: string }>(otherBody)).detail).toMatch(/another method, path or body/);

    const otherPath = await api("/tasks/", {
      token: org.manager.token,
      json: { content: "first" },
      headers: { "Idempotency-Key": key },
    });
    expect(otherPath.status).toBe(422);
    const otherMethod = await api(`/tasks/${task.id}/`, {
      method: "PATCH",
      token: org.manager.token,
      json: { title: "patched" },
      headers: { "Idempotency-Key": key },
    });
    expect(otherMethod.status).toBe(422);

    const comments = await withDb(async (db) =>
      db
        .select({ n: count() })
        .from(taskComments)
        .where(and(eq(taskComments.taskId, task.id))),
    );
    expect(comments[0]?.n).toBe(1);
    const unchanged = await json<{ title: string }>(
      await api(`/tasks/${task.id}/?nocache=1`, { token: org.manager.token }),
    );
    expect(unchanged.title).toBe("target");
  });

  it("PATCH replays its first answer and does not apply again", async () => {
    const task = await makeTask(org.manager, { title: "patch me" });
    const key = newKey();
    const patch = () =>
      api(`/tasks/${task.id}/`, {
        method: "PATCH",
        token: org.manager.token,
        json: { title: "patched once" },
        headers: { "Idempotency-Key": key },
      });
    const first = await patch();
    expect(first.status).toBe(200);
    const body = await first.text();
    // Someone else changes the task; the retry must not write the title back over it.
    expect(
      (await api(`/tasks/${task.id}/`, { method: "PATCH", token: org.ceo.token, json: { title: "ceo's" } })).status,
    ).toBe(200);
    const again = await patch();
    expect(again.status).toBe(200);
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    expect(await again.text()).toBe(body);
    const now = await json<{ title: string }>(await api(`/tasks/${task.id}/?nocache=1`, { token: org.manager.token }));
    expect(now.title).toBe("ceo's");
  });

  it("a refused first request is replayed as refused (the outcome is kept, whatever its 4xx)", async () => {
    const key = newKey();
    const bad = () =>
      api("/tasks/", { token: org.manager.token, json: { title: "" }, headers: { "Idempotency-Key": key } });
    const first = await bad();
    expect(first.status).toBe(400);
    const again = await bad();
    expect(again.status).toBe(400);
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    expect(await again.text()).toBe(await first.text());
  });

  it("a server error is not kept: the retry runs, and creates the one task", async () => {
    const { title, send } = keyedTaskCreate(org.manager.token, "after a failure");
    // The write's last statement fails, so the whole write rolls back and the client gets a 500.
    // Only this task's history is refused: files running meanwhile write theirs.
    const failed = await whileTaskHistoryFails(`new.changes->'title'->>1 = '${title.replaceAll("'", "''")}'`, send);
    expect(failed.status).toBe(500);
    expect(await tasksTitled(title)).toBe(0);
    const retried = await send();
    expect(retried.status).toBe(201);
    expect(retried.headers.get("Idempotent-Replayed")).toBeNull();
    expect(await tasksTitled(title)).toBe(1);
  });

  it("a key answers its retries for 24 hours, and runs again once that has passed", async () => {
    const { key, title, send } = keyedTaskCreate(org.manager.token, "a day");
    const sentAt = Date.now();
    expect((await send()).status).toBe(201);
    const stored = `idempotency:${key}`;
    const state = userStateOf(testEnv, org.manager.id);
    const expiresAt = await runInDurableObject(
      state,
      async (_instance, object) => (await object.storage.get<{ expiresAt: number }>(stored))?.expiresAt,
    );
    const day = 24 * 60 * 60_000;
    expect(expiresAt).toBeGreaterThanOrEqual(sentAt + day - 60_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + day + 60_000);
    expect((await send()).headers.get("Idempotent-Replayed")).toBe("true");

    // The day has passed: the key is free again, and the retry is a new request.
    await runInDurableObject(state, async (_instance, object) => {
      const entry = await object.storage.get<{ expiresAt: number }>(stored);
      await object.storage.put(stored, { ...entry, expiresAt: Date.now() - 1 });
    });
    const later = await send();
    expect(later.status).toBe(201);
    expect(later.headers.get("Idempotent-Replayed")).toBeNull();
    expect(await tasksTitled(title)).toBe(2);
  });

  it("keys belong to their user: another user's same key and body runs on its own", async () => {
    const key = newKey();
    const title = `per user ${key}`;
    const mine = await api("/tasks/", {
      token: org.manager.token,
      json: { title },
      headers: { "Idempotency-Key": key },
    });
    const theirs = await api("/tasks/", { token: org.ceo.token, json: { title }, headers: { "Idempotency-Key": key } });
    expect(mine.status).toBe(201);
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get("Idempotent-Replayed")).toBeNull();
    expect(await tasksTitled(title)).toBe(2);
  });

  it("without the header nothing changes, and a malformed key is a 400 that names the header", async () => {
    const title = `plain ${newKey()}`;
    expect((await api("/tasks/", { token: org.manager.token, json: { title } })).status).toBe(201);
    expect((await api("/tasks/", { token: org.manager.token, json: { title } })).status).toBe(201);
    expect(await tasksTitled(title)).toBe(2);

    for (const key of ["x".repeat(256), "tab\there", ""]) {
      const refused = await api("/tasks/", {
        token: org.manager.token,
        json: { title: "never" },
        headers: { "Idempotency-Key": key },
      });
      expect(refused.status, key).toBe(400);
      expect((await json<{ detail: string }>(refused)).detail).toContain("Idempotency-Key");
    }
    const longest = await api("/tasks/", {
      token: org.manager.token,
      json: { title: `longest ${newKey()}` },
      headers: { "Idempotency-Key": "k".repeat(255) },
    });
    expect(longest.status).toBe(201);
  });

  it("the OpenAPI document declares the header, 409 and 422 on every authenticated POST and PATCH", async () => {
    const document = await json<{
      paths: Record<
        string,
        Record<string, { security?: unknown[]; parameters?: { name: string }[]; responses: Record<string, unknown> }>
      >;
    }>(await api("/openapi.json"));
    let checked = 0;
    for (const item of Object.values(document.paths)) {
      for (const method of ["post", "patch"]) {
        const operation = item[method];
        if (!operation?.security?.length) continue;
        checked++;
        expect(operation.parameters?.some((parameter) => parameter.name === "Idempotency-Key")).toBe(true);
        expect(operation.responses["409"]).toBeDefined();
        expect(operation.responses["422"]).toBeDefined();
      }
    }
    expect(checked).toBeGreaterThan(10);
  });
});
