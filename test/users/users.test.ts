import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { departments, users } from "../../src/platform/db/schema.ts";
import { withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import { createUser, uniqueEmail } from "../support/users.ts";

interface UserBody {
  id: number;
  email: string;
  role: string;
  department: number | null;
}
interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

async function newDepartment(): Promise<number> {
  const [row] = await withDb((db) =>
    db
      .insert(departments)
      .values({ name: `Dept ${uniqueEmail("d")}` })
      .returning({ id: departments.id }),
  );
  if (!row) throw new Error("no department");
  return row.id;
}

async function allPages(token: string, pageSize = 100): Promise<UserBody[]> {
  const found: UserBody[] = [];
  let url: string | null = `/users/?page_size=${pageSize}`;
  while (url) {
    const response = await api(url, { token });
    expect(response.status).toBe(200);
    const page: Page<UserBody> = await json(response);
    found.push(...page.results);
    url = page.next;
  }
  return found;
}

describe("GET /users/", () => {
  it("CEO and HR see everyone, a manager their department, an employee gets 403", async () => {
    const dept = await newDepartment();
    const other = await newDepartment();
    const ceo = await createUser({ role: "ceo" });
    const hr = await createUser({ role: "hr" });
    const manager = await createUser({ role: "manager", departmentId: dept });
    const colleague = await createUser({ departmentId: dept });
    const outsider = await createUser({ departmentId: other });

    for (const admin of [ceo, hr]) {
      const ids = (await allPages(admin.token)).map((u) => u.id);
      expect(ids).toEqual(expect.arrayContaining([ceo.id, hr.id, manager.id, colleague.id, outsider.id]));
    }

    const managerPage: Page<UserBody> = await json(await api("/users/", { token: manager.token }));
    const managerIds = managerPage.results.map((u) => u.id);
    expect(managerIds.sort()).toEqual([manager.id, colleague.id].sort());
    expect(managerPage.count).toBe(2);
    expect(managerPage.results.every((u) => u.department === dept)).toBe(true);

    const denied = await api("/users", { token: colleague.token });
    expect(denied.status).toBe(403);
    expect(await json(denied)).toEqual({ detail: expect.any(String) });
  });

  it("paginates with page and page_size, links are full URLs that keep the page size", async () => {
    const dept = await newDepartment();
    const manager = await createUser({ role: "manager", departmentId: dept });
    for (let i = 0; i < 4; i++) await createUser({ departmentId: dept });

    const first = await api("/users/?page_size=2", { token: manager.token });
    const page1: Page<UserBody> = await json(first);
    expect(page1.count).toBe(5);
    expect(page1.results).toHaveLength(2);
    expect(page1.previous).toBeNull();
    expect(page1.next).toBe("http://api.test/api/v1/users/?page_size=2&page=2");

    const page2: Page<UserBody> = await json(await api(page1.next as string, { token: manager.token }));
    expect(page2.previous).toBe("http://api.test/api/v1/users/?page_size=2&page=1");
    const page3: Page<UserBody> = await json(await api(page2.next as string, { token: manager.token }));
    expect(page3.results).toHaveLength(1);
    expect(page3.next).toBeNull();
    const seen = [...page1.results, ...page2.results, ...page3.results].map((u) => u.id);
    expect(new Set(seen).size).toBe(5);

    const past: Page<UserBody> = await json(await api("/users/?page=9&page_size=2", { token: manager.token }));
    expect(past.results).toEqual([]);
    expect(past.count).toBe(5);
  });

  it("defaults to 20 per page and rejects bad page parameters with 400", async () => {
    const ceo = await createUser({ role: "ceo" });
    // Enough users to fill a default page whatever else the suite created.
    for (let i = 0; i < 20; i++) await createUser();
    const page: Page<UserBody> = await json(await api("/users/", { token: ceo.token }));
    expect(page.results).toHaveLength(20);
    expect(page.next).toContain("page=2");

    for (const query of ["page=0", "page=abc", "page_size=0", "page_size=101", "page_size=1.5", "page=-1"]) {
      const response = await api(`/users/?${query}`, { token: ceo.token });
      expect(response.status, query).toBe(400);
      const body = await json<{ detail: string; errors: { field: string }[] }>(response);
      expect(body.errors[0]?.field).toBe(query.split("=")[0]);
    }
    expect((await api("/users/?page_size=100", { token: ceo.token })).status).toBe(200);
  });
});

describe("GET /users/{id}/", () => {
  it("follows visibility: admins anyone, managers their department, everyone themselves, else 404", async () => {
    const dept = await newDepartment();
    const other = await newDepartment();
    const hr = await createUser({ role: "hr" });
    const manager = await createUser({ role: "manager", departmentId: dept });
    const member = await createUser({ departmentId: dept });
    const outsider = await createUser({ departmentId: other });

    const read = async (token: string, id: number) => api(`/users/${id}/`, { token });

    expect((await read(hr.token, outsider.id)).status).toBe(200);
    const seen = await read(manager.token, member.id);
    expect(seen.status).toBe(200);
    expect(await json(seen)).toMatchObject({ id: member.id, email: member.email, department: dept });
    expect((await read(member.token, member.id)).status).toBe(200);

    const hidden = await read(manager.token, outsider.id);
    expect(hidden.status).toBe(404);
    expect(await json(hidden)).toEqual({ detail: "User not found." });
    expect((await read(member.token, manager.id)).status).toBe(404);
    expect((await read(hr.token, 2_000_000_000)).status).toBe(404);
    expect((await read(hr.token, 0)).status).toBe(400);
  });
});

describe("PATCH /users/{id}/", () => {
  it("CEO changes role and department; the user's next request sees the new role", async () => {
    const dept = await newDepartment();
    const ceo = await createUser({ role: "ceo" });
    const target = await createUser({ role: "manager" });

    const me = await json<UserBody>(await api("/auth/user/me/", { token: target.token }));
    expect(me.role).toBe("manager");
    const response = await api(`/users/${target.id}/`, {
      method: "PATCH",
      token: ceo.token,
      json: { role: "employee", department: dept },
    });
    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({ id: target.id, role: "employee", department: dept });

    // The same access token, issued before the demotion, now carries the new role.
    const after = await json<UserBody>(await api("/auth/user/me/", { token: target.token }));
    expect(after).toMatchObject({ role: "employee", department: dept });
    expect((await api("/users/", { token: target.token })).status).toBe(403);

    const [row] = await withDb((db) => db.select().from(users).where(eq(users.id, target.id)));
    expect(row).toMatchObject({ role: "employee", departmentId: dept });

    const cleared = await api(`/users/${target.id}`, { method: "PATCH", token: ceo.token, json: { department: null } });
    expect(await json(cleared)).toMatchObject({ department: null, role: "employee" });
  });

  it("HR can change roles but cannot make anyone CEO nor demote a CEO", async () => {
    const hr = await createUser({ role: "hr" });
    const ceo = await createUser({ role: "ceo" });
    const target = await createUser();

    const promote = await api(`/users/${target.id}/`, { method: "PATCH", token: hr.token, json: { role: "manager" } });
    expect(promote.status).toBe(200);
    expect((await json<UserBody>(promote)).role).toBe("manager");

    const toCeo = await api(`/users/${target.id}/`, { method: "PATCH", token: hr.token, json: { role: "ceo" } });
    expect(toCeo.status).toBe(403);
    const demoteCeo = await api(`/users/${ceo.id}/`, { method: "PATCH", token: hr.token, json: { role: "employee" } });
    expect(demoteCeo.status).toBe(403);

    const roles = await withDb((db) => db.select({ id: users.id, role: users.role }).from(users));
    expect(roles.find((r) => r.id === target.id)?.role).toBe("manager");
    expect(roles.find((r) => r.id === ceo.id)?.role).toBe("ceo");

    // Only the CEO grants the CEO role.
    const byCeo = await api(`/users/${target.id}/`, { method: "PATCH", token: ceo.token, json: { role: "ceo" } });
    expect(byCeo.status).toBe(200);
  });

  it("nobody changes their own role, not even the CEO; a same-role no-op is fine", async () => {
    const dept = await newDepartment();
    for (const role of ["ceo", "hr"] as const) {
      const admin = await createUser({ role });
      const self = await api(`/users/${admin.id}/`, {
        method: "PATCH",
        token: admin.token,
        json: { role: "employee" },
      });
      expect(self.status).toBe(403);
      expect((await json(self)).detail).toMatch(/own role/);
      const moved = await api(`/users/${admin.id}/`, {
        method: "PATCH",
        token: admin.token,
        json: { role, department: dept },
      });
      expect(moved.status).toBe(200);
    }
    const employee = await createUser();
    const selfPromote = await api(`/users/${employee.id}/`, {
      method: "PATCH",
      token: employee.token,
      json: { role: "ceo" },
    });
    expect(selfPromote.status).toBe(403);
    expect((await json<UserBody>(await api("/auth/user/me/", { token: employee.token }))).role).toBe("employee");
  });

  it("managers and employees get 403 on users they can see and 404 on those they cannot", async () => {
    const dept = await newDepartment();
    const manager = await createUser({ role: "manager", departmentId: dept });
    const member = await createUser({ departmentId: dept });
    const outsider = await createUser();

    const patch = (token: string, id: number) =>
      api(`/users/${id}/`, { method: "PATCH", token, json: { department: null } });
    expect((await patch(manager.token, member.id)).status).toBe(403);
    expect((await patch(manager.token, outsider.id)).status).toBe(404);
    expect((await patch(member.token, member.id)).status).toBe(403);
    expect((await patch(member.token, manager.id)).status).toBe(404);
    const [row] = await withDb((db) => db.select().from(users).where(eq(users.id, member.id)));
    expect(row?.departmentId).toBe(dept);
  });

  it("rejects unknown departments, unknown roles, empty bodies and extra fields with 400", async () => {
    const hr = await createUser({ role: "hr" });
    const target = await createUser();
    const patch = (body: unknown) => api(`/users/${target.id}/`, { method: "PATCH", token: hr.token, json: body });

    const unknownDept = await patch({ department: 2_000_000_000 });
    expect(unknownDept.status).toBe(400);
    expect(await json(unknownDept)).toMatchObject({ errors: [{ field: "department" }] });
    expect((await patch({ role: "admin" })).status).toBe(400);
    expect((await patch({})).status).toBe(400);
    expect((await patch({ role: "manager", email: "x@example.com" })).status).toBe(400);
    const wrongType = await api(`/users/${target.id}/`, {
      method: "PATCH",
      token: hr.token,
      body: "role=manager",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(wrongType.status).toBe(415);
    const [row] = await withDb((db) => db.select().from(users).where(eq(users.id, target.id)));
    expect(row).toMatchObject({ role: "employee", departmentId: null });
  });
});
