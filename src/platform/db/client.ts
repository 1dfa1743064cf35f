/**
 * Postgres access. Two ways in, chosen by what the work needs:
 *
 * - `connectHttp`: Neon's SQL-over-HTTP API (`neon()` + drizzle `neon-http`). One HTTPS request per
 *   query, or per `db.batch([...])`, which runs as one non-interactive transaction. There is no
 *   connection to open and no password exchange, so a query costs exactly one round trip to the
 *   database region. The request path uses this: every read is one round trip, every write two
 *   (read the facts, then one batch that re-checks them under a row lock and writes).
 * - `connect`: a Neon `Pool` over WebSocket. Opening it costs a handshake and a password exchange
 *   (several round trips), but it holds interactive transactions. Queue consumers (ingestion,
 *   email) and the few request-path writes that need an interactive transaction use it.
 *   Workers cannot keep sockets across requests, so each unit of work opens its own pool and ends
 *   it when done (`ctx.waitUntil(database.end())`).
 */
import { neon, neonConfig, Pool, type PoolClient } from "@neondatabase/serverless";
import { drizzle as drizzleHttp, type NeonHttpDatabase } from "drizzle-orm/neon-http";
import { drizzle, type NeonDatabase } from "drizzle-orm/neon-serverless";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type { AppConfig } from "../config/config.ts";
import { errorFields, log } from "../lib/log.ts";
import * as schema from "./schema.ts";

export type Schema = typeof schema;
/**
 * The request path's database (HTTP). `transaction` is left out on purpose: neon-http has no
 * interactive transactions (it throws at run time), so asking for one is a compile error here.
 */
export type Db = Omit<NeonHttpDatabase<Schema>, "transaction">;
/** A WebSocket pool's database, for interactive transactions. */
export type PoolDb = NeonDatabase<Schema>;
/** A transaction handle of a `PoolDb`. */
export type Tx = Parameters<Parameters<PoolDb["transaction"]>[0]>[0];
/** Anything a read or a single statement can run on: the HTTP database, a pool or a transaction. */
export type Queryable = Omit<PgDatabase<PgQueryResultHKT, Schema>, "transaction">;

export interface Database {
  db: PoolDb;
  pool: Pool;
  end(): Promise<void>;
}

let httpConfigured = "";

/**
 * Points the Neon driver's HTTP mode at the local SQL-over-HTTP endpoint (development and tests
 * only; in production `PG_HTTP` is empty and the driver derives Neon's endpoint from the host).
 */
function configureHttp(endpoint: string): void {
  if (!endpoint || httpConfigured === endpoint) return;
  neonConfig.fetchEndpoint = () => `http://${endpoint}/sql`;
  httpConfigured = endpoint;
}

/**
 * The connection string with `statement_timeout` as a startup option (`options=-c ...`), so
 * Postgres itself cancels any statement running longer (SQLSTATE 57014), on both ways in and at
 * no extra round trip: the option travels in the connection's startup message (the HTTP endpoint
 * opens its connections with the same string). Any `options` already present are kept.
 */
export function withStatementTimeout(url: string, timeoutMs: number): string {
  const parsed = new URL(url);
  const existing = parsed.searchParams.get("options");
  const option = `-c statement_timeout=${timeoutMs}`;
  parsed.searchParams.set("options", existing ? `${existing} ${option}` : option);
  return parsed.toString();
}

const httpDatabases = new Map<string, Db>();

/**
 * The request path's database over HTTP. Nothing to end: each query is its own request, so one
 * instance per connection string serves every request of the isolate (it holds no socket or
 * stream, only how to build and send queries; building it walks the whole schema).
 */
export function connectHttp(config: Pick<AppConfig, "DATABASE_URL" | "PG_HTTP" | "STATEMENT_TIMEOUT_MS">): Db {
  configureHttp(config.PG_HTTP);
  const url = withStatementTimeout(config.DATABASE_URL, config.STATEMENT_TIMEOUT_MS);
  let db = httpDatabases.get(url);
  if (!db) {
    db = drizzleHttp({ client: neon(url), schema });
    httpDatabases.set(url, db);
  }
  return db;
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

/** A WebSocket pool: interactive transactions, at the price of a connection per unit of work. */
export function connect(
  config: Pick<AppConfig, "DATABASE_URL" | "PG_RELAY" | "STATEMENT_TIMEOUT_MS">,
  options: { max?: number; statementTimeoutMs?: number } = {},
): Database {
  configureRelay(config.PG_RELAY);
  const pool = new Pool({
    connectionString: withStatementTimeout(
      config.DATABASE_URL,
      options.statementTimeoutMs ?? config.STATEMENT_TIMEOUT_MS,
    ),
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
/** A statement cancelled, here by `statement_timeout`. */
export const PG_QUERY_CANCELED = "57014";
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
