import { describe, expect, it } from "vitest";
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
});
