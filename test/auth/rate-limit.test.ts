import { describe, expect, it } from "vitest";
import { eventually, testEnv } from "../support/env.ts";
import { api, callWorker, json } from "../support/http.ts";
import { createUser, PASSWORD } from "../support/users.ts";

const WINDOW_MS = 60_000;

/**
 * The binding counts in fixed windows aligned to the wall clock; if 31 requests straddled a
 * boundary the count would restart mid-way. Start early in a window instead of hoping.
 */
async function startOfWindow(neededMs: number): Promise<void> {
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < neededMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

describe("auth rate limit (per client IP, login + register + refresh share one bucket)", () => {
  it("the 31st attempt from one IP in a minute is 429 with Retry-After; another IP is unaffected", async () => {
    const user = await createUser();
    const login = (from: string, password = PASSWORD) =>
      api("/auth/user/login/", { json: { email: user.email, password }, headers: { "CF-Connecting-IP": from } });

    // A run that straddles a window boundary proves nothing; it is repeated from a fresh IP.
    for (let attempt = 1; ; attempt++) {
      const ip = `198.51.100.${attempt}-${crypto.randomUUID().slice(0, 8)}`;
      await startOfWindow(10_000);
      const window = Math.floor(Date.now() / WINDOW_MS);
      // One bucket for all three endpoints: spend part of it on register and refresh.
      const registerAttempt = await api("/auth/user/register/", {
        json: { email: user.email, password: PASSWORD, full_name: "Again" },
        headers: { "CF-Connecting-IP": ip },
      });
      const refreshAttempt = await api("/auth/token/refresh/", {
        json: { refresh_token: "rt_unknown" },
        headers: { "CF-Connecting-IP": ip },
      });
      // Failed logins count too, so guessing passwords is throttled.
      const wrongPassword = await login(ip, "Wrong-Passw0rd!");
      const logins: number[] = [];
      for (let i = 4; i <= 30; i++) logins.push((await login(ip)).status);
      const throttled = await login(ip);
      const registerThrottled = await api("/auth/user/register/", {
        json: { email: "someone-new@example.com", password: PASSWORD, full_name: "New" },
        headers: { "CF-Connecting-IP": ip },
      });
      if (Math.floor(Date.now() / WINDOW_MS) !== window && attempt < 3) continue;

      expect(registerAttempt.status).toBe(409);
      expect(refreshAttempt.status).toBe(401);
      expect(wrongPassword.status).toBe(401);
      expect(logins.filter((status) => status !== 200)).toEqual([]);
      expect(throttled.status).toBe(429);
      expect(await throttled.text()).toBe(JSON.stringify({ detail: "Request was throttled." }));
      expect(throttled.headers.get("Retry-After")).toBe("60");
      expect(throttled.headers.get("X-Request-Id")).toBeTruthy();
      expect(registerThrottled.status).toBe(429);

      const otherIp = await login(`203.0.113.7-${crypto.randomUUID().slice(0, 8)}`);
      expect(otherIp.status).toBe(200);
      // Authenticated routes are limited per user, not per IP: the throttled IP can still use a token.
      const token = (await json<{ access_token: string }>(otherIp)).access_token;
      expect((await api("/auth/user/me/", { token, headers: { "CF-Connecting-IP": ip } })).status).toBe(200);
      return;
    }
  }, 120_000);
});

describe("per-account login throttling (failed logins, from any address)", () => {
  const ip = () => `192.0.2.${Math.floor(Math.random() * 250) + 1}-${crypto.randomUUID().slice(0, 8)}`;
  const login = (email: string, password: string) =>
    api("/auth/user/login/", { json: { email, password }, headers: { "CF-Connecting-IP": ip() } });

  it("10 failures per minute are 401; the 11th is 429 and blocks even the right password, for that account only", async () => {
    for (let attempt = 1; ; attempt++) {
      const victim = await createUser();
      const bystander = await createUser();
      await startOfWindow(15_000);
      const window = Math.floor(Date.now() / WINDOW_MS);
      // Every guess from a new address: the per-IP limit never applies.
      const failures: number[] = [];
      for (let i = 0; i < 10; i++) failures.push((await login(victim.email, `Wrong-Passw0rd-${i}`)).status);
      const eleventh = await login(victim.email, "Wrong-Passw0rd-x");
      const right = await login(victim.email, PASSWORD);
      if (Math.floor(Date.now() / WINDOW_MS) !== window && attempt < 3) continue;

      expect(failures).toEqual(Array(10).fill(401));
      expect(eleventh.status).toBe(429);
      expect(eleventh.headers.get("Retry-After")).toBe("60");
      expect((await json(eleventh)).detail).toMatch(/Too many failed logins for this account; try again in 60 seconds/);
      expect(right.status).toBe(429);
      // An email with no account is throttled the same way, so 429 reveals nothing.
      const nobody = `nobody-${crypto.randomUUID()}@example.com`;
      const unknown: number[] = [];
      for (let i = 0; i < 11; i++) unknown.push((await login(nobody, PASSWORD)).status);
      expect(unknown).toEqual([...Array(10).fill(401), 429]);
      expect((await login(bystander.email, PASSWORD)).status).toBe(200);
      return;
    }
  }, 120_000);

  it("successful logins never count toward it", async () => {
    const user = await createUser();
    for (let i = 0; i < 9; i++) expect((await login(user.email, "Wrong-Passw0rd!")).status).toBe(401);
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) statuses.push((await login(user.email, PASSWORD)).status);
    expect(statuses).toEqual(Array(15).fill(200));
  });

  it("a block lapses on its own: the right password works again after 60 s", async () => {
    const user = await createUser();
    for (let i = 0; i < 11; i++) await login(user.email, "Wrong-Passw0rd!");
    expect((await login(user.email, PASSWORD)).status).toBe(429);
    const blockedAt = Date.now();
    const ok = await eventually(
      async () => ((await login(user.email, PASSWORD)).status === 200 ? Date.now() : undefined),
      150_000,
      2_000,
    );
    expect(ok - blockedAt).toBeGreaterThanOrEqual(50_000);
    expect(ok - blockedAt).toBeLessThan(90_000);
  }, 180_000);
});

describe("per-user rate limit on authenticated routes", () => {
  it("the 601st request of one user within a minute is 429; another user is unaffected", async () => {
    const other = await createUser();
    const wave = 40;
    // Sending 600 requests takes several seconds; if they straddled a window boundary the count
    // would restart, so such a run proves nothing and is repeated with a fresh user.
    for (let attempt = 1; ; attempt++) {
      const user = await createUser();
      await startOfWindow(20_000);
      const window = Math.floor(Date.now() / WINDOW_MS);
      const statuses: number[] = [];
      for (let sent = 0; sent < 600; sent += wave) {
        const batch = await Promise.all(
          Array.from({ length: wave }, () => api("/departments/?page_size=1", { token: user.token })),
        );
        statuses.push(...batch.map((r) => r.status));
      }
      const throttled = await api("/departments/", { token: user.token });
      if (Math.floor(Date.now() / WINDOW_MS) !== window && attempt < 3) continue;

      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      expect(throttled.status).toBe(429);
      expect(await json(throttled)).toEqual({ detail: "Request was throttled." });
      expect(throttled.headers.get("Retry-After")).toBe("60");
      expect((await api("/auth/user/me/", { token: user.token })).status).toBe(429);
      expect((await api("/departments/", { token: other.token })).status).toBe(200);
      return;
    }
  }, 180_000);
});

describe("what the limits key on, and what happens when the limiter fails", () => {
  it("X-Forwarded-For, which a client sets at will, never names a bucket: 31 attempts under one are not throttled", async () => {
    await startOfWindow(15_000);
    const forwarded = `192.0.2.${Math.floor(Math.random() * 254) + 1}`;
    const statuses: number[] = [];
    for (let i = 0; i < 31; i++) {
      const response = await api("/auth/token/refresh/", {
        json: { refresh_token: "rt_unknown" },
        headers: { "X-Forwarded-For": forwarded },
      });
      statuses.push(response.status);
    }
    expect(statuses.filter((status) => status !== 401)).toEqual([]);
  }, 60_000);

  it("a limiter that fails lets requests through rather than taking the API down", async () => {
    const user = await createUser();
    const broken: RateLimit = {
      limit: async () => {
        throw new Error("rate limiter unavailable");
      },
    };
    const env = { ...testEnv, USER_RATE_LIMITER: broken, AUTH_RATE_LIMITER: broken };
    expect((await callWorker(env, "/auth/user/me/", user.token)).status).toBe(200);
    const login = await callWorker(env, "/auth/user/login/", "", {
      method: "POST",
      body: JSON.stringify({ email: user.email, password: PASSWORD }),
      headers: { "CF-Connecting-IP": "198.51.100.200" },
    });
    expect(login.status).toBe(200);
  });
});
