/**
 * Every statement is bounded: Postgres cancels one running past `STATEMENT_TIMEOUT_MS` on both ways
 * in (HTTP and the WebSocket pool), and a request held up by it answers 503 with a sentence.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/platform/config/config.ts";
import { connect, connectHttp, pgErrorCode } from "../../src/platform/db/client.ts";
import { testEnv, withDb } from "../support/env.ts";
import { callWorker } from "../support/http.ts";
import { createUser } from "../support/users.ts";

const withTimeout = (ms: number) => ({ ...testEnv, STATEMENT_TIMEOUT_MS: String(ms) }) as Env;

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; result: T | undefined; error: unknown }> {
  const started = Date.now();
  try {
    const result = await work();
    return { ms: Date.now() - started, result, error: undefined };
  } catch (error) {
    return { ms: Date.now() - started, result: undefined, error };
  }
}

describe("statement_timeout", () => {
  it("over HTTP: a statement past the limit is cancelled (57014); one within it runs", async () => {
    const db = connectHttp(getConfig(withTimeout(500)));
    const slow = await timed(() => db.execute(sql`select pg_sleep(3)`));
    expect(pgErrorCode(slow.error)).toBe("57014");
    expect(slow.ms).toBeLessThan(2_500);
    const quick = await timed(() => db.execute(sql`select pg_sleep(0.1)`));
    expect(quick.error).toBeUndefined();
  });

  it("on the WebSocket pool: the same, and a consumer's larger limit lets the statement finish", async () => {
    const config = getConfig(withTimeout(500));
    const request = connect(config, { max: 1 });
    const consumer = connect(config, { max: 1, statementTimeoutMs: 5_000 });
    try {
      const slow = await timed(() => request.db.execute(sql`select pg_sleep(2)`));
      expect(pgErrorCode(slow.error)).toBe("57014");
      const longer = await timed(() => consumer.db.execute(sql`select pg_sleep(1)`));
      expect(longer.error).toBeUndefined();
    } finally {
      await Promise.all([request.end(), consumer.end()]);
    }
  });

  it("a request held past the limit (here by a lock) answers 503 with a sentence, not 500", async () => {
    const user = await createUser();
    const env = withTimeout(1_000);
    // Warm the login so the request's only database work is the departments query.
    expect((await callWorker(env, "/departments/", user.token)).status).toBe(200);
    const held = await withDb((db) =>
      db.transaction(async (tx) => {
        await tx.execute(sql`lock table departments in access exclusive mode`);
        return timed(() => callWorker(env, "/departments/", user.token));
      }),
    );
    const response = held.result;
    if (!response) throw held.error;
    expect(response.status).toBe(503);
    expect(((await response.json()) as { detail: string }).detail).toMatch(/took too long .* narrow the request/);
    expect(held.ms).toBeGreaterThanOrEqual(900);
    expect(held.ms).toBeLessThan(10_000);
    // Without the lock the same request is well within the limit.
    expect((await callWorker(env, "/departments/", user.token)).status).toBe(200);
  });
});
