/**
 * The test environment inside workerd: the bindings (with the test-only ones the Node side adds),
 * a Postgres handle for setup and assertions, and waiting for an observable state.
 */
import { env } from "cloudflare:workers";
import { getConfig } from "../../src/platform/config/config.ts";
import { connect, type Database, type Tx } from "../../src/platform/db/client.ts";

export interface TestEnv extends Env {
  TEST_RELAY_STATS_URL: string;
  TEST_CLOSED_PORT: string;
  /** Node-side helper server (test/node/support-server.ts). */
  TEST_SUPPORT_URL: string;
  /** This runtime's own id, under which the support server records its HTTP origin (test/node/runtime-origin.ts). */
  TEST_RUNTIME_ID: string;
  /** Node-side webhook receiver (test/node/webhook-receiver.ts). */
  TEST_WEBHOOK_RECEIVER_URL: string;
}
export const testEnv = env as TestEnv;

/** A database handle for setup and assertions; close it with `end()`. */
export function database(): Database {
  return connect(getConfig(testEnv));
}

export async function withDb<T>(work: (db: Database["db"]) => Promise<T>): Promise<T> {
  const handle = database();
  try {
    return await work(handle.db);
  } finally {
    await handle.end();
  }
}

/** Thrown to end a holding transaction: rolled back, nothing it wrote is kept. */
class Release extends Error {}

/**
 * Runs `work` while `hold` keeps its transaction open (a lock, an uncommitted row), then rolls that
 * transaction back.
 */
export async function whileHolding(hold: (tx: Tx) => Promise<void>, work: () => Promise<void>): Promise<void> {
  await withDb((db) =>
    db
      .transaction(async (tx) => {
        await hold(tx);
        await work();
        throw new Release();
      })
      .catch((error: unknown) => {
        if (!(error instanceof Release)) throw error;
      }),
  );
}

/** Polls until `check` returns a value (not undefined) or the timeout passes. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
