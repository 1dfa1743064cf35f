/**
 * Production by default: what `wrangler deploy` ships (the top level of wrangler.toml) is
 * production-safe, and a production deployment refuses to serve while its token secret is the
 * published example or its mail would silently go nowhere. Each request goes straight to the
 * worker with the test environment turned into a production one.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import devVarsExample from "../../.dev.vars.example?raw";
import { recordEmail } from "../../src/features/email/outbox.ts";
import worker from "../../src/index.ts";
import { EXAMPLE_JWT_SECRET } from "../../src/platform/config/config.ts";
import { emailLog } from "../../src/platform/db/schema.ts";
import wranglerToml from "../../wrangler.toml?raw";
import { testEnv, withDb } from "../support/env.ts";
import { callWorker, clientIp } from "../support/http.ts";
import { createUser, PASSWORD, uniqueEmail } from "../support/users.ts";

const OWN_SECRET = "a-production-secret-nobody-has-published-0123456789";

/**
 * The test environment as a production deployment, with CORS_ORIGINS as wrangler.toml's top level
 * says (a local .dev.vars, which the test runtime also reads, must not change what is tested).
 */
function production(overrides: Record<string, string> = {}): Env {
  return {
    ...testEnv,
    ENVIRONMENT: "production",
    CORS_ORIGINS: topLevelVar("CORS_ORIGINS") ?? "",
    JWT_SECRET: OWN_SECRET,
    ...overrides,
  } as Env;
}

/** The value of `name` in wrangler.toml's top-level `[vars]` (before any `[env.*]` section). */
function topLevelVar(name: string): string | undefined {
  const topLevel = wranglerToml.split(/^\[env\./m)[0] ?? "";
  const vars = topLevel.slice(topLevel.indexOf("\n[vars]"));
  return new RegExp(`^${name}\\s*=\\s*"([^"]*)"`, "m").exec(vars)?.[1];
}

async function detail(response: Response): Promise<string> {
  return ((await response.json()) as { detail: string }).detail;
}

describe("production by default", () => {
  it("wrangler.toml's top level is production with no wildcard CORS; .dev.vars.example makes development", () => {
    expect(topLevelVar("ENVIRONMENT")).toBe("production");
    expect(topLevelVar("CORS_ORIGINS")).not.toContain("*");
    expect(devVarsExample).toMatch(/^ENVIRONMENT=development$/m);
    // The secret the API refuses in production is exactly the one published in the example.
    expect(devVarsExample).toContain(`JWT_SECRET=${EXAMPLE_JWT_SECRET}\n`);
  });

  it("refuses to serve with the example JWT_SECRET: 503 saying what to set", async () => {
    const env = production({ JWT_SECRET: EXAMPLE_JWT_SECRET, MAIL_DISABLED: "true" });
    for (const path of ["/health-check/", "/tasks/"]) {
      const response = await callWorker(env, path, "");
      expect(response.status, path).toBe(503);
      const sentence = await detail(response);
      expect(sentence).toMatch(/JWT_SECRET is the published example/);
      expect(sentence).toMatch(/wrangler secret put JWT_SECRET/);
      expect(sentence).not.toContain(EXAMPLE_JWT_SECRET);
    }
    const login = await callWorker(env, "/auth/user/login/", "", {
      method: "POST",
      body: JSON.stringify({ email: "someone@example.com", password: PASSWORD }),
    });
    expect(login.status).toBe(503);
    // The same configuration in development serves.
    const development = await callWorker({ ...env, ENVIRONMENT: "development" } as Env, "/health-check/", "");
    expect(development.status).toBe(200);
  });

  it("refuses to serve when mail has neither an API key nor MAIL_DISABLED", async () => {
    for (const mailDisabled of [undefined, "", "false"]) {
      const env = production(
        mailDisabled === undefined
          ? { MAILCHANNELS_API_KEY: "" }
          : { MAILCHANNELS_API_KEY: "", MAIL_DISABLED: mailDisabled },
      );
      const response = await callWorker(env, "/health-check/", "");
      expect(response.status, String(mailDisabled)).toBe(503);
      const sentence = await detail(response);
      expect(sentence).toMatch(/set MAILCHANNELS_API_KEY/);
      expect(sentence).toMatch(/MAIL_DISABLED = "true"/);
      expect(sentence).not.toMatch(/JWT_SECRET/);
    }
    // Both problems at once: both named.
    const both = await detail(
      await callWorker(production({ JWT_SECRET: EXAMPLE_JWT_SECRET, MAILCHANNELS_API_KEY: "" }), "/health-check/", ""),
    );
    expect(both).toMatch(/JWT_SECRET.*MAILCHANNELS_API_KEY/);
    // With an API key it serves.
    expect((await callWorker(production(), "/health-check/", "")).status).toBe(200);
  });

  it("with MAIL_DISABLED it serves, and mail is recorded skipped, never sent", async () => {
    const env = production({ MAILCHANNELS_API_KEY: "", MAIL_DISABLED: "true" });
    const registered = await callWorker(env, "/auth/user/register/", "", {
      method: "POST",
      headers: { "CF-Connecting-IP": clientIp() },
      body: JSON.stringify({ email: uniqueEmail("prod"), password: PASSWORD, full_name: "Prod User" }),
    });
    expect(registered.status).toBe(201);

    const address = uniqueEmail("disabled");
    const [id] = await withDb((db) => recordEmail(db, "welcome", [{ email: address }], { fullName: "Disabled" }));
    const batch = createMessageBatch("email", [
      { id: "disabled", timestamp: new Date(), attempts: 1, body: { kind: "email", emailId: id } },
    ]);
    const ctx = createExecutionContext();
    // An API key is configured too: MAIL_DISABLED still wins, nothing is sent.
    await worker.queue(batch, { ...env, MAILCHANNELS_API_KEY: "test-mailchannels-key" } as Env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["disabled"]);
    const [row] = await withDb((db) =>
      db.select().from(emailLog).where(sql`lower(${emailLog.toAddress}) = ${address.toLowerCase()}`),
    );
    expect(row).toMatchObject({ status: "skipped", sentAt: null, attempts: 1 });
    expect(row?.error).toMatch(/MAIL_DISABLED/);
    const stub = await fetch(`${testEnv.MAILCHANNELS_BASE_URL}/__requests?to=${encodeURIComponent(address)}`);
    expect(await stub.json()).toEqual([]);
  });

  it("a production consumer without a key fails the mail (retried), never marks it sent", async () => {
    const address = uniqueEmail("nokey");
    const [id] = await withDb((db) => recordEmail(db, "welcome", [{ email: address }], { fullName: "No Key" }));
    const batch = createMessageBatch("email", [
      { id: "nokey", timestamp: new Date(), attempts: 1, body: { kind: "email", emailId: id } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, production({ MAILCHANNELS_API_KEY: "" }), ctx);
    expect((await getQueueResult(batch, ctx)).retryMessages.map((m) => m.msgId)).toEqual(["nokey"]);
    const [row] = await withDb((db) =>
      db.select().from(emailLog).where(sql`lower(${emailLog.toAddress}) = ${address.toLowerCase()}`),
    );
    expect(row).toMatchObject({ status: "retrying", sentAt: null });
    expect(row?.error).toMatch(/MAILCHANNELS_API_KEY is not set/);
  });

  it("the development outbox route is 404 in production", async () => {
    const user = await createUser();
    const response = await callWorker(production(), "/dev/outbox/", user.token);
    expect(response.status).toBe(404);
    expect(await detail(response)).toBe("No route matches GET /api/v1/dev/outbox/.");
  });

  it("CORS is not a wildcard in production: only configured origins are allowed", async () => {
    const preflight = (env: Env, origin: string) =>
      callWorker(env, "/tasks/", "", {
        method: "OPTIONS",
        headers: { Origin: origin, "Access-Control-Request-Method": "GET" },
      });
    const closed = await preflight(production(), "https://evil.example");
    expect(closed.headers.get("Access-Control-Allow-Origin")).toBeNull();
    const configured = production({ CORS_ORIGINS: "https://app.example.com" });
    expect((await preflight(configured, "https://app.example.com")).headers.get("Access-Control-Allow-Origin")).toBe(
      "https://app.example.com",
    );
    expect((await preflight(configured, "https://evil.example")).headers.get("Access-Control-Allow-Origin")).toBeNull();
    // Development (as `npm run dev` sets it) stays open to any origin.
    const development = { ...testEnv, CORS_ORIGINS: "*" } as Env;
    expect((await preflight(development, "https://any.example")).headers.get("Access-Control-Allow-Origin")).toBe("*");
  });
});
