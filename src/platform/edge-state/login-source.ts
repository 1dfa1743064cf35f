/**
 * A login as Postgres holds it: the session row and its user, in one query (one round trip). The
 * user-state object reads it when it does not know a login; requests read it directly only when
 * that object cannot be reached.
 */
import { and, eq } from "drizzle-orm";
import type { Queryable } from "../db/client.ts";
import { authSessions, users } from "../db/schema.ts";
import type { EdgeUser } from "./user-state.ts";

export interface LoadedLogin {
  /** `null` when the account is disabled. */
  user: EdgeUser | null;
  revokedAt: number | null;
  expiresAt: number;
}

/** The login, or `null` when the session or its user does not exist. */
export async function loadLogin(db: Queryable, userId: number, sessionId: string): Promise<LoadedLogin | null> {
  const [row] = await db
    .select({
      id: users.id,
      email: users.email,
      fullName: users.fullName,
      role: users.role,
      departmentId: users.departmentId,
      isActive: users.isActive,
      revokedAt: authSessions.revokedAt,
      expiresAt: authSessions.expiresAt,
    })
    .from(authSessions)
    .innerJoin(users, eq(users.id, authSessions.userId))
    .where(and(eq(authSessions.id, sessionId), eq(users.id, userId)))
    .limit(1);
  if (!row) return null;
  return {
    user: row.isActive
      ? { id: row.id, email: row.email, fullName: row.fullName, role: row.role, departmentId: row.departmentId }
      : null,
    revokedAt: row.revokedAt?.getTime() ?? null,
    expiresAt: row.expiresAt.getTime(),
  };
}
