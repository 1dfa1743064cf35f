/**
 * Dependency checks for `/health-check/`, each bounded by a timeout so one hung dependency cannot
 * hang the endpoint.
 *
 * The anonymous check is read-only and cheap: anyone may call it, so it writes nothing anywhere
 * (a query over HTTP, a KV read, an R2 head, a Durable Object call that stores nothing, and the
 * queue bindings' presence: sending is the only way to exercise a producer, and a send is a write).
 * The deep check (CEO and HR) also proves the write paths: a query on a WebSocket pool connection,
 * a KV put read back, and a message sent to each queue (their consumers acknowledge it unread).
 *
 * A failure is answered with a fixed phrase; what the dependency said is logged, never returned.
 */

import { sql } from "drizzle-orm";
import type { AppConfig } from "../../platform/config/config.ts";
import { connect, connectHttp } from "../../platform/db/client.ts";
import { errorFields, log } from "../../platform/lib/log.ts";

export const HEALTH_CHECKS = ["database", "kv", "r2", "queues", "durable_objects"] as const;
export type HealthCheckName = (typeof HEALTH_CHECKS)[number];

export const HEALTH_FAILURES = ["failed", "timed out"] as const;

export interface CheckResult {
  status: "ok" | "error";
  latency_ms: number;
  error?: (typeof HEALTH_FAILURES)[number];
}

/** The queue message the consumers recognise and acknowledge without work. */
export const HEALTH_QUEUE_MESSAGE = { kind: "health" } as const;

/** The key the anonymous check reads: never written, so the read finds nothing, quickly. */
const KV_PROBE_KEY = "health:probe";
const TIMEOUT_MS = 5_000;

class CheckTimeout extends Error {}

async function timed(name: HealthCheckName, check: () => Promise<void>): Promise<CheckResult> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CheckTimeout(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      }),
    ]);
    return { status: "ok", latency_ms: Date.now() - started };
  } catch (error) {
    log("warn", "health check failed", { check: name, ...errorFields(error) });
    const failure = error instanceof CheckTimeout ? "timed out" : "failed";
    return { status: "error", latency_ms: Date.now() - started, error: failure };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

function checkDatabase(config: AppConfig, deep: boolean): Promise<CheckResult> {
  return timed("database", async () => {
    const http = connectHttp(config).execute(sql`select 1`);
    if (!deep) {
      await http;
      return;
    }
    // Both ways in: HTTP (every request) and the WebSocket pool (ingestion, interactive writes).
    const database = connect(config, { max: 1 });
    try {
      await Promise.all([http, database.db.execute(sql`select 1`)]);
    } finally {
      await database.end();
    }
  });
}

function checkKv(env: Env, deep: boolean): Promise<CheckResult> {
  return timed("kv", async () => {
    if (!deep) {
      await env.CACHE.get(KV_PROBE_KEY);
      return;
    }
    // A fresh key each time: KV allows one write per second per key.
    const key = `health:${crypto.randomUUID()}`;
    await env.CACHE.put(key, "ok", { expirationTtl: 60 });
    const value = await env.CACHE.get(key);
    if (value !== "ok") throw new Error("value written was not read back");
  });
}

function checkQueues(env: Env, deep: boolean): Promise<CheckResult> {
  return timed("queues", async () => {
    const producers = [env.INGEST_QUEUE, env.INGEST_CHUNK_QUEUE, env.INGEST_INDEX_QUEUE, env.EMAIL_QUEUE];
    if (!deep) {
      if (producers.some((queue) => typeof queue?.send !== "function")) throw new Error("a queue binding is missing");
      return;
    }
    await Promise.all(producers.map((queue) => queue.send(HEALTH_QUEUE_MESSAGE)));
  });
}

export async function runHealthChecks(
  env: Env,
  config: AppConfig,
  options: { deep: boolean },
): Promise<Record<HealthCheckName, CheckResult>> {
  const [database, kv, r2, queues, durableObjects] = await Promise.all([
    checkDatabase(config, options.deep),
    checkKv(env, options.deep),
    timed("r2", async () => {
      await env.FILES.head("health/probe");
    }),
    checkQueues(env, options.deep),
    timed("durable_objects", async () => {
      const stub = env.UPLOAD_PROGRESS.get(env.UPLOAD_PROGRESS.idFromName("health"));
      const answer = await stub.ping();
      if (answer !== "pong") throw new Error("unexpected answer from the Durable Object");
    }),
  ]);
  return { database, kv, r2, queues, durable_objects: durableObjects };
}
