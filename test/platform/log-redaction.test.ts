/**
 * Logs carry codes and causes, never values: a database error on a request is logged with its
 * SQLSTATE, constraint and error classes, but none of the statement's parameters (drizzle's
 * message lists them all) nor the values Postgres quotes in its own message and detail.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { getConfig } from "../../src/platform/config/config.ts";
import { connectHttp } from "../../src/platform/db/client.ts";
import { errorFields } from "../../src/platform/lib/log.ts";
import { testEnv, withDb } from "../support/env.ts";
import { callWorker, clientIp } from "../support/http.ts";
import { PASSWORD, uniqueEmail } from "../support/users.ts";

const MARKER = "Leaky Param";
const CONSTRAINT = "users_log_redaction_probe";

describe("error logs", () => {
  beforeAll(async () => {
    // A real constraint the register statement violates only for this test's names: Postgres
    // then fails the insert (23514), and its message, detail and drizzle's wrapper all hold values.
    await withDb((db) =>
      db.execute(
        sql.raw(`alter table users add constraint ${CONSTRAINT} check (full_name not like '${MARKER}%') not valid`),
      ),
    );
  });
  afterAll(async () => {
    await withDb((db) => db.execute(sql.raw(`alter table users drop constraint if exists ${CONSTRAINT}`)));
  });

  it("a failed register logs the SQLSTATE and constraint, not the email, name or password hash", async () => {
    const email = uniqueEmail("leak");
    const fullName = `${MARKER} ${crypto.randomUUID()}`;
    const lines: string[] = [];
    const spy = vi.spyOn(console, "error").mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    let response: Response;
    try {
      response = await callWorker(testEnv, "/auth/user/register/", "", {
        method: "POST",
        headers: { "CF-Connecting-IP": clientIp() },
        body: JSON.stringify({ email, password: PASSWORD, full_name: fullName }),
      });
    } finally {
      spy.mockRestore();
    }
    expect(response.status).toBe(500);
    const failure = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((l) => l.message === "request failed");
    expect(failure).toMatchObject({ sqlstate: "23514", constraint: CONSTRAINT, table: "users", status: 500 });
    const text = lines.join("\n");
    for (const value of [email, fullName, "pbkdf2_sha256$", "params:", "Failing row"]) {
      expect(text, value).not.toContain(value);
    }
  });

  it("errorFields of a real query error keeps the class chain and code, drops the parameter", async () => {
    const secret = `secret-${crypto.randomUUID()}`;
    const db = connectHttp(getConfig(testEnv));
    const error = await db.execute(sql`select ${secret}::int`).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(Error);
    // The driver's own message quotes the value; the log line must not.
    expect(String((error as Error).message)).toContain(secret);
    const fields = errorFields(error);
    expect(fields).toMatchObject({ error_name: "DrizzleQueryError", sqlstate: "22P02" });
    expect(fields.causes).toEqual([expect.objectContaining({ name: "NeonDbError", sqlstate: "22P02" })]);
    expect(JSON.stringify(fields)).not.toContain(secret);
    expect(JSON.stringify(fields)).toContain("at ");
  });

  it("errors that did not come from a query keep their message (credentials scrubbed)", () => {
    const fields = errorFields(
      new Error("could not reach postgres://user:pw@db.example/tasks", { cause: new TypeError("fetch failed") }),
    );
    expect(fields.error).toBe("could not reach postgres://***");
    expect(fields.causes).toEqual([{ name: "TypeError", message: "fetch failed" }]);
  });
});
