/**
 * Fixtures for the task, comment, attachment and report suites. Users are inserted straight into
 * Postgres with a live login session and a real signed access token: the permission matrix needs
 * dozens of users, and registering each through the API would spend the per-IP auth rate limit
 * (30 per minute) and a PBKDF2 hash per user. The tokens go through the real `requireAuth`.
 */
import { eq } from "drizzle-orm";
import { getConfig } from "../../src/platform/config/config.ts";
import { authSessions, departments, emailLog, type Role, users } from "../../src/platform/db/schema.ts";
import { signAccessToken } from "../../src/platform/identity/tokens.ts";
import { api, json, testEnv, uniqueEmail, withDb } from "./helpers.ts";

export interface Member {
  id: number;
  email: string;
  token: string;
  role: Role;
  departmentId: number | null;
}

export async function makeUser(role: Role = "employee", departmentId: number | null = null): Promise<Member> {
  const email = uniqueEmail(role);
  return withDb(async (db) => {
    const [user] = await db
      .insert(users)
      .values({ email, fullName: `Test ${role}`, passwordHash: "unused", role, departmentId })
      .returning({ id: users.id });
    if (!user) throw new Error("no user");
    const [session] = await db
      .insert(authSessions)
      .values({ userId: user.id, expiresAt: new Date(Date.now() + 3_600_000) })
      .returning({ id: authSessions.id });
    if (!session) throw new Error("no session");
    const token = await signAccessToken(getConfig(testEnv), { userId: user.id, sessionId: session.id });
    return { id: user.id, email, token, role, departmentId };
  });
}

/** A department with a manager, two employees, plus CEO, HR and an outsider in another department. */
export async function makeOrg() {
  const [dept, otherDept] = await withDb(async (db) =>
    db
      .insert(departments)
      .values([{ name: `dept-${crypto.randomUUID()}` }, { name: `other-${crypto.randomUUID()}` }])
      .returning({ id: departments.id }),
  );
  if (!dept || !otherDept) throw new Error("no department");
  const [manager, otherManager, employee, colleague, outsider, ceo, hr] = await Promise.all([
    makeUser("manager", dept.id),
    makeUser("manager", otherDept.id),
    makeUser("employee", dept.id),
    makeUser("employee", dept.id),
    makeUser("employee", otherDept.id),
    makeUser("ceo", null),
    makeUser("hr", null),
  ]);
  await withDb(async (db) => {
    await db.update(departments).set({ managerId: manager?.id }).where(eq(departments.id, dept.id));
    await db.update(departments).set({ managerId: otherManager?.id }).where(eq(departments.id, otherDept.id));
  });
  return {
    departmentId: dept.id,
    otherDepartmentId: otherDept.id,
    manager: manager as Member,
    otherManager: otherManager as Member,
    employee: employee as Member,
    colleague: colleague as Member,
    outsider: outsider as Member,
    ceo: ceo as Member,
    hr: hr as Member,
  };
}

export type Org = Awaited<ReturnType<typeof makeOrg>>;

export interface TaskBody {
  id: number;
  title: string;
  status: string;
  priority: string;
  assignees: number[];
  department: number | null;
  creator: number;
  assigned_by: number | null;
  completed_at: string | null;
  due_date: string | null;
  estimate_hours: number | null;
  [key: string]: unknown;
}

export async function makeTask(owner: Member, body: Record<string, unknown> = {}): Promise<TaskBody> {
  const response = await api("/tasks/", {
    token: owner.token,
    json: { title: `task ${crypto.randomUUID()}`, ...body },
  });
  if (response.status !== 201) throw new Error(`create failed: ${response.status} ${await response.text()}`);
  return json<TaskBody>(response);
}

/** Emails recorded for an address, by template. */
export async function emailsTo(address: string, template?: string): Promise<{ subject: string; template: string }[]> {
  return withDb(async (db) => {
    const rows = await db
      .select({ subject: emailLog.subject, template: emailLog.template })
      .from(emailLog)
      .where(eq(emailLog.toAddress, address));
    return template ? rows.filter((row) => row.template === template) : rows;
  });
}
