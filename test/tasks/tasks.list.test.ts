import { inArray, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { tasks } from "../../src/platform/db/schema.ts";
import { withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import { makeOrg } from "../support/org.ts";
import { makeTask } from "../support/tasks.ts";
import { createUser } from "../support/users.ts";

type Page = {
  count: number;
  next: string | null;
  previous: string | null;
  results: { id: number; priority: string }[];
};
const list = async (token: string, query: string): Promise<Page> => {
  const response = await api(`/tasks/?${query}`, { token, headers: { "Cache-Control": "no-cache" } });
  expect(response.status, query).toBe(200);
  return json<Page>(response);
};

describe("tasks: filters, ordering, pagination, cache", () => {
  it("filters by status, priority, assignee, department, creator, dates and search", async () => {
    const org = await makeOrg();
    const boss = org.ceo;
    const a = await makeTask(boss, {
      title: "Alpha report",
      priority: "low",
      due_date: "2030-01-10",
      department: org.departmentId,
    });
    const b = await makeTask(boss, {
      title: "Beta",
      description: "the 100% REPORT",
      priority: "critical",
      due_date: "2030-03-01",
      assignees: [org.employee.id],
    });
    const c = await makeTask(org.employee, { title: "Gamma", priority: "high" });
    await api(`/tasks/${c.id}/complete/`, { method: "POST", token: org.employee.token });
    const ids = async (query: string) =>
      (await list(boss.token, `creator=${boss.id}&${query}`)).results.map((t) => t.id).sort();
    const all = async (query: string) => (await list(boss.token, query)).results.map((t) => t.id).sort();

    expect(await all(`status=completed&creator=${org.employee.id}`)).toEqual([c.id]);
    expect(await all(`task_status=done&creator=${org.employee.id}`)).toEqual([c.id]);
    expect(await ids("status=pending")).toEqual([a.id, b.id].sort());
    expect(await ids("task_status=todo")).toEqual([a.id, b.id].sort());
    expect(await ids("priority=critical")).toEqual([b.id]);
    expect(await all(`assigned_to=${org.employee.id}`)).toEqual([b.id]);
    expect((await list(org.employee.token, "assigned_to=me")).results.map((t) => t.id)).toEqual([b.id]);
    expect(await ids(`department=${org.departmentId}`)).toEqual([a.id]);
    expect(await ids("due_before=2030-02-01")).toEqual([a.id]);
    expect(await ids("due_after=2030-02-01T00:00:00Z")).toEqual([b.id]);
    expect(await ids("search=report")).toEqual([a.id, b.id].sort());
    expect(await ids("search=100%25")).toEqual([b.id]);
    expect(await ids("search=_")).toEqual([]);

    const mine = await json<Page>(await api("/tasks/my_tasks/", { token: org.employee.token }));
    expect(mine.results.map((t) => t.id)).toEqual([b.id]);
  });

  it("orders by priority rank and dates, and paginates with full links", async () => {
    const user = await createUser({ role: "employee", via: "sql" });
    for (const priority of ["high", "low", "critical", "medium"]) await makeTask(user, { priority });
    expect((await list(user.token, "ordering=priority")).results.map((t) => t.priority)).toEqual([
      "low",
      "medium",
      "high",
      "critical",
    ]);
    expect((await list(user.token, "ordering=-priority")).results.map((t) => t.priority)).toEqual([
      "critical",
      "high",
      "medium",
      "low",
    ]);
    const byCreated = (await list(user.token, "ordering=created_at")).results.map((t) => t.id);
    expect(byCreated).toEqual([...byCreated].sort((x, y) => x - y));

    const first = await list(user.token, "ordering=created_at&page_size=3");
    expect(first.count).toBe(4);
    expect(first.previous).toBeNull();
    expect(first.next).toMatch(/^http:\/\/api\.test\/api\/v1\/tasks\/\?.*page=2/);
    expect(first.next).toContain("ordering=created_at");
    const second = await json<Page>(
      await api(first.next?.replace("http://api.test/api/v1", "") ?? "", { token: user.token }),
    );
    expect(second.results.map((t) => t.id)).toEqual(byCreated.slice(3));
    expect(second.next).toBeNull();
    expect(second.previous).toContain("page=1");
  });

  it("filter edges (strict due dates, pending, search escaped and trimmed) and every ordering both ways", async () => {
    const user = await createUser({ role: "employee", via: "sql" });
    const jan = await makeTask(user, { title: "due in january", due_date: "2030-01-15T00:00:00Z" });
    const none = await makeTask(user, { title: "100 apples" });
    const edge = await makeTask(user, { title: "100% sure", due_date: "2030-02-01T00:00:00Z" });
    const slash = await makeTask(user, { title: "path a\\b" });
    const mar = await makeTask(user, { title: "ab due in march", due_date: "2030-03-01T00:00:00Z" });
    const ids = async (query: string) => (await list(user.token, query)).results.map((task) => task.id);
    const sorted = async (query: string) => (await ids(query)).sort((x, y) => x - y);
    const ascending = (...list: number[]) => [...list].sort((x, y) => x - y);

    // Strict bounds: a task due exactly at the bound is neither before nor after it.
    expect(await sorted("due_before=2030-02-01T00:00:00Z")).toEqual([jan.id]);
    expect(await sorted("due_after=2030-02-01T00:00:00Z")).toEqual([mar.id]);
    expect(await sorted("due_before=2030-02-01T00:00:00.001Z")).toEqual(ascending(jan.id, edge.id));
    expect(await sorted("due_after=2030-01-31T23:59:59.999Z")).toEqual(ascending(edge.id, mar.id));

    // `pending` is every status but done: a task in progress is pending, not completed.
    const started = await api(`/tasks/${jan.id}/`, {
      method: "PATCH",
      token: user.token,
      json: { status: "in_progress" },
    });
    expect(started.status).toBe(200);
    expect(await sorted("status=pending")).toEqual(ascending(jan.id, none.id, edge.id, slash.id, mar.id));
    expect(await sorted("status=completed")).toEqual([]);

    // Search: `%` and `\` are literal characters, and the term is trimmed.
    expect(await sorted("search=100%25")).toEqual([edge.id]);
    expect(await sorted("search=a%5Cb")).toEqual([slash.id]);
    expect(await sorted("search=%20apples%20")).toEqual([none.id]);

    // Newest first by default; tasks without a due date last in either direction, by id.
    expect(await ids("")).toEqual([mar.id, slash.id, edge.id, none.id, jan.id]);
    expect(await ids("ordering=due_date")).toEqual([jan.id, edge.id, mar.id, none.id, slash.id]);
    expect(await ids("ordering=-due_date")).toEqual([mar.id, edge.id, jan.id, slash.id, none.id]);
    // The PATCH made `jan` the most recently updated.
    expect((await ids("ordering=-updated_at"))[0]).toBe(jan.id);
    expect((await ids("ordering=updated_at")).at(-1)).toBe(jan.id);

    // Created at one instant: the id orders them, the same way as the field.
    const all = [jan.id, none.id, edge.id, slash.id, mar.id];
    await withDb((db) =>
      db.update(tasks).set({ createdAt: sql`'2030-01-01T00:00:00Z'::timestamptz` }).where(inArray(tasks.id, all)),
    );
    expect(await ids("ordering=created_at")).toEqual(ascending(...all));
    expect(await ids("ordering=-created_at")).toEqual(ascending(...all).reverse());
  });

  it("answers 400 naming the parameter for every bad filter value", async () => {
    const user = await createUser({ role: "employee", via: "sql" });
    for (const [param, value] of [
      ["status", "finished"],
      ["task_status", "nope"],
      ["priority", "urgent"],
      ["assigned_to", "someone"],
      ["department", "x"],
      ["creator", "-1"],
      ["due_before", "2030-02-31"],
      ["due_after", "tomorrow"],
      ["ordering", "title"],
      ["page", "0"],
      ["page_size", "101"],
    ]) {
      const response = await api(`/tasks/?${param}=${value}`, { token: user.token });
      expect(response.status, `${param}=${value}`).toBe(400);
      const body = await json<{ errors: { field: string }[] }>(response);
      expect(body.errors.map((e) => e.field)).toContain(param);
    }
    const contradicting = await api("/tasks/?status=todo&task_status=done", { token: user.token });
    expect(contradicting.status).toBe(400);
  });

  it("caches list and detail per user: HIT, then fresh for every affected user after a write", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee);
    const read = async (token: string, path: string) => {
      const response = await api(path, { token });
      return { cache: response.headers.get("X-Cache"), body: await json<Record<string, unknown>>(response) };
    };
    const detail = `/tasks/${task.id}/`;
    for (const member of [org.employee, org.manager]) {
      expect((await read(member.token, "/tasks/")).cache).toBe("MISS");
      expect((await read(member.token, "/tasks/")).cache).toBe("HIT");
      expect((await read(member.token, detail)).cache).toBe("MISS");
      expect((await read(member.token, detail)).cache).toBe("HIT");
    }
    expect((await read(org.employee.token, "/tasks/?nocache=1")).cache).toBe("BYPASS");

    const patched = await api(detail, { method: "PATCH", token: org.manager.token, json: { title: "Renamed" } });
    expect(patched.status).toBe(200);
    for (const member of [org.employee, org.manager]) {
      const fresh = await read(member.token, detail);
      expect(fresh).toMatchObject({ cache: "MISS", body: { title: "Renamed" } });
      const listed = await read(member.token, "/tasks/");
      expect(listed.cache).toBe("MISS");
      expect((listed.body.results as { title: string }[])[0]?.title).toBe("Renamed");
    }
    // A newly assigned user's list picks the task up at once.
    expect((await read(org.colleague.token, "/tasks/")).body.count).toBe(0);
    await api(`/tasks/${task.id}/assign/`, { token: org.manager.token, json: { assignees: [org.colleague.id] } });
    expect(await read(org.colleague.token, "/tasks/")).toMatchObject({ cache: "MISS", body: { count: 1 } });
    await api(`/tasks/${task.id}/unassign/`, { token: org.manager.token, json: { assignees: [org.colleague.id] } });
    expect(await read(org.colleague.token, "/tasks/")).toMatchObject({ cache: "MISS", body: { count: 0 } });
    expect((await api(detail, { token: org.colleague.token })).status).toBe(404);
  });

  it("a burst of writes for one user never serves a stale list", async () => {
    const user = await createUser({ role: "employee", via: "sql" });
    for (let i = 1; i <= 5; i++) {
      await makeTask(user);
      const response = await api("/tasks/", { token: user.token });
      expect((await json<Page>(response)).count).toBe(i);
    }
  });

  it("a department move refreshes the cached pages of both departments' managers and of admins at once", async () => {
    const org = await makeOrg();
    const owner = await createUser({ role: "employee", via: "sql" });
    const task = await makeTask(owner, { title: `moving ${crypto.randomUUID()}`, department: org.departmentId });
    const ids = async (token: string) => {
      const response = await api(`/tasks/?creator=${owner.id}`, { token });
      return {
        cache: response.headers.get("X-Cache"),
        ids: (await json<Page>(response)).results.map((row) => row.id),
      };
    };
    for (const member of [org.manager, org.otherManager, org.ceo, org.outsider]) {
      await ids(member.token);
      expect((await ids(member.token)).cache, member.role).toBe("HIT");
    }
    expect((await ids(org.manager.token)).ids).toContain(task.id);
    expect((await ids(org.otherManager.token)).ids).not.toContain(task.id);

    const moved = await api(`/tasks/${task.id}/`, {
      method: "PATCH",
      token: owner.token,
      json: { department: org.otherDepartmentId },
    });
    expect(moved.status).toBe(200);
    // The manager it left, the manager it joined and the CEO all read afresh; the outsider, who
    // sees it neither before nor after, keeps their cached page.
    expect(await ids(org.manager.token)).toMatchObject({ cache: "MISS", ids: expect.not.arrayContaining([task.id]) });
    expect(await ids(org.otherManager.token)).toMatchObject({ cache: "MISS", ids: expect.arrayContaining([task.id]) });
    expect(await ids(org.ceo.token)).toMatchObject({ cache: "MISS", ids: expect.arrayContaining([task.id]) });
    expect((await ids(org.outsider.token)).cache).toBe("HIT");
  });
});
