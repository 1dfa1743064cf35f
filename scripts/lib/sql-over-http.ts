/**
 * SQL-over-HTTP server standing in for Neon's HTTP query endpoint in development and tests (Neon's
 * own proxy needs Docker). It speaks exactly what `neon()` from `@neondatabase/serverless` 1.2.0
 * sends and expects (its `execute` and `processQueryResult`), and follows Neon's proxy
 * (proxy/src/serverless/sql_over_http.rs) where the driver leaves room:
 *
 * - `POST /sql`, body `{query, params}` → `{rowAsArray, fields, rows, command, rowCount}`; body
 *   `{queries: [...]}` → `{results: [...]}`, all statements in ONE transaction
 *   (`Neon-Batch-Isolation-Level`, `-Read-Only`, `-Deferrable`), rolled back on any error.
 * - Values leave as Postgres text (the driver parses them with its own type parsers), params arrive
 *   as text or null and go to Postgres untouched. Every statement uses the extended protocol, as
 *   Neon's does, so a query holding two statements fails here as it fails there.
 * - A Postgres error is a 400 with the error's fields; anything else that keeps the query from
 *   Postgres (refused, timed out, connection lost) is a 500 whose text says "could not connect" or
 *   "connection was lost": the driver surfaces it as "Server error (HTTP status 500): …", which the
 *   product's `isConnectionError` must recognise.
 *
 * Connections are pooled per connection string, like Neon's proxy pools them: at most 20 each,
 * 15 s to get one, idle ones closed after a minute. A connection that ends a request outside an
 * idle session (a failed transaction, a lost socket, a stray BEGIN) is discarded, never reused.
 * Only loopback targets are accepted: this is a development tool, not an open proxy.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import pg from "pg";
import { type Fault, FaultInjector, type FaultState } from "./fault-injector.ts";
import { listenOn } from "./listen.ts";

export interface SqlOverHttpOptions {
  host?: string;
  /** Connections per connection string (Neon's proxy pools 20 per endpoint). */
  maxClientsPerDatabase?: number;
  /** Longest wait for a connection, queueing for a pooled one included (Neon: 15 s). */
  connectTimeoutMs?: number;
  /** Idle pooled connections are closed after this long. */
  idleTimeoutMs?: number;
  /** Postgres's own statement_timeout on every pooled connection: a runaway query ends as 57014. */
  statementTimeoutMs?: number;
  /** Larger request bodies are refused with 413 (Neon's own limit is 10 MiB). */
  maxRequestBytes?: number;
  /** Larger answers fail with 507 and roll the batch back, as Neon's do (Neon: 10 MiB). */
  maxResponseBytes?: number;
}

/**
 * A database outage for tests on this path, shaped like the relay's `RelayFault` and likewise
 * scoped to the traffic of one object so the rest of a parallel suite keeps its database: the
 * first `skip` requests whose statements (query texts and params) contain every string of
 * `trigger` pass; the next one fails; then for `outageMs` every request mentioning `scope` fails
 * the same way (`scope: ""` matches every request: the whole database goes away).
 *
 * `at` says where the triggering request fails: `"connect"` (default) answers as an unreachable
 * database, and nothing of it runs; `"answer"` runs it (a batch commits) and then drops the socket
 * without an answer, as when the network fails on the way back, so the caller cannot know whether
 * its write happened. Requests inside the outage window always fail at connect.
 */
export interface SqlOverHttpFault extends Fault {
  at?: "connect" | "answer";
}

export type SqlOverHttpFaultState = FaultState;

export interface SqlOverHttpStats {
  requests: number;
  /**
   * Requests by the connection string's `application_name`: a test gives its calls a name of
   * their own and counts exactly their round trips, whatever else the suite runs meanwhile.
   */
  byApplication: Record<string, number>;
  /** Connections open to Postgres / of them idle in a pool / requests waiting for one. */
  clients: number;
  idle: number;
  waiting: number;
}

export interface SqlOverHttp {
  port: number;
  /** "127.0.0.1:PORT", what `PG_HTTP` holds: the driver's endpoint is `http://${address}/sql`. */
  address: string;
  stats(): SqlOverHttpStats;
  /** Arms a fault; returns its id for `fault(id)`. */
  injectFault(fault: SqlOverHttpFault): number;
  fault(id: number): SqlOverHttpFaultState | undefined;
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);
const MiB = 1024 * 1024;
/** The four levels the driver may send in `Neon-Batch-Isolation-Level`, as SQL. */
const ISOLATION_LEVELS: Record<string, string> = {
  ReadUncommitted: "READ UNCOMMITTED",
  ReadCommitted: "READ COMMITTED",
  RepeatableRead: "REPEATABLE READ",
  Serializable: "SERIALIZABLE",
};
/** The driver's `hi` list: the fields it copies from a 400 body onto its NeonDbError. */
const ERROR_FIELDS = [
  "severity",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;
/** Every value stays Postgres text: the driver runs its own type parsers on the answer. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

/** An answer other than 200, with the JSON body Neon's proxy would send. */
class HttpFailure extends Error {
  readonly status: number;
  readonly fields: Partial<Record<(typeof ERROR_FIELDS)[number], unknown>>;

  constructor(status: number, message: string, fields: HttpFailure["fields"] = {}) {
    super(message);
    this.status = status;
    this.fields = fields;
  }

  body(): Record<string, unknown> {
    const body: Record<string, unknown> = { message: this.message };
    for (const field of ERROR_FIELDS) body[field] = this.fields[field] ?? null;
    return body;
  }
}

function describe(error: unknown): string {
  if (error instanceof AggregateError && !error.message) {
    // Node's connect error when "localhost" resolves to several addresses has no message of its own.
    return error.errors.map(describe).join("; ") || String((error as { code?: string }).code ?? error);
  }
  if (error instanceof Error) return error.message || String((error as { code?: string }).code ?? error.name);
  return String(error);
}

function postgresFailure(error: pg.DatabaseError): HttpFailure {
  const fields: Record<string, unknown> = {};
  for (const field of ERROR_FIELDS) fields[field] = error[field];
  return new HttpFailure(400, error.message, fields);
}

const unreachable = (reason: string) => new HttpFailure(500, `could not connect to the database: ${reason}`);
const connectionLost = (error: unknown) => new HttpFailure(500, `the database connection was lost: ${describe(error)}`);

// ---- the request ---------------------------------------------------------------------------------

interface Statement {
  query: string;
  params: (string | null)[];
  arrayMode: boolean | undefined;
}

interface Batch {
  begin: string;
  /** Echoed on the answer, as Neon's proxy does. */
  headers: Record<string, string>;
}

/** A param as Neon's proxy turns JSON into Postgres text (proxy/src/serverless/json.rs). */
function paramText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return `{${value.map(arrayItemText).join(",")}}`;
  return JSON.stringify(value);
}

function arrayItemText(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (Array.isArray(value)) return `{${value.map(arrayItemText).join(",")}}`;
  if (typeof value === "object") return JSON.stringify(JSON.stringify(value));
  return JSON.stringify(value);
}

function parseStatement(value: unknown): Statement {
  const data = value as { query?: unknown; params?: unknown; arrayMode?: unknown } | null;
  if (!data || typeof data.query !== "string") throw new HttpFailure(400, "each query needs a string `query`");
  if (data.params !== undefined && !Array.isArray(data.params)) throw new HttpFailure(400, "`params` must be an array");
  return {
    query: data.query,
    params: ((data.params as unknown[] | undefined) ?? []).map(paramText),
    arrayMode: typeof data.arrayMode === "boolean" ? data.arrayMode : undefined,
  };
}

function parsePayload(body: Buffer): Statement[] | { batch: Statement[] } {
  let payload: unknown;
  try {
    payload = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new HttpFailure(400, `request body is not JSON: ${describe(error)}`);
  }
  const queries = (payload as { queries?: unknown } | null)?.queries;
  if (Array.isArray(queries)) return { batch: queries.map(parseStatement) };
  return [parseStatement(payload)];
}

function parseBatchHeaders(request: IncomingMessage): Batch {
  const headers: Record<string, string> = {};
  let begin = "BEGIN";
  const level = request.headers["neon-batch-isolation-level"];
  if (typeof level === "string") {
    const sql = ISOLATION_LEVELS[level];
    if (!sql) throw new HttpFailure(400, "invalid isolation level");
    begin += ` ISOLATION LEVEL ${sql}`;
    headers["Neon-Batch-Isolation-Level"] = level;
  }
  // Like Neon's proxy: anything but exactly "true" means false.
  if (request.headers["neon-batch-read-only"] === "true") {
    begin += " READ ONLY";
    headers["Neon-Batch-Read-Only"] = "true";
  }
  if (request.headers["neon-batch-deferrable"] === "true") {
    begin += " DEFERRABLE";
    headers["Neon-Batch-Deferrable"] = "true";
  }
  return { begin, headers };
}

interface Target {
  key: string;
  config: pg.PoolConfig;
}

/**
 * The Postgres to connect to, from `Neon-Connection-String`. Only what names the database is kept:
 * TLS settings (`sslmode=require` in a Neon URL) concern Neon's proxy, not a loopback socket.
 */
function parseTarget(header: string | string[] | undefined): Target {
  if (typeof header !== "string" || !header) throw new HttpFailure(400, "missing Neon-Connection-String header");
  let url: URL;
  try {
    url = new URL(header);
  } catch {
    throw new HttpFailure(400, "Neon-Connection-String is not a valid URL");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:")
    throw new HttpFailure(400, "Neon-Connection-String must be a postgres:// URL");
  const host = url.hostname.replace(/^\[|\]$/g, "");
  // `host`/`hostaddr` parameters would send the connection somewhere else (a socket, another host).
  if (!LOOPBACK.has(host) || url.searchParams.has("host") || url.searchParams.has("hostaddr"))
    throw new HttpFailure(400, "Neon-Connection-String must point at a loopback host");
  const user = decodeURIComponent(url.username);
  const config: pg.PoolConfig = {
    host,
    port: Number(url.port || 5432),
    user,
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.slice(1)) || user,
    application_name: url.searchParams.get("application_name") ?? undefined,
    // Session settings (`-c statement_timeout=...`), passed on in the startup message as Neon's
    // proxy does.
    options: url.searchParams.get("options") ?? undefined,
    ssl: false,
  };
  // The application name and options are part of the key: a pooled connection keeps what it was
  // opened with.
  const key = JSON.stringify([
    config.host,
    config.port,
    config.user,
    config.password,
    config.database,
    config.application_name,
    config.options,
  ]);
  return { key, config };
}

async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(request.headers["content-length"] ?? 0);
  const tooLarge = () => new HttpFailure(413, `request body is too large (max is ${limit} bytes)`);
  if (declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

// ---- faults --------------------------------------------------------------------------------------

// ---- running statements --------------------------------------------------------------------------

/** What the request knows about its client: whether it went away, and which backend to cancel. */
interface Exchange {
  aborted: boolean;
  onAbort?: () => void;
}

type Row = (string | null)[];

async function runStatement(client: pg.PoolClient, statement: Statement, defaultArrayMode: boolean) {
  const result = await client.query({
    text: statement.query,
    values: statement.params,
    rowMode: "array",
    types: RAW_TEXT,
    // Neon runs every statement through the extended protocol (tokio-postgres `query_raw_txt`).
    queryMode: "extended",
  } as pg.QueryArrayConfig & { queryMode: "extended" });
  const arrayMode = statement.arrayMode ?? defaultArrayMode;
  const names = result.fields.map((field) => field.name);
  const rows = result.rows as Row[];
  return {
    rowAsArray: arrayMode,
    fields: result.fields.map((field) => ({
      name: field.name,
      dataTypeID: field.dataTypeID,
      tableID: field.tableID,
      columnID: field.columnID,
      dataTypeSize: field.dataTypeSize,
      dataTypeModifier: field.dataTypeModifier,
      format: "text",
    })),
    rows: arrayMode ? rows : rows.map((row) => Object.fromEntries(row.map((value, i) => [names[i], value]))),
    command: result.command,
    rowCount: result.rowCount,
  };
}

/** Cancels the statement a backend is running, from a connection of its own (the pool may be full). */
async function cancelBackend(config: pg.PoolConfig, pid: number | undefined): Promise<void> {
  if (!pid) return;
  const client = new pg.Client({ ...config, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query("select pg_cancel_backend($1)", [pid]);
  } finally {
    await client.end().catch(() => {});
  }
}

// ---- the server ----------------------------------------------------------------------------------

export async function startSqlOverHttp(port = 0, options: SqlOverHttpOptions = {}): Promise<SqlOverHttp> {
  const host = options.host ?? "127.0.0.1";
  const maxRequestBytes = options.maxRequestBytes ?? 64 * MiB;
  const maxResponseBytes = options.maxResponseBytes ?? 64 * MiB;
  const pools = new Map<string, pg.Pool>();
  const faults = new FaultInjector<SqlOverHttpFault>();
  let requests = 0;
  const byApplication = new Map<string, number>();

  function poolFor(target: Target): pg.Pool {
    let pool = pools.get(target.key);
    if (!pool) {
      pool = new pg.Pool({
        ...target.config,
        max: options.maxClientsPerDatabase ?? 20,
        connectionTimeoutMillis: options.connectTimeoutMs ?? 15_000,
        idleTimeoutMillis: options.idleTimeoutMs ?? 60_000,
        // A startup parameter would override the client's own `-c statement_timeout` option.
        statement_timeout: target.config.options?.includes("statement_timeout")
          ? undefined
          : (options.statementTimeoutMs ?? 120_000),
        keepAlive: true,
      });
      // An idle connection that dies (Postgres restarted) is dropped by the pool; without a
      // listener its error would crash the process.
      pool.on("error", () => {});
      pools.set(target.key, pool);
    }
    return pool;
  }

  async function acquire(pool: pg.Pool): Promise<pg.PoolClient> {
    try {
      return await pool.connect();
    } catch (error) {
      // Wrong password or no such database: the caller's mistake, a 400 like any Postgres error.
      if (error instanceof pg.DatabaseError && /^(28|3D)/.test(error.code ?? "")) throw postgresFailure(error);
      throw unreachable(describe(error));
    }
  }

  async function execute(
    target: Target,
    payload: Statement[] | { batch: Statement[] },
    batch: Batch | undefined,
    arrayMode: boolean,
    exchange: Exchange,
  ): Promise<unknown> {
    const client = await acquire(poolFor(target));
    const pid = (client as unknown as { processID?: number }).processID;
    let discard = false;
    exchange.onAbort = () => {
      // Never pooled again: a cancel that lands late must not hit the next request's statement.
      discard = true;
      void cancelBackend(target.config, pid).catch(() => {});
    };
    let responseBytes = 0;
    const run = async (statement: Statement) => {
      if (exchange.aborted) throw new HttpFailure(499, "the client went away");
      const result = await runStatement(client, statement, arrayMode);
      // Neon's proxy counts the answer as it builds it; past the limit a batch rolls back.
      responseBytes += Buffer.byteLength(JSON.stringify(result.rows));
      if (responseBytes > maxResponseBytes)
        throw new HttpFailure(507, `response is too large (max is ${maxResponseBytes} bytes)`);
      return result;
    };
    try {
      if (Array.isArray(payload)) return await run(payload[0] as Statement);
      await client.query(batch?.begin ?? "BEGIN");
      try {
        const results = [];
        for (const statement of payload.batch) results.push(await run(statement));
        // A client that went away gets nothing committed: it could not learn the outcome anyway.
        if (exchange.aborted) throw new HttpFailure(499, "the client went away");
        await client.query("COMMIT");
        return { results };
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {
          discard = true;
        });
        throw error;
      }
    } catch (error) {
      if (error instanceof HttpFailure) throw error;
      if (error instanceof pg.DatabaseError) throw postgresFailure(error);
      discard = true;
      throw connectionLost(error);
    } finally {
      exchange.onAbort = undefined;
      // Only a connection back in an idle session is safe for the next request (Neon's check_idle).
      if (client.getTransactionStatus() !== "I") discard = true;
      client.release(discard);
    }
  }

  async function handle(request: IncomingMessage, response: ServerResponse, exchange: Exchange): Promise<void> {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (exchange.aborted || response.headersSent) return;
      response.writeHead(status, { "content-type": "application/json", ...headers });
      response.end(JSON.stringify(body));
    };
    const path = (request.url ?? "/").split("?")[0];
    if (path === "/stats" && request.method === "GET") {
      send(200, stats());
      return;
    }
    if (path !== "/sql") {
      send(404, { message: "not found: the endpoint is POST /sql" });
      return;
    }
    try {
      if (request.method !== "POST") throw new HttpFailure(405, "the endpoint is POST /sql");
      requests++;
      const target = parseTarget(request.headers["neon-connection-string"]);
      const application = target.config.application_name ?? "";
      byApplication.set(application, (byApplication.get(application) ?? 0) + 1);
      // The driver always asks for raw text; converting to JSON types (Neon's other mode) is not built.
      if (request.headers["neon-raw-text-output"] !== "true")
        throw new HttpFailure(400, "this stand-in answers only Neon-Raw-Text-Output: true");
      const arrayMode = request.headers["neon-array-mode"] === "true";
      const payload = parsePayload(await readBody(request, maxRequestBytes));
      const batch = Array.isArray(payload) ? undefined : parseBatchHeaders(request);
      const statements = Array.isArray(payload) ? payload : payload.batch;
      const text = statements.map((s) => [s.query, ...s.params].join("\n")).join("\n");
      const failing = faults.failing((part) => text.includes(part));
      // Only the triggering request may fail on the way back; inside the outage all fail at connect.
      const failure = failing && (failing.triggered ? (failing.fault.at ?? "connect") : "connect");
      if (failure === "connect") throw unreachable("connection refused (fault injected by a test)");
      const result = await execute(target, payload, batch, arrayMode, exchange);
      if (failure === "answer") {
        // The work is done (committed); the answer is lost on the way back.
        response.destroy();
        return;
      }
      send(200, result, batch?.headers);
    } catch (error) {
      if (error instanceof HttpFailure) {
        // Refused before reading it all: do not keep the connection for the rest of a huge body.
        send(error.status, error.body(), error.status === 413 ? { connection: "close" } : {});
      } else {
        send(500, new HttpFailure(500, `internal error: ${describe(error)}`).body());
      }
    }
  }

  function stats(): SqlOverHttpStats {
    const all = [...pools.values()];
    const sum = (pick: (pool: pg.Pool) => number) => all.reduce((total, pool) => total + pick(pool), 0);
    return {
      requests,
      byApplication: Object.fromEntries(byApplication),
      clients: sum((pool) => pool.totalCount),
      idle: sum((pool) => pool.idleCount),
      waiting: sum((pool) => pool.waitingCount),
    };
  }

  const server: Server = createServer((request, response) => {
    const exchange: Exchange = { aborted: false };
    // The client hung up before its answer (a fetch aborted, a Worker's request ended): stop its
    // statement rather than let it run on, and commit nothing more for it.
    response.on("close", () => {
      if (response.writableFinished) return;
      exchange.aborted = true;
      exchange.onAbort?.();
    });
    void handle(request, response, exchange);
  });
  const boundPort = await listenOn(server, port, host);
  return {
    port: boundPort,
    address: `${host}:${boundPort}`,
    stats,
    injectFault: (fault) => faults.arm(fault),
    fault: (id) => faults.state(id),
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.all([...pools.values()].map((pool) => pool.end().catch(() => {})));
      pools.clear();
    },
  };
}
