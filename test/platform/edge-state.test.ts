/**
 * The edge request path's guarantees: a cached answer is never older than a committed
 * write its reader could see, for the writer and for everyone else who can see the change; the
 * user's edge state object being wiped, reset or unreachable costs speed, never correctness.
 */
import { runInDurableObject } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { users } from "../../src/platform/db/schema.ts";
import { userStateOf } from "../../src/platform/edge-state/user-state.client.ts";
import { SNAPSHOT_MAX_AGE_MS } from "../../src/platform/edge-state/user-state.ts";
import { testEnv, withDb } from "../support/env.ts";
import { api, callWorker, clientIp, json } from "../support/http.ts";
import { makeOrg, type Org } from "../support/org.ts";
import { makeTask } from "../support/tasks.ts";
import { createUser, type TestUser } from "../support/users.ts";

const userState = (userId: number) => userStateOf(testEnv, userId);

async function read(member: TestUser, path: string): Promise<{ cache: string | null; body: unknown }> {
  const response = await api(path, { token: member.token });
  expect(response.status, path).toBe(200);
  const text = await response.text();
  const isJson = response.headers.get("Content-Type")?.includes("json");
  return { cache: response.headers.get("X-Cache"), body: isJson ? JSON.parse(text) : text };
}

/** Reads `path` until it is cached for `member`; returns the cached body. */
async function warm(member: TestUser, path: string): Promise<unknown> {
  await read(member, path);
  const second = await read(member, path);
  expect(second.cache, `${path} for ${member.role}`).toBe("HIT");
  return second.body;
}

/** Everyone who can read a task made by the department's manager and assigned to its employee. */
const readers = (org: Org): TestUser[] => [org.manager, org.employee, org.ceo, org.hr];

describe("no cached answer older than a committed write its reader could see", () => {
  it("a task's title change reaches the writer and every other reader's cached list, detail and report at once", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { assignees: [org.employee.id] });
    const paths = ["/tasks/?page_size=100", `/tasks/${task.id}/`];
    for (const member of readers(org)) for (const path of paths) await warm(member, path);

    const patched = await api(`/tasks/${task.id}/`, {
      method: "PATCH",
      token: org.manager.token,
      json: { title: "renamed at once" },
    });
    expect(patched.status).toBe(200);

    for (const member of readers(org)) {
      const detail = await read(member, `/tasks/${task.id}/`);
      expect(detail.cache, member.role).toBe("MISS");
      expect(detail.body).toMatchObject({ title: "renamed at once" });
      const list = (await read(member, paths[0] as string)).body as { results: { id: number; title: string }[] };
      expect(list.results.find((row) => row.id === task.id)?.title, member.role).toBe("renamed at once");
    }
  });

  it("a completion reaches every reader's cached status report, and a user who cannot see the task keeps their cache", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { assignees: [org.employee.id] });
    const report = "/reports/task-status/";
    for (const member of [...readers(org), org.outsider]) await warm(member, report);
    const before = (await api(report, { token: org.ceo.token, headers: { Accept: "application/json" } }).then(
      json,
    )) as {
      completed_tasks: number;
    };

    const done = await api(`/tasks/${task.id}/complete/`, { method: "POST", token: org.employee.token });
    expect(done.status).toBe(200);

    for (const member of readers(org)) expect((await read(member, report)).cache, member.role).toBe("MISS");
    const after = (await api(report, { token: org.ceo.token, headers: { Accept: "application/json" } }).then(json)) as {
      completed_tasks: number;
    };
    expect(after.completed_tasks).toBe(before.completed_tasks + 1);
    // The outsider (another department's employee) never saw the task: their cache stays valid.
    expect((await read(org.outsider, report)).cache).toBe("HIT");
  });

  it("an assignment reaches the new assignee's cached list, and an unassignment the old one's", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager);
    const mine = "/tasks/my_tasks/";
    const ids = async (member: TestUser) =>
      ((await read(member, mine)).body as { results: { id: number }[] }).results.map((row) => row.id);
    await warm(org.colleague, mine);
    expect(await ids(org.colleague)).not.toContain(task.id);

    const assigned = await api(`/tasks/${task.id}/assign/`, {
      token: org.manager.token,
      json: { assignees: [org.colleague.id] },
    });
    expect(assigned.status).toBe(200);
    expect(await ids(org.colleague)).toContain(task.id);

    await warm(org.colleague, mine);
    const unassigned = await api(`/tasks/${task.id}/unassign/`, {
      token: org.manager.token,
      json: { assignees: [org.colleague.id] },
    });
    expect(unassigned.status).toBe(200);
    expect(await ids(org.colleague)).not.toContain(task.id);
  });

  it("a deleted task is gone from every reader's cached list at once", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee);
    const list = "/tasks/?page_size=100";
    for (const member of [org.employee, org.manager, org.ceo]) await warm(member, list);
    expect((await api(`/tasks/${task.id}/`, { method: "DELETE", token: org.employee.token })).status).toBe(204);
    for (const member of [org.employee, org.manager, org.ceo]) {
      const rows = ((await read(member, list)).body as { results: { id: number }[] }).results;
      expect(
        rows.map((row) => row.id),
        member.role,
      ).not.toContain(task.id);
    }
  });

  it("a task moved to another department reaches that department's managers, who could not see it before", async () => {
    const org = await makeOrg();
    // A manager by role only: the department records `otherManager` as its manager.
    const secondManager = await createUser({ role: "manager", departmentId: org.otherDepartmentId, via: "sql" });
    const task = await makeTask(org.ceo, { department: org.departmentId });
    const list = "/tasks/?page_size=100";
    const managers = [org.otherManager, secondManager];
    for (const manager of managers) await warm(manager, list);
    const moved = await api(`/tasks/${task.id}/`, {
      method: "PATCH",
      token: org.ceo.token,
      json: { department: org.otherDepartmentId },
    });
    expect(moved.status).toBe(200);
    for (const manager of managers) {
      const rows = ((await read(manager, list)).body as { results: { id: number }[] }).results;
      expect(
        rows.map((row) => row.id),
        `manager ${manager.id}`,
      ).toContain(task.id);
    }
  });

  it("a deleted department reaches every reader's cached task, and its members' own department at once", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.ceo, { department: org.departmentId, assignees: [org.outsider.id] });
    const detail = `/tasks/${task.id}/`;
    for (const member of [org.ceo, org.hr, org.outsider]) {
      expect(await warm(member, detail)).toMatchObject({ department: org.departmentId });
    }
    // The member's edge state knows them (and their department) before the deletion.
    await read(org.employee, "/tasks/my_tasks/");

    const deleted = await api(`/departments/${org.departmentId}/`, { method: "DELETE", token: org.ceo.token });
    expect(deleted.status).toBe(204);
    for (const member of [org.ceo, org.hr, org.outsider]) {
      const after = await read(member, detail);
      expect(after.cache, member.role).toBe("MISS");
      expect(after.body).toMatchObject({ department: null });
    }
    // A member's next task defaults to their department, which is none now (not the deleted one: a 400).
    expect(await makeTask(org.employee)).toMatchObject({ department: null });
  });
});

describe("the user's edge state object lost, reset or unreachable", () => {
  it("wiped storage: logins are read again from Postgres, cached answers are not served, a revoked login stays revoked", async () => {
    const org = await makeOrg();
    await makeTask(org.employee);
    const list = "/tasks/?page_size=100";
    await warm(org.employee, list);

    await runInDurableObject(userState(org.employee.id), async (_instance, state) => {
      await state.storage.deleteAll();
    });
    // New version tokens: the page cached under the old ones is unreachable, the answer is fresh.
    expect((await read(org.employee, list)).cache).toBe("MISS");
    expect((await read(org.employee, list)).cache).toBe("HIT");

    // Logout, then wipe again: the revocation is in Postgres, so the token stays dead.
    expect((await api("/auth/user/logout/", { method: "POST", token: org.employee.token })).status).toBe(204);
    await runInDurableObject(userState(org.employee.id), async (_instance, state) => {
      await state.storage.deleteAll();
    });
    expect((await api(list, { token: org.employee.token })).status).toBe(401);
  });

  it("a role change made while the object was being wiped still applies on the next request", async () => {
    const org = await makeOrg();
    await warm(org.colleague, "/tasks/?page_size=100");
    await runInDurableObject(userState(org.colleague.id), async (_instance, state) => {
      await state.storage.deleteAll();
    });
    const promoted = await api(`/users/${org.colleague.id}/`, {
      method: "PATCH",
      token: org.ceo.token,
      json: { role: "hr" },
    });
    expect(promoted.status).toBe(200);
    // As HR the colleague may list every user; as an employee they may not.
    expect((await api("/users/", { token: org.colleague.token })).status).toBe(200);
  });

  it("unreachable: the login is checked in Postgres and every read is served uncached; a revoked login is still refused", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { assignees: [org.employee.id] });
    const unreachable = (): Promise<never> => Promise.reject(new Error("Durable Object is overloaded"));
    const down = {
      ...testEnv,
      USER_STATE: {
        idFromName: (name: string) => testEnv.USER_STATE.idFromName(name),
        get: () => new Proxy({}, { get: () => unreachable }),
      },
    };
    const call = (path: string, token: string, init: RequestInit = {}) =>
      callWorker(down as unknown as Env, path, token, init);

    const detail = await call(`/tasks/${task.id}/`, org.employee.token);
    expect(detail.status).toBe(200);
    expect(detail.headers.get("X-Cache")).toBe("BYPASS");
    expect(await detail.json()).toMatchObject({ id: task.id, title: task.title });

    const patched = await call(`/tasks/${task.id}/`, org.manager.token, {
      method: "PATCH",
      body: JSON.stringify({ title: "written while the edge state was down" }),
    });
    expect(patched.status).toBe(200);

    const logout = await call("/auth/user/logout/", org.outsider.token, { method: "POST" });
    expect(logout.status).toBe(204);
    expect((await call("/tasks/", org.outsider.token)).status).toBe(401);
  });
});

describe("logins at the edge", () => {
  it("a spent refresh token presented again revokes the login: its newest access token fails on the very next request", async () => {
    const register = await api("/auth/user/register/", {
      json: { email: `edge-${crypto.randomUUID()}@example.com`, password: "Sturdy-Passw0rd!", full_name: "Edge" },
      headers: { "CF-Connecting-IP": clientIp() },
    });
    expect(register.status).toBe(201);
    const { email: registered } = await json<{ email: string }>(register);
    const login = await json<{ access_token: string; refresh_token: string }>(
      await api("/auth/user/login/", {
        json: { email: registered, password: "Sturdy-Passw0rd!" },
        headers: { "CF-Connecting-IP": clientIp() },
      }),
    );
    const rotated = await api("/auth/token/refresh/", {
      json: { refresh_token: login.refresh_token },
      headers: { "CF-Connecting-IP": clientIp() },
    });
    expect(rotated.status).toBe(200);
    const next = await json<{ access_token: string }>(rotated);
    expect((await api("/auth/user/me/", { token: next.access_token })).status).toBe(200);

    const reused = await api("/auth/token/refresh/", {
      json: { refresh_token: login.refresh_token },
      headers: { "CF-Connecting-IP": clientIp() },
    });
    expect(reused.status).toBe(401);
    expect((await api("/auth/user/me/", { token: next.access_token })).status).toBe(401);
    expect((await api("/auth/user/me/", { token: login.access_token })).status).toBe(401);
  });
});

describe("how long the edge state trusts what it read", () => {
  /** Moves the stored snapshot of `userId`'s account back in time by `ms`. */
  async function ageSnapshot(userId: number, ms: number): Promise<void> {
    await runInDurableObject(userState(userId), async (_instance, state) => {
      const snapshot = await state.storage.get<{ loadedAt: number }>("snapshot");
      expect(snapshot, "a snapshot to age").toBeDefined();
      await state.storage.put("snapshot", { ...snapshot, loadedAt: (snapshot?.loadedAt ?? 0) - ms });
    });
  }

  it("a change nobody announced is seen once the snapshot is older than SNAPSHOT_MAX_AGE_MS, not before", async () => {
    const user = await createUser({ role: "manager" });
    // The users list is for managers (200) and refused to employees (403), by the role the object holds.
    const listStatus = async () => (await api("/users/", { token: user.token })).status;
    expect(await listStatus()).toBe(200);
    // Changed straight in Postgres, with no notification to the object (as a lost one would be).
    await withDb((db) => db.update(users).set({ role: "employee" }).where(eq(users.id, user.id)));
    await ageSnapshot(user.id, SNAPSHOT_MAX_AGE_MS - 10_000);
    expect(await listStatus()).toBe(200);
    await ageSnapshot(user.id, 11_000);
    expect(await listStatus()).toBe(403);
  });

  it("a role changed and changed back serves none of the answers cached before, even ones its old role could see", async () => {
    const org = await makeOrg();
    // A second manager of the department, not its recorded manager: only the role makes them a reader.
    const manager = await createUser({ role: "manager", departmentId: org.departmentId });
    const task = await makeTask(org.employee, { department: org.departmentId, title: `tag-${crypto.randomUUID()}` });
    const list = async () => {
      const response = await api("/tasks/", { token: manager.token });
      const page = await json<{ results: { id: number; title: string }[] }>(response);
      return { cache: response.headers.get("X-Cache"), title: page.results.find((t) => t.id === task.id)?.title };
    };
    await list();
    expect((await list()).cache).toBe("HIT");
    const setRole = async (role: string) => {
      const response = await api(`/users/${manager.id}/`, { method: "PATCH", json: { role }, token: org.hr.token });
      expect(response.status).toBe(200);
    };
    await setRole("employee");
    // While an employee, they are not among the task's readers whose caches a write renews.
    const renamed = await api(`/tasks/${task.id}/`, {
      method: "PATCH",
      json: { title: "renamed while away" },
      token: org.employee.token,
    });
    expect(renamed.status).toBe(200);
    await setRole("manager");
    const back = await list();
    expect(back.cache).toBe("MISS");
    expect(back.title).toBe("renamed while away");
  });
});
