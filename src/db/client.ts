/**
 * Postgres access for one request (or one queue batch): a Neon `Pool` over WebSocket wrapped in
 * drizzle. Workers cannot keep sockets across requests, so each unit of work opens its own pool
 * and ends it when done (`ctx.waitUntil(database.end())`).
 */
import { neonConfig, Pool, type PoolClient } from "@neondatabase/serverless";
import { drizzle, type NeonDatabase } from "drizzle-orm/neon-serverless";
import type { AppConfig } from "../config.ts";
import { errorFields, log } from "../lib/log.ts";
import * as schema from "./schema.ts";

export type Db = NeonDatabase<typeof schema>;
/** A transaction handle; services accept `Db | Tx` through `Queryable` so they compose. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
export type Queryable = Db | Tx;

export interface Database {
  db: Db;
  pool: Pool;
  end(): Promise<void>;
}

let relayConfigured = "";

/** Points the Neon driver at the local WebSocket-to-TCP relay (development and tests only). */
function configureRelay(relay: string): void {
  if (!relay || relayConfigured === relay) return;
  neonConfig.wsProxy = (host, port) => `${relay}/v2?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
  relayConfigured = relay;
}

export function connect(
  config: Pick<AppConfig, "DATABASE_URL" | "PG_RELAY">,
  options: { max?: number } = {},
): Database {
  configureRelay(config.PG_RELAY);
  const pool = new Pool({
    connectionString: config.DATABASE_URL,
    max: options.max ?? 5,
    connectionTimeoutMillis: 10_000,
  });
  let ended: Promise<void> | undefined;
  // A socket dying must not crash the isolate; the query in flight or the next one reports it.
  // Once the pool is ending, the relay or Neon hanging up is the expected goodbye, not an error.
  const onError = (error: Error) => {
    if (!ended) log("warn", "postgres connection error", errorFields(error));
  };
  pool.on("error", onError);
  // A checked-out client (a transaction) has no pool listener: its socket dying would be an
  // uncaught exception. Its queries reject anyway, so the event only needs to be heard.
  pool.on("connect", (client: PoolClient) => client.on("error", onError));
  return {
    db: drizzle({ client: pool, schema }),
    pool,
    end() {
      ended ??= pool.end().catch((error: unknown) => log("warn", "postgres pool end failed", errorFields(error)));
      return ended;
    },
  };
}

/** Postgres error codes worth telling apart from bugs. */
export const PG_UNIQUE_VIOLATION = "23505";
export const PG_FOREIGN_KEY_VIOLATION = "23503";

export function pgErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 4; depth++) {
    if (typeof current === "object" && current !== null && "code" in current) {
      const code = (current as { code: unknown }).code;
      if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    }
    current = typeof current === "object" && current !== null && "cause" in current ? current.cause : undefined;
  }
  return undefined;
}

/** True for errors that mean "the database could not be reached", as opposed to a bad query. */
export function isConnectionError(error: unknown): boolean {
  const code = pgErrorCode(error);
  if (code?.startsWith("08") || code === "57P01" || code === "57P03" || code === "53300") return true;
  const message = error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : String(error);
  return /connect|ECONNREFUSED|WebSocket|socket|timeout|terminated/i.test(message) && !code;
}
