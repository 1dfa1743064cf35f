/**
 * Accounts beyond the happy path: the exact fields a user answer carries, who a manager without a
 * department sees, list order, `updated_at`, clearing a manager, how long a login lives (and that
 * an expired one is refused on every path the login check can take), what refresh answers, the
 * password rules on both sides of each threshold, and the per-account login throttle's key.
 */
import { eq } from "drizzle-orm";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/platform/config/config.ts";
import { authSessions, refreshTokens, users } from "../../src/platform/db/schema.ts";
import { newRefreshToken, sha256Hex, signAccessToken } from "../../src/platform/identity/tokens.ts";
import { testEnv, withDb } from "../support/env.ts";
import { api, callWorker, clientIp, json } from "../support/http.ts";
import { accountChangedOutsideApi, createUser, PASSWORD, uniqueEmail } from "../support/users.ts";

const USER_KEYS = ["created_at", "department", "email", "full_name", "id", "is_active", "role", "updated_at"];
const ACCESS_TTL = Number(testEnv.ACCESS_TOKEN_TTL_SECONDS ?? 900);
const REFRESH_TTL = Number(testEnv.REFRESH_TOKEN_TTL_SECONDS ?? 2_592_000);

const register = (body: Record<string, unknown>) =>
  api("/auth/user/register/", { json: body, headers: { "CF-Connecting-IP": clientIp() } });
const login = (email: string, password: string) =>
  api("/auth/user/login/", { json: { email, password }, headers: { "CF-Connecting-IP": clientIp() } });
const refresh = (token: string) =>
  api("/auth/token/refresh/", { json: { refresh_token: token }, headers: { "CF-Connecting-IP": clientIp() } });
const me = (token: string) => api("/auth/user/me/", { token });

/** The edge state unreachable: every call to the user's object fails, so logins are checked in Postgres. */
const objectsDown = {
  ...testEnv,
  USER_STATE: {
    idFromName: (name: string) => testEnv.USER_STATE.idFromName(name),
    get: () => new Proxy({}, { get: () => () => Promise.reject(new Error("Durable Object is overloaded")) }),
  },
} as unknown as Env;

/** A login of `user` made in SQL, ending `ttlMs` from now, and its access token. */
async function loginEndingIn(userId: number, ttlMs: number): Promise<string> {
  const expiresAt = new Date(Date.now() + ttlMs);
  const sessionId = await withDb(async (db) => {
    const [session] = await db.insert(authSessions).values({ userId, expiresAt }).returning({ id: authSessions.id });
    if (!session) throw new Error("no session");
    await db
      .insert(refreshTokens)
      .values({ sessionId: session.id, tokenHash: await sha256Hex(newRefreshToken()), expiresAt });
    return session.id;
  });
  return signAccessToken(getConfig(testEnv), { userId, sessionId });
}

describe("what a user answer carries", () => {
  it("exactly the documented fields, on register, login, /me and the user detail", async () => {
    const email = uniqueEmail("shape");
    const registered = await register({ email, password: PASSWORD, full_name: "Shape Checked" });
    expect(registered.status).toBe(201);
    expect(Object.keys(await json(registered)).sort()).toEqual(USER_KEYS);
    const pair = await json<{ access_token: string; user: Record<string, unknown> }>(await login(email, PASSWORD));
    expect(Object.keys(pair.user).sort()).toEqual(USER_KEYS);
    expect(Object.keys(await json(await me(pair.access_token))).sort()).toEqual(USER_KEYS);
    const ceo = await createUser({ role: "ceo" });
    const detail = await api(`/users/${pair.user.id}/`, { token: ceo.token });
    expect(Object.keys(await json(detail)).sort()).toEqual(USER_KEYS);
  });

  it("is_active says whether the account is active", async () => {
    const ceo = await createUser({ role: "ceo" });
    const user = await createUser();
    const read = async () =>
      (await json<{ is_active: boolean }>(await api(`/users/${user.id}/`, { token: ceo.token }))).is_active;
    expect(await read()).toBe(true);
    await withDb((db) => db.update(users).set({ isActive: false }).where(eq(users.id, user.id)));
    await accountChangedOutsideApi(user.id);
    expect(await read()).toBe(false);
  });

  it("register stores and answers the address in lower case", async () => {
    const email = uniqueEmail("mixed");
    const [local, domain] = email.split("@");
    const response = await register({
      email: `${local?.toUpperCase()}@${domain?.toUpperCase()}`,
      password: PASSWORD,
      full_name: "Mixed Case",
    });
    expect(response.status).toBe(201);
    expect((await json<{ email: string }>(response)).email).toBe(email);
  });
});

describe("users and departments lists", () => {
  it("a manager without a department sees only themselves", async () => {
    const manager = await createUser({ role: "manager", departmentId: null });
    await createUser();
    const page = await json<{ count: number; results: { id: number }[] }>(
      await api("/users/", { token: manager.token }),
    );
    expect(page.count).toBe(1);
    expect(page.results.map((user) => user.id)).toEqual([manager.id]);
  });

  it("both page in ascending id order", async () => {
    const ceo = await createUser({ role: "ceo" });
    await Promise.all([createUser(), createUser(), createUser()]);
    for (const [name] of ["first", "second", "third"].entries()) {
      const made = await api("/departments/", {
        json: { name: `order-${name}-${crypto.randomUUID()}` },
        token: ceo.token,
      });
      expect(made.status).toBe(201);
    }
    for (const path of ["/users/?page_size=100", "/departments/?page_size=100"]) {
      const ids = (await json<{ results: { id: number }[] }>(await api(path, { token: ceo.token }))).results.map(
        (row) => row.id,
      );
      expect(ids.length, path).toBeGreaterThan(2);
      expect(ids, path).toEqual([...ids].sort((a, b) => a - b));
    }
  });

  it("a change moves updated_at, on users and on departments", async () => {
    const ceo = await createUser({ role: "ceo" });
    const user = await createUser();
    const before = await json<{ updated_at: string }>(await api(`/users/${user.id}/`, { token: ceo.token }));
    const department = await json<{ id: number; updated_at: string }>(
      await api("/departments/", { json: { name: `moving-${crypto.randomUUID()}` }, token: ceo.token }),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    const changedUser = await json<{ updated_at: string }>(
      await api(`/users/${user.id}/`, { method: "PATCH", json: { role: "manager" }, token: ceo.token }),
    );
    expect(Date.parse(changedUser.updated_at)).toBeGreaterThan(Date.parse(before.updated_at));
    const changedDepartment = await json<{ updated_at: string }>(
      await api(`/departments/${department.id}/`, {
        method: "PATCH",
        json: { name: `moved-${crypto.randomUUID()}` },
        token: ceo.token,
      }),
    );
    expect(Date.parse(changedDepartment.updated_at)).toBeGreaterThan(Date.parse(department.updated_at));
  });

  it("PATCH {manager: null} leaves a department without a manager", async () => {
    const ceo = await createUser({ role: "ceo" });
    const manager = await createUser({ role: "manager" });
    const made = await json<{ id: number; manager: number | null }>(
      await api("/departments/", {
        json: { name: `managed-${crypto.randomUUID()}`, manager: manager.id },
        token: ceo.token,
      }),
    );
    expect(made.manager).toBe(manager.id);
    const cleared = await api(`/departments/${made.id}/`, {
      method: "PATCH",
      json: { manager: null },
      token: ceo.token,
    });
    expect(cleared.status).toBe(200);
    expect((await json<{ manager: number | null }>(cleared)).manager).toBeNull();
    const read = await json<{ manager: number | null }>(await api(`/departments/${made.id}/`, { token: ceo.token }));
    expect(read.manager).toBeNull();
  });
});

describe("how long a login lives", () => {
  it("a login and its refresh token last REFRESH_TOKEN_TTL_SECONDS from the login", async () => {
    const user = await createUser();
    const started = Date.now();
    const pair = await json<{ refresh_token: string }>(await login(user.email, PASSWORD));
    const hash = await sha256Hex(pair.refresh_token);
    const [token] = await withDb((db) => db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, hash)));
    if (!token) throw new Error("no refresh token row");
    const [session] = await withDb((db) => db.select().from(authSessions).where(eq(authSessions.id, token.sessionId)));
    for (const expiry of [token.expiresAt, session?.expiresAt]) {
      expect(Math.abs((expiry?.getTime() ?? 0) - (started + REFRESH_TTL * 1000))).toBeLessThan(60_000);
    }
  });

  it("refresh answers expires_in of the new access token, and no-store", async () => {
    const user = await createUser();
    const response = await refresh(user.refreshToken);
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toContain("no-store");
    const pair = await json<{ access_token: string; expires_in: number }>(response);
    const claims = decodeJwt(pair.access_token);
    expect(pair.expires_in).toBe(ACCESS_TTL);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(ACCESS_TTL);
  });

  it("a rotated refresh token stops working when the login's lifetime ends", async () => {
    const user = await createUser();
    const rotated = await json<{ refresh_token: string }>(await refresh(user.refreshToken));
    const hash = await sha256Hex(rotated.refresh_token);
    await withDb(async (db) => {
      const [token] = await db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, hash));
      if (!token) throw new Error("no refresh token row");
      await db
        .update(authSessions)
        .set({ expiresAt: new Date(Date.now() - 1_000) })
        .where(eq(authSessions.id, token.sessionId));
    });
    expect((await refresh(rotated.refresh_token)).status).toBe(401);
  });

  it("an access token outlives its login nowhere: warm object, wiped object, unreachable object", async () => {
    const user = await createUser();
    const token = await loginEndingIn(user.id, 1_500);
    expect((await me(token)).status).toBe(200);
    expect((await callWorker(objectsDown, "/auth/user/me/", token)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    expect((await me(token)).status).toBe(401);
    expect((await callWorker(objectsDown, "/auth/user/me/", token)).status).toBe(401);
    await accountChangedOutsideApi(user.id);
    expect((await me(token)).status).toBe(401);
  });

  it("with the object unreachable, a deactivated user's token is still refused", async () => {
    const user = await createUser();
    expect((await callWorker(objectsDown, "/auth/user/me/", user.token)).status).toBe(200);
    await withDb((db) => db.update(users).set({ isActive: false }).where(eq(users.id, user.id)));
    const refused = await callWorker(objectsDown, "/auth/user/me/", user.token);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/no longer exists or is disabled/);
  });

  it("a deleted user's token is told the account no longer exists, not that it logged out", async () => {
    const user = await createUser();
    expect((await me(user.token)).status).toBe(200);
    await withDb((db) => db.delete(users).where(eq(users.id, user.id)));
    await accountChangedOutsideApi(user.id);
    const refused = await me(user.token);
    expect(refused.status).toBe(401);
    expect((await json<{ detail: string }>(refused)).detail).toMatch(/no longer exists or is disabled/);
  });
});

describe("password rules, both sides of each", () => {
  const attempt = (password: string, fullName = "Pat Example", email = uniqueEmail("pw")) =>
    register({ email, password, full_name: fullName });

  it("at least four different characters", async () => {
    expect((await attempt("abcabcabcabc")).status).toBe(400);
    expect((await attempt("abcdabcdabcd")).status).toBe(201);
  });

  it("all digits is refused; starting with a digit is not", async () => {
    expect((await attempt("918273645")).status).toBe(400);
    expect((await attempt("9Sturdy-Pass!")).status).toBe(201);
  });

  it("not the full name, nor an email local part of four characters or more", async () => {
    const byName = await attempt("ada lovelace!9", "Ada Lovelace");
    expect(byName.status).toBe(400);
    expect((await json<{ detail: string }>(byName)).detail).toMatch(/too similar/);
    const domain = `${crypto.randomUUID().slice(0, 8)}.example.com`;
    expect((await attempt("xq7z-Sturdy!", "Pat Example", `xq7z@${domain}`)).status).toBe(400);
    expect((await attempt("xq7-Sturdy!!", "Pat Example", `xq7@${domain}`)).status).toBe(201);
  });

  it("256 characters are accepted at registration, 257 refused; a 257-character login is a 400", async () => {
    const long = `Aa9!${"x".repeat(252)}`;
    expect(long).toHaveLength(256);
    const email = uniqueEmail("long");
    expect((await attempt(long, "Pat Example", email)).status).toBe(201);
    expect((await attempt(`${long}y`)).status).toBe(400);
    expect((await login(email, long)).status).toBe(200);
    const tooLong = await login(email, `${long}y`);
    expect(tooLong.status).toBe(400);
    expect((await json<{ errors: { field: string }[] }>(tooLong)).errors.map((e) => e.field)).toEqual(["password"]);
  });
});

describe("the per-account login throttle", () => {
  it("counts failures and blocks the account however its address is capitalised", async () => {
    const user = await createUser();
    const spellings = [user.email, user.email.toUpperCase(), `${user.email[0]?.toUpperCase()}${user.email.slice(1)}`];
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await login(spellings[i % 2] ?? user.email, "Wrong-Passw0rd!")).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses[10]).toBe(429);
    const right = await login(spellings[2] ?? user.email, PASSWORD);
    expect(right.status).toBe(429);
    expect(right.headers.get("Retry-After")).toBe("60");
  });

  it("with KV down, the right password still logs in", async () => {
    const user = await createUser();
    const downKv = new Proxy(testEnv.CACHE, {
      get: (target, property) =>
        typeof Reflect.get(target, property) === "function"
          ? () => Promise.reject(new Error("KV GET failed: 503 Service Unavailable"))
          : undefined,
    });
    const response = await callWorker({ ...testEnv, CACHE: downKv } as Env, "/auth/user/login/", "", {
      method: "POST",
      body: JSON.stringify({ email: user.email, password: PASSWORD }),
      headers: { "CF-Connecting-IP": clientIp() },
    });
    expect(response.status).toBe(200);
  });
});
