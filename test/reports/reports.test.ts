import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { tasks } from "../../src/platform/db/schema.ts";
import { withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import { makeOrg } from "../support/org.ts";
import { makeTask } from "../support/tasks.ts";
import { createUser } from "../support/users.ts";

const LEGACY = "http://api.test/user/tasks/get_task_status_report/";

describe("reports", () => {
  it("status CSV: exact header and filename; MISS, HIT, complete a task, MISS with new counts", async () => {
    const user = await createUser({ role: "employee", via: "sql" });
    const first = await makeTask(user);
    await makeTask(user);
    await makeTask(user);

    const miss = await api(LEGACY, { token: user.token, headers: { Accept: "text/csv" } });
    expect(miss.status).toBe(200);
    expect(miss.headers.get("Content-Type")).toBe("text/csv");
    expect(miss.headers.get("Content-Disposition")).toBe('attachment; filename="tasks.csv"');
    expect(miss.headers.get("X-Cache")).toBe("MISS");
    expect(await miss.text()).toBe("Total tasks,Completed Task,Incompleted Task\r\n3,0,3\r\n");

    const hit = await api(LEGACY, { token: user.token });
    expect(hit.headers.get("X-Cache")).toBe("HIT");
    expect(await hit.text()).toBe("Total tasks,Completed Task,Incompleted Task\r\n3,0,3\r\n");

    expect((await api(`/tasks/${first.id}/complete/`, { method: "POST", token: user.token })).status).toBe(200);
    const fresh = await api(LEGACY, { token: user.token });
    expect(fresh.headers.get("X-Cache")).toBe("MISS");
    expect(await fresh.text()).toBe("Total tasks,Completed Task,Incompleted Task\r\n3,1,2\r\n");

    const bypass = await api(LEGACY, { token: user.token, headers: { "Cache-Control": "no-cache" } });
    expect(bypass.headers.get("X-Cache")).toBe("BYPASS");
  });

  it("status CSV: 401 body without credentials", async () => {
    const response = await api(LEGACY);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ detail: "Authentication credentials were not provided." });
  });

  it("task-status as JSON counts only visible tasks and is fresh for each affected user", async () => {
    const org = await makeOrg();
    await makeTask(org.outsider);
    const task = await makeTask(org.employee);
    const asJson = { Accept: "application/json" };
    const read = async (token: string) => {
      const response = await api("/reports/task-status/", { token, headers: asJson });
      return { cache: response.headers.get("X-Cache"), body: await json(response) };
    };
    expect(await read(org.employee.token)).toEqual({
      cache: "MISS",
      body: { total_tasks: 1, completed_tasks: 0, incomplete_tasks: 1 },
    });
    expect((await read(org.manager.token)).body).toMatchObject({ total_tasks: 1 });
    expect((await read(org.manager.token)).cache).toBe("HIT");
    expect((await read(org.colleague.token)).body).toMatchObject({ total_tasks: 0 });
    expect((await read(org.colleague.token)).cache).toBe("HIT");

    // Assigning the colleague changes three users' reports: the next read of each is fresh.
    const assign = await api(`/tasks/${task.id}/assign/`, {
      token: org.manager.token,
      json: { assignees: [org.colleague.id] },
    });
    expect(assign.status).toBe(200);
    expect(await read(org.colleague.token)).toEqual({
      cache: "MISS",
      body: { total_tasks: 1, completed_tasks: 0, incomplete_tasks: 1 },
    });
    expect((await read(org.manager.token)).cache).toBe("MISS");
    expect((await read(org.employee.token)).cache).toBe("MISS");

    // Deleting the task empties everyone's report.
    expect((await api(`/tasks/${task.id}/`, { method: "DELETE", token: org.employee.token })).status).toBe(204);
    for (const member of [org.employee, org.manager, org.colleague]) {
      expect(await read(member.token)).toEqual({
        cache: "MISS",
        body: { total_tasks: 0, completed_tasks: 0, incomplete_tasks: 0 },
      });
    }
  });

  it("overdue: past-due open tasks with whole days and assignees; CSV escapes formulas", async () => {
    const user = await createUser({ role: "manager", via: "sql" });
    const helper = await createUser({ role: "employee", via: "sql" });
    const late = await makeTask(user, { title: '=HYPERLINK("x")', assignees: [helper.id] });
    const done = await makeTask(user, { title: "finished" });
    await makeTask(user, { title: "future", due_date: "2999-01-01" });
    const now = Date.now();
    await withDb(async (db) => {
      await db
        .update(tasks)
        .set({ dueDate: new Date(now - 3.5 * 86_400_000) })
        .where(eq(tasks.id, late.id));
      await db
        .update(tasks)
        .set({ dueDate: new Date(now - 86_400_000), status: "done" })
        .where(eq(tasks.id, done.id));
    });
    const response = await api("/reports/overdue/?nocache=1", {
      token: user.token,
      headers: { Accept: "application/json" },
    });
    expect(response.headers.get("X-Cache")).toBe("BYPASS");
    const body = await json<{ results: { id: number; days_overdue: number; assignees: number[] }[] }>(response);
    expect(body.results).toEqual([expect.objectContaining({ id: late.id, days_overdue: 3, assignees: [helper.id] })]);

    const csv = await api("/reports/overdue/", { token: user.token });
    expect(csv.headers.get("Content-Type")).toBe("text/csv");
    const lines = (await csv.text()).trim().split("\r\n");
    expect(lines[0]).toBe("id,title,due_date,days_overdue,assignees");
    expect(lines[1]).toContain(`${late.id},"'=HYPERLINK(""x"")",`);
  });

  it("overdue: due a moment ago is overdue by 0 days; due later today, or a day ago to the minute, as expected", async () => {
    const user = await createUser({ role: "manager", via: "sql" });
    const now = Date.now();
    const dueAt: Record<string, number> = {
      "due in 30 minutes": now + 30 * 60_000,
      "due 30 minutes ago": now - 30 * 60_000,
      "due 23 h 59 min ago": now - 86_400_000 + 60_000,
      "due 24 h 1 min ago": now - 86_400_000 - 60_000,
    };
    const ids: Record<string, number> = {};
    for (const [title, at] of Object.entries(dueAt)) {
      ids[title] = (await makeTask(user, { title })).id;
      await withDb((db) =>
        db
          .update(tasks)
          .set({ dueDate: new Date(at) })
          .where(eq(tasks.id, ids[title]!)),
      );
    }
    const response = await api("/reports/overdue/?nocache=1", {
      token: user.token,
      headers: { Accept: "application/json" },
    });
    const body = await json<{ results: { title: string; days_overdue: number }[] }>(response);
    expect(body.results.map(({ title, days_overdue }) => ({ title, days_overdue }))).toEqual([
      { title: "due 24 h 1 min ago", days_overdue: 1 },
      { title: "due 23 h 59 min ago", days_overdue: 0 },
      { title: "due 30 minutes ago", days_overdue: 0 },
    ]);
  });

  it("overdue: most overdue first, and tasks due at the same instant in id order", async () => {
    const user = await createUser({ role: "manager", via: "sql" });
    const titles = ["first", "second", "third", "fourth"];
    const made: number[] = [];
    for (const title of titles) made.push((await makeTask(user, { title })).id);
    const tied = new Date(Date.now() - 2 * 86_400_000);
    // Updated newest first, so the rows' stored order is the reverse of their ids.
    for (const id of [...made].reverse()) {
      await withDb((db) => db.update(tasks).set({ dueDate: tied }).where(eq(tasks.id, id)));
    }
    const older = (await makeTask(user, { title: "older" })).id;
    await withDb((db) =>
      db
        .update(tasks)
        .set({ dueDate: new Date(tied.getTime() - 1) })
        .where(eq(tasks.id, older)),
    );
    const response = await api("/reports/overdue/?nocache=1", {
      token: user.token,
      headers: { Accept: "application/json" },
    });
    const body = await json<{ results: { id: number }[] }>(response);
    expect(body.results.map((row) => row.id)).toEqual([older, ...made]);
  });

  it("per-day reports: the range starts at its first day's 00:00:00 UTC exactly and ends before the next day after it", async () => {
    const user = await createUser({ role: "employee", via: "sql" });
    const first = await makeTask(user);
    const second = await makeTask(user);
    await withDb(async (db) => {
      await db
        .update(tasks)
        .set({ createdAt: new Date("2029-12-31T00:00:00Z") })
        .where(eq(tasks.id, first.id));
      await db
        .update(tasks)
        .set({ createdAt: new Date("2030-01-02T00:00:00Z") })
        .where(eq(tasks.id, second.id));
    });
    const opened = await api("/reports/opened-per-day/?from=2029-12-31&to=2030-01-01", {
      token: user.token,
      headers: { Accept: "application/json", "Cache-Control": "no-cache" },
    });
    expect(await json(opened)).toEqual({
      results: [
        { date: "2029-12-31", count: 1 },
        { date: "2030-01-01", count: 0 },
      ],
    });
  });

  it("per-day reports: one row per day with zeros, inclusive range, strict dates", async () => {
    const user = await createUser({ role: "employee", via: "sql" });
    const a = await makeTask(user);
    await makeTask(user);
    await withDb(async (db) => {
      await db
        .update(tasks)
        .set({ createdAt: new Date("2030-01-02T10:00:00Z") })
        .where(eq(tasks.creatorId, user.id));
      await db
        .update(tasks)
        .set({ status: "done", completedAt: new Date("2030-01-03T23:59:00Z") })
        .where(eq(tasks.id, a.id));
    });
    const opened = await api("/reports/opened-per-day/?from=2030-01-01&to=2030-01-03", {
      token: user.token,
      headers: { Accept: "application/json" },
    });
    expect(await json(opened)).toEqual({
      results: [
        { date: "2030-01-01", count: 0 },
        { date: "2030-01-02", count: 2 },
        { date: "2030-01-03", count: 0 },
      ],
    });
    const completed = await api("/reports/completed-per-day/?from=2030-01-03&to=2030-01-04", { token: user.token });
    expect(completed.headers.get("Content-Disposition")).toBe('attachment; filename="completed-per-day.csv"');
    expect(await completed.text()).toBe("date,count\r\n2030-01-03,1\r\n2030-01-04,0\r\n");

    const defaults = await json<{ results: unknown[] }>(
      await api("/reports/completed-per-day/", { token: user.token, headers: { Accept: "application/json" } }),
    );
    expect(defaults.results).toHaveLength(30);

    for (const query of [
      "from=2030-02-31",
      "to=2030-13-01",
      "from=2030-01-05&to=2030-01-01",
      "from=2020-01-01&to=2030-01-01",
      "from=yesterday",
    ]) {
      const bad = await api(`/reports/opened-per-day/?${query}`, { token: user.token });
      expect(bad.status, query).toBe(400);
      expect((await json(bad)).errors).toBeDefined();
    }
    expect((await api("/reports/overdue/")).status).toBe(401);
  });
});
