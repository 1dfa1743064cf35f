import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { decodeJwt, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { emailLog, users } from "../src/db/schema.ts";
import { api, createUser, json, loginAs, PASSWORD, uniqueEmail, withDb } from "./helpers.ts";

const NOT_PROVIDED = { detail: "Authentication credentials were not provided." };

interface Pair {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  user: { id: number; email: string };
}

const register = (body: Record<string, unknown>) => api("/auth/user/register/", { json: body });
const refresh = (token: string) => api("/auth/token/refresh/", { json: { refresh_token: token } });
const me = (token: string) => api("/auth/user/me/", { token });

describe("register", () => {
  it("creates an employee, never returns the hash, and records a welcome email", async () => {
    const email = uniqueEmail();
    const registered = await register({ email, password: PASSWORD, full_name: "Ada" });
    expect(registered.status).toBe(201);
    const user = await json(registered);
    expect(user).toMatchObject({ email, full_name: "Ada", role: "employee", department: null });
    expect(user).not.toHaveProperty("password_hash");
    const [row] = await withDb((db) => db.select().from(users).where(eq(users.email, email)));
    expect(row?.passwordHash).toMatch(/^pbkdf2_sha256\$100000\$/);
    const mails = await withDb((db) =>
      db
        .select()
        .from(emailLog)
        .where(and(eq(emailLog.toAddress, email), eq(emailLog.template, "welcome"))),
    );
    expect(mails).toHaveLength(1);
  });

  it("rejects a duplicate email case-insensitively with 409", async () => {
    const email = uniqueEmail("dup");
    expect((await register({ email, password: PASSWORD, full_name: "One" })).status).toBe(201);
    const again = await register({ email: `  ${email.toUpperCase()} `, password: PASSWORD, full_name: "Two" });
    expect(again.status).toBe(409);
    expect(await json(again)).toMatchObject({
      detail: "A user with this email already exists.",
      errors: [{ field: "email" }],
    });
    const rows = await withDb((db) => db.select().from(users).where(eq(users.email, email)));
    expect(rows).toHaveLength(1);
  });

  it("rejects weak passwords (too short, common, all digits, like the email) with 400 and creates nobody", async () => {
    const cases: [string, RegExp][] = [
      ["Ab1!", /at least 8/],
      ["password123", /too common/],
      ["Passw0rd", /too common/],
      ["8472910365", /numeric/],
      ["aaaaaaaaaaa", /too few/],
    ];
    for (const [password, reason] of cases) {
      const email = uniqueEmail("weak");
      const response = await register({ email, password, full_name: "Weak" });
      expect(response.status, password).toBe(400);
      const body = await json<{ detail: string; errors: { field: string }[] }>(response);
      expect(body.detail).toMatch(reason);
      expect(body.errors[0]?.field).toBe("password");
      expect(await withDb((db) => db.select().from(users).where(eq(users.email, email)))).toHaveLength(0);
    }
    const local = uniqueEmail("similar");
    const similar = await register({ email: local, password: `${local.split("@")[0]}!X`, full_name: "S" });
    expect(similar.status).toBe(400);
    expect((await register({ email: "not-an-email", password: PASSWORD, full_name: "X" })).status).toBe(400);
  });
});

describe("login", () => {
  it("returns a Bearer pair and the user; the email is case-insensitive", async () => {
    const user = await createUser();
    const response = await api("/auth/user/login/", { json: { email: user.email.toUpperCase(), password: PASSWORD } });
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    const pair = await json<Pair>(response);
    expect(pair).toMatchObject({ token_type: "Bearer", expires_in: 900, user: { id: user.id, email: user.email } });
    expect(pair.refresh_token).toMatch(/^rt_/);
    const claims = decodeJwt(pair.access_token);
    expect(claims).toMatchObject({ sub: String(user.id), iss: "edge-tasks-api", aud: "edge-tasks-api-clients" });
    expect(typeof claims.sid).toBe("string");
    expect(typeof claims.jti).toBe("string");
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(900);
    expect(await json(await me(pair.access_token))).toMatchObject({ id: user.id });
  });

  it("gives byte-identical 401s for a wrong password and an unknown email", async () => {
    const user = await createUser();
    const wrong = await api("/auth/user/login/", { json: { email: user.email, password: "Wrong-Passw0rd!" } });
    const unknown = await api("/auth/user/login/", { json: { email: uniqueEmail("nobody"), password: PASSWORD } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const [wrongBody, unknownBody] = [await wrong.text(), await unknown.text()];
    expect(wrongBody).toBe(unknownBody);
    expect(JSON.parse(wrongBody)).toEqual({ detail: "Unable to log in with the provided email and password." });
    expect(wrong.headers.get("Content-Type")).toBe(unknown.headers.get("Content-Type"));
  });
});

describe("refresh", () => {
  it("rotates: the new pair works and the old refresh token stops working", async () => {
    const user = await createUser();
    const first = await refresh(user.refreshToken);
    expect(first.status).toBe(200);
    const pair = await json<Pair>(first);
    expect(pair.refresh_token).not.toBe(user.refreshToken);
    expect(pair.user.id).toBe(user.id);
    expect((await me(pair.access_token)).status).toBe(200);

    const second = await refresh(pair.refresh_token);
    expect(second.status).toBe(200);
    expect((await me((await json<Pair>(second)).access_token)).status).toBe(200);
  });

  it("re-use of a spent refresh token revokes the whole login, including the newest access token", async () => {
    const user = await createUser();
    const rotated = await json<Pair>(await refresh(user.refreshToken));
    expect((await me(rotated.access_token)).status).toBe(200);

    const reused = await refresh(user.refreshToken);
    expect(reused.status).toBe(401);
    expect((await json(reused)).detail).toMatch(/already used/);

    const newest = await me(rotated.access_token);
    expect(newest.status).toBe(401);
    expect((await json(newest)).detail).toMatch(/revoked/);
    expect((await me(user.token)).status).toBe(401);
    expect((await refresh(rotated.refresh_token)).status).toBe(401);

    // Only that login: a fresh login of the same user still works.
    const again = await loginAs(user.email);
    expect((await me(again.access_token)).status).toBe(200);
  });

  it("rejects unknown and malformed refresh tokens with 401 or 400", async () => {
    expect((await refresh("rt_not-a-real-token")).status).toBe(401);
    expect((await refresh("garbage")).status).toBe(401);
    expect((await api("/auth/token/refresh/", { json: {} })).status).toBe(400);
  });
});

describe("logout", () => {
  it("revokes this login's access and refresh tokens at once, and only this login", async () => {
    const user = await createUser();
    const other = await loginAs(user.email);
    expect((await api("/auth/user/logout/", { method: "POST", token: user.token })).status).toBe(204);
    const after = await me(user.token);
    expect(after.status).toBe(401);
    expect((await json(after)).detail).toMatch(/revoked/);
    expect((await refresh(user.refreshToken)).status).toBe(401);
    expect((await api("/auth/user/logout/", { method: "POST", token: user.token })).status).toBe(401);
    expect((await me(other.access_token)).status).toBe(200);
  });
});

describe("access tokens", () => {
  it("missing credentials give exactly the DRF sentence", async () => {
    for (const path of ["/auth/user/me/", "/users/", "/departments/"]) {
      const response = await api(path);
      expect(response.status).toBe(401);
      expect(await response.text()).toBe(JSON.stringify(NOT_PROVIDED));
      expect(response.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
    }
  });

  it("tampered, expired, alg none, wrong-algorithm, wrong-issuer and wrong-audience tokens get a different 401", async () => {
    const user = await createUser();
    const claims = decodeJwt(user.token);
    const secret = new TextEncoder().encode((env as Env).JWT_SECRET);
    const base = () =>
      new SignJWT({ sid: claims.sid, typ: "access" })
        .setSubject(String(user.id))
        .setJti(crypto.randomUUID())
        .setIssuedAt();
    const now = Math.floor(Date.now() / 1000);

    // Sanity: a token built this way with the right settings is accepted, so each rejection below
    // is caused by the one thing changed.
    const good = await base()
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("edge-tasks-api")
      .setAudience("edge-tasks-api-clients")
      .setExpirationTime("5m")
      .sign(secret);
    expect((await me(good)).status).toBe(200);

    const [header, payload, signature] = user.token.split(".") as [string, string, string];
    const forgedPayload = btoa(JSON.stringify({ ...claims, sub: "1" }))
      .replaceAll("=", "")
      .replaceAll("+", "-")
      .replaceAll("/", "_");
    const flipped = `${signature.slice(0, -2)}${signature.endsWith("AA") ? "BB" : "AA"}`;
    const b64 = (value: unknown) =>
      btoa(JSON.stringify(value)).replaceAll("=", "").replaceAll("+", "-").replaceAll("/", "_");

    const bad: Record<string, string> = {
      tampered_payload: `${header}.${forgedPayload}.${signature}`,
      tampered_signature: `${header}.${payload}.${flipped}`,
      expired: await base()
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer("edge-tasks-api")
        .setAudience("edge-tasks-api-clients")
        .setIssuedAt(now - 3600)
        .setExpirationTime(now - 60)
        .sign(secret),
      alg_none: `${b64({ alg: "none", typ: "JWT" })}.${payload}.`,
      wrong_alg: await base()
        .setProtectedHeader({ alg: "HS512" })
        .setIssuer("edge-tasks-api")
        .setAudience("edge-tasks-api-clients")
        .setExpirationTime("5m")
        .sign(secret),
      wrong_issuer: await base()
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer("someone-else")
        .setAudience("edge-tasks-api-clients")
        .setExpirationTime("5m")
        .sign(secret),
      wrong_audience: await base()
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer("edge-tasks-api")
        .setAudience("another-api")
        .setExpirationTime("5m")
        .sign(secret),
      wrong_secret: await base()
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer("edge-tasks-api")
        .setAudience("edge-tasks-api-clients")
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode("another-secret-0123456789abcdef0123456789")),
      not_a_jwt: "not.a.jwt",
    };
    for (const [name, token] of Object.entries(bad)) {
      const response = await me(token);
      expect(response.status, name).toBe(401);
      const body = await json<{ detail: string }>(response);
      expect(body.detail, name).not.toBe(NOT_PROVIDED.detail);
      expect(body.detail.length, name).toBeGreaterThan(10);
    }
    expect((await json(await me(bad.expired as string))).detail).toMatch(/expired/);

    const malformed = await api("/auth/user/me/", { headers: { Authorization: `Token ${user.token}` } });
    expect(malformed.status).toBe(401);
    expect((await json(malformed)).detail).toMatch(/Bearer/);
  });
});
