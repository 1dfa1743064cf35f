import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { decodeJwt, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { departments, users } from "../../src/platform/db/schema.ts";
import { documentedOperations, expectErrorShape, urlOf } from "../support/access-fixtures.ts";
import { emailsTo } from "../support/email.ts";
import { withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import { makeTask } from "../support/tasks.ts";
import { accountChangedOutsideApi, createUser, loginAs, PASSWORD, uniqueEmail } from "../support/users.ts";

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
    const mails = await emailsTo(email, "welcome");
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

describe("access tokens: not yet valid, wrong kind", () => {
  const secret = () => new TextEncoder().encode((env as Env).JWT_SECRET);
  const signed = (user: { id: number }, sid: unknown, edit: (jwt: SignJWT) => SignJWT) =>
    edit(
      new SignJWT({ sid, typ: "access" })
        .setProtectedHeader({ alg: "HS256" })
        .setSubject(String(user.id))
        .setJti(crypto.randomUUID())
        .setIssuer("edge-tasks-api")
        .setAudience("edge-tasks-api-clients"),
    ).sign(secret());

  it("a token whose nbf or iat lies in the future, or older than the access TTL, gets 401 in the error shape", async () => {
    const user = await createUser();
    const { sid } = decodeJwt(user.token);
    const now = Math.floor(Date.now() / 1000);
    const cases: Record<string, [string, RegExp]> = {
      nbf_future: [
        await signed(user, sid, (t) =>
          t
            .setIssuedAt(now)
            .setNotBefore(now + 600)
            .setExpirationTime(now + 900),
        ),
        /not valid yet/,
      ],
      iat_future: [
        await signed(user, sid, (t) => t.setIssuedAt(now + 600).setExpirationTime(now + 1200)),
        /not valid yet/,
      ],
      // Its exp is still ahead, but no token we issue lives longer than the TTL (900 s).
      older_than_ttl: [
        await signed(user, sid, (t) => t.setIssuedAt(now - 3600).setExpirationTime(now + 3600)),
        /expired/,
      ],
    };
    // Sanity: the same construction with sound times is accepted.
    const good = await signed(user, sid, (t) =>
      t
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + 300),
    );
    expect((await me(good)).status).toBe(200);
    for (const [name, [token, detail]] of Object.entries(cases)) {
      const response = await me(token);
      expect(response.status, name).toBe(401);
      expect(response.headers.get("WWW-Authenticate"), name).toMatch(/^Bearer/);
      const body = await expectErrorShape(response, name);
      expect(body.detail, name).toMatch(detail);
    }
  });

  it("a refresh token is not an access token, and an access token is not a refresh token", async () => {
    const user = await createUser();
    const asAccess = await me(user.refreshToken);
    expect(asAccess.status).toBe(401);
    await expectErrorShape(asAccess, "refresh token as access token");

    const asRefresh = await refresh(user.token);
    expect(asRefresh.status).toBe(401);
    await expectErrorShape(asRefresh, "access token at the refresh endpoint");
    // Neither attempt spent or revoked anything: the real pair still works.
    expect((await me(user.token)).status).toBe(200);
    expect((await refresh(user.refreshToken)).status).toBe(200);
  });

  it("a signed token of another type, or naming another user's login, gets 401", async () => {
    const user = await createUser();
    const other = await createUser();
    const { sid } = decodeJwt(user.token);
    const now = Math.floor(Date.now() / 1000);
    const sound = (t: SignJWT) => t.setIssuedAt(now).setExpirationTime(now + 300);
    const refreshTyped = await new SignJWT({ sid, typ: "refresh" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(String(user.id))
      .setJti(crypto.randomUUID())
      .setIssuer("edge-tasks-api")
      .setAudience("edge-tasks-api-clients")
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(secret());
    const cases: Record<string, string> = {
      typ_refresh: refreshTyped,
      // The user's own login (sid) claimed for someone else (sub), and the other way round.
      other_subject: await signed(other, sid, sound),
      other_session: await signed(user, decodeJwt(other.token).sid, sound),
    };
    for (const [name, token] of Object.entries(cases)) {
      const response = await me(token);
      expect(response.status, name).toBe(401);
      await expectErrorShape(response, name);
    }
  });

  it("?access_token= is honoured only on a WebSocket upgrade, never on a plain request", async () => {
    const user = await createUser();
    const plain = await api(`/tasks/?access_token=${user.token}`);
    expect(plain.status).toBe(401);
    expect(await plain.text()).toBe(JSON.stringify(NOT_PROVIDED));
  });
});

/** Calls every documented bearer-auth operation with `token`; returns the ones not answering 401. */
async function notUnauthorised(token: string): Promise<string[]> {
  const operations = (await documentedOperations()).filter((op) => op.bearer);
  expect(operations.length).toBeGreaterThan(30);
  const wrong: string[] = [];
  for (const op of operations) {
    const id = op.idFormat === "uuid" ? crypto.randomUUID() : op.idFormat === "integer" ? 1 : undefined;
    const label = `${op.method.toUpperCase()} ${op.path}`;
    const hasBody = op.method !== "get" && op.method !== "delete";
    const response = await api(urlOf(op.path, id), {
      method: op.method.toUpperCase(),
      token,
      ...(hasBody ? { json: {} } : {}),
    });
    if (response.status !== 401) {
      wrong.push(`${label} → ${response.status}`);
      continue;
    }
    await expectErrorShape(response, label);
  }
  // The WebSocket upgrade carries its token in the query string.
  const socket = await api(`/csv-data/uploads/${crypto.randomUUID()}/progress/?access_token=${token}`, {
    headers: { Upgrade: "websocket" },
  });
  if (socket.status !== 401) wrong.push(`WebSocket progress → ${socket.status}`);
  else await expectErrorShape(socket, "WebSocket progress");
  return wrong;
}

describe("tokens of users that no longer exist", () => {
  it("a deleted user's access token gets 401 on every authenticated route, and its refresh token 401", async () => {
    const user = await createUser();
    expect((await me(user.token)).status).toBe(200);
    await withDb((db) => db.delete(users).where(eq(users.id, user.id)));
    await accountChangedOutsideApi(user.id);

    expect(await notUnauthorised(user.token)).toEqual([]);
    const refreshed = await refresh(user.refreshToken);
    expect(refreshed.status).toBe(401);
    await expectErrorShape(refreshed, "refresh of a deleted user");
  });

  it("a deactivated user's tokens get 401 too (access and refresh), and logging in fails like a wrong password", async () => {
    const user = await createUser();
    await withDb((db) => db.update(users).set({ isActive: false }).where(eq(users.id, user.id)));
    await accountChangedOutsideApi(user.id);
    const response = await me(user.token);
    expect(response.status).toBe(401);
    expect((await expectErrorShape(response, "deactivated")).detail).toMatch(/no longer exists or is disabled/);
    expect((await api("/tasks/", { token: user.token })).status).toBe(401);
    expect((await refresh(user.refreshToken)).status).toBe(401);
    // Logging in again fails exactly like a wrong password: the account's state is not revealed.
    const login = await api("/auth/user/login/", { json: { email: user.email, password: PASSWORD } });
    const wrong = await api("/auth/user/login/", { json: { email: user.email, password: "Wrong-Passw0rd!" } });
    expect(login.status).toBe(401);
    expect(await login.text()).toBe(await wrong.text());
  });
});

interface ListPage {
  count: number;
  results: { id: number }[];
}

describe("role and department changes apply on the very next request", () => {
  const read = async (token: string, path: string, headers: Record<string, string> = {}) => {
    const response = await api(path, { token, headers });
    return { status: response.status, cache: response.headers.get("X-Cache"), response };
  };

  it("a CEO demoted to employee loses every CEO power at once, and no CEO-era cached page is served", async () => {
    const [deptId] = await withDb((db) =>
      db
        .insert(departments)
        .values({ name: `demotion ${uniqueEmail("d")}` })
        .returning({ id: departments.id }),
    );
    if (!deptId) throw new Error("no department");
    const ceo = await createUser({ role: "ceo", via: "sql" });
    const otherCeo = await createUser({ role: "ceo", via: "sql" });
    const employee = await createUser({ role: "employee", departmentId: deptId.id, via: "sql" });
    const tag = `demote${crypto.randomUUID().slice(0, 8)}`;
    const foreign = await makeTask(employee, { title: `foreign ${tag}` });
    const own = await makeTask(ceo, { title: `own ${tag}` });

    // CEO era: everyone, every task; pages cached.
    expect((await read(ceo.token, "/users/")).status).toBe(200);
    const list = `/tasks/?search=${tag}`;
    expect((await read(ceo.token, list)).cache).toBe("MISS");
    const ceoPage = await read(ceo.token, list);
    expect(ceoPage.cache).toBe("HIT");
    expect((await json<ListPage>(ceoPage.response)).count).toBe(2);
    const report = "/reports/task-status/";
    const jsonAccept = { Accept: "application/json" };
    expect((await read(ceo.token, report, jsonAccept)).cache).toBe("MISS");
    expect((await read(ceo.token, report, jsonAccept)).cache).toBe("HIT");
    expect((await read(ceo.token, `/tasks/${foreign.id}/`)).status).toBe(200);
    expect((await read(ceo.token, `/tasks/${foreign.id}/`)).cache).toBe("HIT");

    const demoted = await api(`/users/${ceo.id}/`, {
      method: "PATCH",
      token: otherCeo.token,
      json: { role: "employee" },
    });
    expect(demoted.status).toBe(200);

    // The same access token, the very next request.
    const users = await read(ceo.token, "/users/");
    expect(users.status).toBe(403);
    await expectErrorShape(users.response, "demoted: list users");
    const department = await api("/departments/", { token: ceo.token, json: { name: `nope ${tag}` } });
    expect(department.status).toBe(403);
    expect((await api(`/users/${employee.id}/`, { token: ceo.token })).status).toBe(404);
    expect(
      (await api(`/users/${employee.id}/`, { method: "PATCH", token: ceo.token, json: { role: "hr" } })).status,
    ).toBe(404);

    const after = await read(ceo.token, list);
    expect(after.cache).toBe("MISS");
    const page = await json<ListPage>(after.response);
    expect(page.count).toBe(1);
    expect(page.results.map((t) => t.id)).toEqual([own.id]);
    const detail = await read(ceo.token, `/tasks/${foreign.id}/`);
    expect(detail.status).toBe(404);
    const counts = await read(ceo.token, report, jsonAccept);
    expect(counts.cache).toBe("MISS");
    expect(await json(counts.response)).toEqual({ total_tasks: 1, completed_tasks: 0, incomplete_tasks: 1 });
  });

  it("a manager moved to another department loses the old department's users and tasks at once", async () => {
    const [a, b] = await withDb((db) =>
      db
        .insert(departments)
        .values([{ name: `move-a ${uniqueEmail("d")}` }, { name: `move-b ${uniqueEmail("d")}` }])
        .returning({ id: departments.id }),
    );
    if (!a || !b) throw new Error("no departments");
    const hr = await createUser({ role: "hr", via: "sql" });
    const manager = await createUser({ role: "manager", departmentId: a.id, via: "sql" });
    const inA = await createUser({ role: "employee", departmentId: a.id, via: "sql" });
    const inB = await createUser({ role: "employee", departmentId: b.id, via: "sql" });
    const tag = `move${crypto.randomUUID().slice(0, 8)}`;
    const taskA = await makeTask(inA, { title: `a ${tag}` });
    const taskB = await makeTask(inB, { title: `b ${tag}` });
    const list = `/tasks/?search=${tag}`;

    expect((await read(manager.token, `/users/${inA.id}/`)).status).toBe(200);
    expect((await read(manager.token, `/tasks/${taskA.id}/`)).status).toBe(200);
    expect((await read(manager.token, `/tasks/${taskB.id}/`)).status).toBe(404);
    expect((await read(manager.token, list)).cache).toBe("MISS");
    const before = await read(manager.token, list);
    expect(before.cache).toBe("HIT");
    expect((await json<ListPage>(before.response)).results.map((t) => t.id)).toEqual([taskA.id]);

    const moved = await api(`/users/${manager.id}/`, { method: "PATCH", token: hr.token, json: { department: b.id } });
    expect(moved.status).toBe(200);

    expect((await read(manager.token, `/users/${inA.id}/`)).status).toBe(404);
    expect((await read(manager.token, `/users/${inB.id}/`)).status).toBe(200);
    expect((await read(manager.token, `/tasks/${taskA.id}/`)).status).toBe(404);
    expect((await read(manager.token, `/tasks/${taskB.id}/`)).status).toBe(200);
    const patchOld = await api(`/tasks/${taskA.id}/`, { method: "PATCH", token: manager.token, json: { title: "x" } });
    expect(patchOld.status).toBe(404);
    const after = await read(manager.token, list);
    expect(after.cache).toBe("MISS");
    expect((await json<ListPage>(after.response)).results.map((t) => t.id)).toEqual([taskB.id]);
    const people = await json<ListPage>((await read(manager.token, "/users/?page_size=100")).response);
    expect(people.results.map((u) => u.id).sort()).toEqual([manager.id, inB.id].sort());
  });
});
