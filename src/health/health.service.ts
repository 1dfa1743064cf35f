/**
 * Dependency checks for `/health-check/`. Each check is real (a query, a KV write and read, an R2
 * head, a queue send, a Durable Object RPC) and bounded by a timeout, so one hung dependency
 * cannot hang the endpoint.
 */

import { sql } from "drizzle-orm";
import type { AppConfig } from "../config.ts";
import { connect, connectHttp } from "../db/client.ts";

export const HEALTH_CHECKS = ["database", "kv", "r2", "queues", "durable_objects"] as const;
export type HealthCheckName = (typeof HEALTH_CHECKS)[number];

export interface CheckResult {
  status: "ok" | "error";
  latency_ms: number;
  error?: string;
}

/** The queue message the ingest consumer recognises and acknowledges without work. */
export const HEALTH_QUEUE_MESSAGE = { kind: "health" } as const;

const TIMEOUT_MS = 5_000;

async function timed(check: () => Promise<void>): Promise<CheckResult> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      }),
    ]);
    return { status: "ok", latency_ms: Date.now() - started };
  } catch (error) {
    return { status: "error", latency_ms: Date.now() - started, error: describe(error) };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // Connection strings can appear in driver errors; never echo credentials.
  return message.replace(/postgres(ql)?:\/\/[^\s]+/gi, "postgres://***").slice(0, 200);
}

export async function runHealthChecks(env: Env, config: AppConfig): Promise<Record<HealthCheckName, CheckResult>> {
  const [database, kv, r2, queues, durableObjects] = await Promise.all([
    // Both ways in: HTTP (every request) and the WebSocket pool (ingestion, interactive writes).
    timed(async () => {
      const database = connect(config, { max: 1 });
      try {
        await Promise.all([connectHttp(config).execute(sql`select 1`), database.db.execute(sql`select 1`)]);
      } finally {
        await database.end();
      }
    }),
    timed(async () => {
      // A fresh key each time: KV allows one write per second per key.
      const key = `health:${crypto.randomUUID()}`;
      await env.CACHE.put(key, "ok", { expirationTtl: 60 });
      const value = await env.CACHE.get(key);
      if (value !== "ok") throw new Error("value written was not read back");
    }),
    timed(async () => {
      await env.FILES.head("health/probe");
    }),
    timed(async () => {
      await env.INGEST_QUEUE.send(HEALTH_QUEUE_MESSAGE);
      await env.EMAIL_QUEUE.send(HEALTH_QUEUE_MESSAGE);
    }),
    timed(async () => {
      const stub = env.UPLOAD_PROGRESS.get(env.UPLOAD_PROGRESS.idFromName("health"));
      const answer = await stub.ping();
      if (answer !== "pong") throw new Error("unexpected answer from the Durable Object");
    }),
  ]);
  return { database, kv, r2, queues, durable_objects: durableObjects };
}
