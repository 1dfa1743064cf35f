import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { taskComments } from "../../src/platform/db/schema.ts";
import { withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import { makeOrg } from "../support/org.ts";
import { makeTask } from "../support/tasks.ts";

describe("comments", () => {
  it("readers comment; author, HR or CEO delete; others get 403 or 404", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { assignees: [org.employee.id] });
    const path = `/tasks/${task.id}/comments/`;

    const byAssignee = await api(path, { token: org.employee.token, json: { content: "Started" } });
    expect(byAssignee.status).toBe(201);
    const comment = await json<{ id: number }>(byAssignee);
    expect(comment).toMatchObject({ task: task.id, author: org.employee.id, content: "Started" });
    const byManager = await json<{ id: number }>(
      await api(path, { token: org.manager.token, json: { content: "Thanks" } }),
    );

    const listed = await json<{ count: number; results: { content: string }[] }>(
      await api(path, { token: org.employee.token }),
    );
    expect(listed.count).toBe(2);
    expect(listed.results.map((c) => c.content)).toEqual(["Started", "Thanks"]);

    expect((await api(path, { token: org.outsider.token })).status).toBe(404);
    expect((await api(path, { token: org.outsider.token, json: { content: "hi" } })).status).toBe(404);
    expect((await api(`/comments/${comment.id}/`, { method: "DELETE", token: org.outsider.token })).status).toBe(404);
    // The assignee sees the manager's comment but may delete only their own.
    expect((await api(`/comments/${byManager.id}/`, { method: "DELETE", token: org.employee.token })).status).toBe(403);
    expect((await api(`/comments/${comment.id}/`, { method: "DELETE", token: org.employee.token })).status).toBe(204);
    expect((await api(`/comments/${byManager.id}/`, { method: "DELETE", token: org.hr.token })).status).toBe(204);
    expect((await json(await api(path, { token: org.manager.token }))).count).toBe(0);
  });

  it("rejects bad input and hides comments of deleted tasks", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee);
    const path = `/tasks/${task.id}/comments/`;
    expect((await api(path, { token: org.employee.token, json: { content: "" } })).status).toBe(400);
    expect((await api(path, { token: org.employee.token, json: { content: "x", author: 1 } })).status).toBe(400);
    expect(
      (await api(path, { token: org.employee.token, body: "x", headers: { "Content-Type": "text/plain" } })).status,
    ).toBe(415);
    expect((await api("/comments/abc/", { method: "DELETE", token: org.employee.token })).status).toBe(400);
    const comment = await json<{ id: number }>(await api(path, { token: org.employee.token, json: { content: "x" } }));
    expect((await api(`/tasks/${task.id}/`, { method: "DELETE", token: org.employee.token })).status).toBe(204);
    expect((await api(path, { token: org.employee.token })).status).toBe(404);
    expect((await api(`/comments/${comment.id}/`, { method: "DELETE", token: org.ceo.token })).status).toBe(404);
  });

  it("a comment may hold 10,000 characters, not one more", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee);
    const path = `/tasks/${task.id}/comments/`;
    const longest = await api(path, { token: org.employee.token, json: { content: "x".repeat(10_000) } });
    expect(longest.status).toBe(201);
    expect((await json<{ content: string }>(longest)).content).toHaveLength(10_000);
    const tooLong = await api(path, { token: org.employee.token, json: { content: "x".repeat(10_001) } });
    expect(tooLong.status).toBe(400);
    expect((await json<{ errors: { field: string }[] }>(tooLong)).errors[0]?.field).toBe("content");
  });

  it("pages of comments written at the same instant neither skip nor repeat one (the id breaks ties)", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee);
    const path = `/tasks/${task.id}/comments/`;
    const ids: number[] = [];
    for (let i = 0; i < 40; i++) {
      const response = await api(path, { token: org.employee.token, json: { content: `comment ${i}` } });
      ids.push((await json<{ id: number }>(response)).id);
    }
    // One instant for all, written in reverse id order so the table's physical order is no help.
    await withDb(async (db) => {
      for (const id of [...ids].reverse()) {
        await db
          .update(taskComments)
          .set({ createdAt: sql`'2026-01-01T00:00:00Z'::timestamptz` })
          .where(eq(taskComments.id, id));
      }
    });
    const paged: number[] = [];
    for (let page = 1; page <= 6; page++) {
      const listed = await json<{ results: { id: number }[] }>(
        await api(`${path}?page_size=7&page=${page}`, { token: org.employee.token }),
      );
      paged.push(...listed.results.map((comment) => comment.id));
    }
    expect(paged).toEqual([...ids].sort((a, b) => a - b));
  });
});
