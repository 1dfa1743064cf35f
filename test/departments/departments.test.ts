import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { departments, users } from "../../src/platform/db/schema.ts";
import { withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import { createUser, uniqueEmail } from "../support/users.ts";

interface DepartmentBody {
  id: number;
  name: string;
  manager: number | null;
  created_at: string;
  updated_at: string;
}

const uniqueName = (prefix = "Dept") => `${prefix} ${uniqueEmail("x").split("@")[0]}`;

async function create(token: string, body: unknown): Promise<Response> {
  return api("/departments/", { token, json: body });
}

describe("departments", () => {
  it("CEO and HR create departments with a manager; the shape is {id, name, manager, created_at, updated_at}", async () => {
    const ceo = await createUser({ role: "ceo" });
    const hr = await createUser({ role: "hr" });
    const manager = await createUser({ role: "manager" });
    for (const admin of [ceo, hr]) {
      const name = uniqueName();
      const response = await create(admin.token, { name: `  ${name} `, manager: manager.id });
      expect(response.status).toBe(201);
      const body = await json<DepartmentBody>(response);
      expect(Object.keys(body).sort()).toEqual(["created_at", "id", "manager", "name", "updated_at"]);
      expect(body).toMatchObject({ name, manager: manager.id });
      expect(Number.isNaN(Date.parse(body.created_at))).toBe(false);
      const [row] = await withDb((db) => db.select().from(departments).where(eq(departments.id, body.id)));
      expect(row).toMatchObject({ name, managerId: manager.id });
    }
    const noManager = await create(ceo.token, { name: uniqueName() });
    expect(noManager.status).toBe(201);
    expect((await json<DepartmentBody>(noManager)).manager).toBeNull();
  });

  it("duplicate names (case-insensitive) are 409; unknown managers and bad bodies are 400", async () => {
    const ceo = await createUser({ role: "ceo" });
    const name = uniqueName("Sales");
    expect((await create(ceo.token, { name })).status).toBe(201);
    const duplicate = await create(ceo.token, { name: name.toUpperCase() });
    expect(duplicate.status).toBe(409);
    expect(await json(duplicate)).toMatchObject({ detail: "A department with this name already exists." });

    const unknown = await create(ceo.token, { name: uniqueName(), manager: 2_000_000_000 });
    expect(unknown.status).toBe(400);
    expect(await json(unknown)).toMatchObject({ errors: [{ field: "manager" }] });
    expect((await create(ceo.token, { name: "" })).status).toBe(400);
    expect((await create(ceo.token, { name: "x".repeat(101) })).status).toBe(400);
    expect((await create(ceo.token, { name: uniqueName(), id: 5 })).status).toBe(400);
    const rows = await withDb((db) => db.select().from(departments));
    expect(rows.filter((r) => r.name.toLowerCase() === name.toLowerCase())).toHaveLength(1);
  });

  it("managers and employees cannot create, change or delete departments (403) but can read them", async () => {
    const ceo = await createUser({ role: "ceo" });
    const dept = await json<DepartmentBody>(await create(ceo.token, { name: uniqueName() }));
    for (const role of ["manager", "employee"] as const) {
      const user = await createUser({ role });
      expect((await create(user.token, { name: uniqueName() })).status).toBe(403);
      const patch = await api(`/departments/${dept.id}/`, {
        method: "PATCH",
        token: user.token,
        json: { name: "Hijacked" },
      });
      expect(patch.status).toBe(403);
      expect((await api(`/departments/${dept.id}/`, { method: "DELETE", token: user.token })).status).toBe(403);
      const read = await api(`/departments/${dept.id}`, { token: user.token });
      expect(read.status).toBe(200);
      expect(await json(read)).toEqual(dept);
      expect((await api("/departments/", { token: user.token })).status).toBe(200);
    }
    const [row] = await withDb((db) => db.select().from(departments).where(eq(departments.id, dept.id)));
    expect(row?.name).toBe(dept.name);
  });

  it("lists departments paginated for any authenticated user, and requires authentication", async () => {
    const hr = await createUser({ role: "hr" });
    const made: number[] = [];
    for (let i = 0; i < 3; i++)
      made.push((await json<DepartmentBody>(await create(hr.token, { name: uniqueName() }))).id);
    const employee = await createUser();
    const seen: number[] = [];
    let url: string | null = "/departments/?page_size=2";
    let pages = 0;
    while (url) {
      const response = await api(url, { token: employee.token });
      expect(response.status).toBe(200);
      const page = await json<{ count: number; next: string | null; results: DepartmentBody[] }>(response);
      expect(page.results.length).toBeLessThanOrEqual(2);
      seen.push(...page.results.map((d) => d.id));
      url = page.next;
      pages++;
    }
    expect(pages).toBeGreaterThanOrEqual(2);
    expect(seen).toEqual(expect.arrayContaining(made));
    expect((await api("/departments/?page_size=101", { token: employee.token })).status).toBe(400);
    const anonymous = await api("/departments/");
    expect(anonymous.status).toBe(401);
    expect(await json(anonymous)).toEqual({ detail: "Authentication credentials were not provided." });
  });

  it("PATCH renames and changes the manager; DELETE leaves members without a department", async () => {
    const ceo = await createUser({ role: "ceo" });
    const manager = await createUser({ role: "manager" });
    const taken = uniqueName();
    await create(ceo.token, { name: taken });
    const dept = await json<DepartmentBody>(await create(ceo.token, { name: uniqueName() }));
    const member = await createUser({ departmentId: dept.id });

    const renamed = uniqueName("Renamed");
    const patched = await api(`/departments/${dept.id}/`, {
      method: "PATCH",
      token: ceo.token,
      json: { name: renamed, manager: manager.id },
    });
    expect(patched.status).toBe(200);
    expect(await json(patched)).toMatchObject({ id: dept.id, name: renamed, manager: manager.id });
    const clash = await api(`/departments/${dept.id}/`, {
      method: "PATCH",
      token: ceo.token,
      json: { name: taken.toLowerCase() },
    });
    expect(clash.status).toBe(409);
    const badManager = await api(`/departments/${dept.id}/`, {
      method: "PATCH",
      token: ceo.token,
      json: { manager: 2_000_000_000 },
    });
    expect(badManager.status).toBe(400);
    expect((await api(`/departments/${dept.id}/`, { method: "PATCH", token: ceo.token, json: {} })).status).toBe(400);

    const deleted = await api(`/departments/${dept.id}/`, { method: "DELETE", token: ceo.token });
    expect(deleted.status).toBe(204);
    expect((await api(`/departments/${dept.id}/`, { token: ceo.token })).status).toBe(404);
    expect((await api(`/departments/${dept.id}/`, { method: "DELETE", token: ceo.token })).status).toBe(404);
    const [row] = await withDb((db) => db.select().from(users).where(eq(users.id, member.id)));
    expect(row?.departmentId).toBeNull();
  });
});
