/**
 * The one organisation builder: two departments, A and B, each managed by its manager, and the
 * people the caller lists, all made with `createUser({ via: "sql" })` at once (see users.ts for why).
 *
 * `makeOrg()` is the organisation most suites share; the access matrix (access-fixtures.ts) builds
 * its own people from the same builder.
 */
import { eq } from "drizzle-orm";
import { departments, type Role } from "../../src/platform/db/schema.ts";
import { withDb } from "./env.ts";
import { createUser, type TestUser } from "./users.ts";

export type DepartmentKey = "A" | "B";

export interface PersonSpec {
  role: Role;
  /** The person's department, or null for none. A manager manages their department. */
  department: DepartmentKey | null;
}

export interface Organisation<K extends string> {
  departments: Record<DepartmentKey, number>;
  users: Record<K, TestUser>;
}

export async function buildOrganisation<K extends string>(
  people: Record<K, PersonSpec>,
  names: Record<DepartmentKey, string>,
): Promise<Organisation<K>> {
  const keys = Object.keys(people) as K[];
  const [a, b] = await withDb((db) =>
    db
      .insert(departments)
      .values([{ name: names.A }, { name: names.B }])
      .returning({ id: departments.id }),
  );
  if (!a || !b) throw new Error("no departments");
  const ids: Record<DepartmentKey, number> = { A: a.id, B: b.id };
  const made = await Promise.all(
    keys.map((key) => {
      const { role, department } = people[key];
      return createUser({ role, departmentId: department === null ? null : ids[department], via: "sql" });
    }),
  );
  const users = Object.fromEntries(keys.map((key, i) => [key, made[i]])) as Record<K, TestUser>;
  for (const department of ["A", "B"] as const) {
    const managers = keys.filter((key) => people[key].role === "manager" && people[key].department === department);
    // A department has one manager; two would make "the department's manager" ambiguous.
    if (managers.length > 1) throw new Error(`department ${department} has ${managers.length} managers`);
    const manager = managers[0];
    if (manager === undefined) continue;
    await withDb((db) =>
      db.update(departments).set({ managerId: users[manager].id }).where(eq(departments.id, ids[department])),
    );
  }
  return { departments: ids, users };
}

/** The shared organisation: department A with a manager and two employees, B with a manager and an employee. */
const ORG_PEOPLE = {
  manager: { role: "manager", department: "A" },
  otherManager: { role: "manager", department: "B" },
  employee: { role: "employee", department: "A" },
  colleague: { role: "employee", department: "A" },
  outsider: { role: "employee", department: "B" },
  ceo: { role: "ceo", department: null },
  hr: { role: "hr", department: null },
} as const satisfies Record<string, PersonSpec>;

/** A department with a manager, two employees, plus CEO, HR and an outsider in another department. */
export async function makeOrg() {
  const { departments: ids, users } = await buildOrganisation(ORG_PEOPLE, {
    A: `dept-${crypto.randomUUID()}`,
    B: `other-${crypto.randomUUID()}`,
  });
  return { departmentId: ids.A, otherDepartmentId: ids.B, ...users };
}

export type Org = Awaited<ReturnType<typeof makeOrg>>;
