/**
 * The one user factory of the tests. Each test makes its own users (unique emails), so files can
 * run in any order.
 *
 * Two ways to make one, both ending with a working access token and refresh token:
 * - `via: "api"` (the default) registers through the API and logs in, as a client does: what the
 *   auth, account and upload suites need (a real password, the registration's side effects).
 * - `via: "sql"` inserts the user, a login session and a refresh token straight into Postgres and
 *   signs the access token: the permission suites need dozens of users, and registering each would
 *   spend the per-IP auth rate limit (30 per minute) and a PBKDF2 hash per user. The tokens still go
 *   through the real `requireAuth` and refresh route.
 */
import { eq } from "drizzle-orm";
import { getConfig } from "../../src/platform/config/config.ts";
import { authSessions, type Role, refreshTokens, users } from "../../src/platform/db/schema.ts";
import { userStateOf } from "../../src/platform/edge-state/user-state.client.ts";
import { newRefreshToken, sha256Hex, signAccessToken } from "../../src/platform/identity/tokens.ts";
import { testEnv, withDb } from "./env.ts";
import { api, clientIp, json } from "./http.ts";

export const PASSWORD = "Sturdy-Passw0rd!";

let counter = 0;
export function uniqueEmail(prefix = "user"): string {
  counter++;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

export interface TestUser {
  id: number;
  email: string;
  token: string;
  refreshToken: string;
  role: Role;
  departmentId: number | null;
}

export interface UserOptions {
  role?: Role;
  departmentId?: number | null;
  /** The start of the email address (default: the role, or `user`). */
  prefix?: string;
  /** How the user is made (see the module comment); registering is the default. */
  via?: "api" | "sql";
}

export async function createUser(options: UserOptions = {}): Promise<TestUser> {
  const email = uniqueEmail(options.prefix ?? options.role ?? "user");
  const role = options.role ?? "employee";
  const departmentId = options.departmentId ?? null;
  return options.via === "sql"
    ? insertUser(email, role, departmentId)
    : registerUser(email, role, departmentId, options.role !== undefined || options.departmentId !== undefined);
}

/** Registers through the API, sets role and department in the database when asked, and logs in. */
async function registerUser(email: string, role: Role, departmentId: number | null, placed: boolean) {
  const registered = await api("/auth/user/register/", {
    json: { email, password: PASSWORD, full_name: "Test User" },
    headers: { "CF-Connecting-IP": clientIp() },
  });
  if (registered.status !== 201) throw new Error(`register failed: ${registered.status} ${await registered.text()}`);
  const { id } = await json<{ id: number }>(registered);
  // Registration always makes an employee with no department; only an operator can place a user.
  if (placed) await withDb((db) => db.update(users).set({ role, departmentId }).where(eq(users.id, id)));
  const tokens = await loginAs(email);
  return { id, email, token: tokens.access_token, refreshToken: tokens.refresh_token, role, departmentId };
}

/** Inserts the user with a live session and refresh token, and signs its access token. */
async function insertUser(email: string, role: Role, departmentId: number | null): Promise<TestUser> {
  const config = getConfig(testEnv);
  const refreshToken = newRefreshToken();
  return withDb(async (db) => {
    const [user] = await db
      .insert(users)
      .values({ email, fullName: `Test ${role}`, passwordHash: "unused", role, departmentId })
      .returning({ id: users.id });
    if (!user) throw new Error("no user");
    const expiresAt = new Date(Date.now() + 3_600_000);
    const [session] = await db
      .insert(authSessions)
      .values({ userId: user.id, expiresAt })
      .returning({ id: authSessions.id });
    if (!session) throw new Error("no session");
    await db
      .insert(refreshTokens)
      .values({ sessionId: session.id, tokenHash: await sha256Hex(refreshToken), expiresAt });
    const token = await signAccessToken(config, { userId: user.id, sessionId: session.id });
    return { id: user.id, email, token, refreshToken, role, departmentId };
  });
}

export async function loginAs(email: string, password = PASSWORD) {
  const response = await api("/auth/user/login/", {
    json: { email, password },
    headers: { "CF-Connecting-IP": clientIp() },
  });
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${await response.text()}`);
  return json<{ access_token: string; refresh_token: string }>(response);
}

/**
 * What an operator's tool does after changing an account directly in SQL (deleting or disabling
 * it: the API has no route for either): tell the user's edge state, so the change applies on the
 * very next request instead of within the state's snapshot age.
 */
export async function accountChangedOutsideApi(userId: number): Promise<void> {
  await userStateOf(testEnv, userId).userChanged();
}
