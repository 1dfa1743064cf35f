/**
 * `npm run bench:load [-- --url http://localhost:8787 --duration 60 --clients 50 --rows 500000]`
 *
 * Mixed load against a running API (`npm run dev`): `--clients` concurrent clients, each logged in
 * as its own user, run a weighted mix for `--duration` seconds — task lists (filters, ordering,
 * pages), details, reports (status JSON/CSV, overdue, per-day), task creates, updates, completes,
 * (un)assigns, deletes and comments, row queries (filters, sort, search, cursor walks) over each
 * user's own small completed upload, and progress reads of one big ingestion that starts (its
 * `complete` call) when the window opens. Prints requests/s, p50/p95/p99 overall and per
 * operation, errors by status (any status an operation does not expect is an error; 5xx and
 * network failures are counted apart), and the ingestion's time and status; then, once the
 * ingestion has ended, verifies task counts, caches and the ingested rows (lib/load-verify.ts).
 * Exits 1 on any error, 5xx, anomaly or failed check.
 *
 * Rate limits (wrangler.toml): 600 requests per 60 s per user, so every client has its own user
 * and a client-side pacer keeps each user at ≤ 580 per sliding minute (waits are reported, never
 * timed); auth requests (30 per minute per IP) each send their own `CF-Connecting-IP`, as
 * `clientIp` in test/support/http.ts does. Uploads are private to their owner, so the ingestion's progress is read
 * with its owner's token, and those reads share that one user's budget.
 *
 * `--rows` (default 500,000, about 200 MB, generated once into bench-data/ and reused): alone it
 * ingests in about 12 s on this 2-core machine (README: 44,000 rows/s), under the load at roughly
 * 11,000–15,000 rows/s, so it runs through most of a 60 s window. Its parts are PUT to R2 during
 * setup (not measured); the window opens with its `complete` call. Setup also creates `--tasks-per-user` tasks per user and one `--upload-rows`-row
 * upload per user (waited for, indexes included), so nothing but the ingestion runs in the
 * background of the window. Absolute figures depend on what else runs on the machine.
 */
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Command, InvalidArgumentError } from "commander";
import pg from "pg";
import { createApiClient } from "../client/index.ts";
import { integer, ms, percentile, perSecond, seconds, table, wholeNumber } from "./lib/bench-stats.ts";
import { devDatabaseUrl } from "./lib/dev-state.ts";
import { Recorder, send } from "./lib/load-http.ts";
import { type ClientState, clientStates, type LoadContext, OPS, runClient } from "./lib/load-mix.ts";
import { type Fixture, setup } from "./lib/load-setup.ts";
import {
  type Check,
  checkCaches,
  checkIngestion,
  checkReportsAgree,
  checkTaskCounts,
  readPairs,
} from "./lib/load-verify.ts";
import { BENCH_DIR } from "./lib/paths.ts";
import { runMain } from "./lib/run-main.ts";
import { isTerminal, type UploadDetails } from "./lib/upload-client.ts";

interface Options {
  url: string;
  duration: number;
  clients: number;
  rows: number;
  tasksPerUser: number;
  uploadRows: number;
  checkRate: number;
  ingestTimeout: number;
}

const share = (value: string) => {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError("a number from 0 to 1");
  return n;
};

const program = new Command()
  .name("npm run bench:load --")
  .description("Mixed load (tasks, reports, row queries, one ingestion) against `npm run dev`, then exact checks.")
  .option("--url <url>", "the API origin (or $EDGE_TASKS_API)", process.env.EDGE_TASKS_API ?? "http://localhost:8787")
  .option("--duration <s>", "length of the measured window in seconds", wholeNumber(1), 60)
  .option("--clients <n>", "concurrent clients, one user each", wholeNumber(1), 50)
  .option("--rows <n>", "rows of the CSV ingested during the window", wholeNumber(1), 500_000)
  .option("--tasks-per-user <n>", "tasks each user creates before the window", wholeNumber(1), 4)
  .option("--upload-rows <n>", "rows of each user's small upload for the row queries", wholeNumber(1), 2000)
  .option("--check-rate <p>", "share of writes read back at once through the cache", share, 0.5)
  .option("--ingest-timeout <s>", "how long to wait for the ingestion after the window", wholeNumber(1), 900)
  .showHelpAfterError();

const out = (line = "") => process.stdout.write(`${line}\n`);

interface IngestRun {
  completeStatus: number;
  completeMs: number;
  /** Seconds from the window's start to the first terminal status seen (1 s polling). */
  endedAfterMs: number | null;
  details: UploadDetails | null;
}

/** Opens the ingestion (the `complete` call is measured) and polls its details until it ends. */
async function runIngestion(ctx: LoadContext, t0: number, timeoutMs: number): Promise<IngestRun> {
  const { ingest } = ctx.fixture;
  const route = `/csv-data/uploads/${ingest.uploadId}/complete/`;
  await ingest.owner.pacer.take();
  const reply = await send(ctx.origin, route, { token: ingest.owner.token, json: { parts: ingest.parts } });
  ctx.recorder.record("ingest.complete", route, reply, [202]);
  const run: IngestRun = { completeStatus: reply.status, completeMs: reply.ms, endedAfterMs: null, details: null };
  if (reply.status !== 202) return run;
  const owner = createApiClient(ctx.origin, ingest.owner.token);
  while (performance.now() - t0 < timeoutMs) {
    await sleep(1000);
    // Not part of the mix: the harness's own watch, paced inside the owner's budget.
    await ingest.owner.pacer.take();
    const polled = await owner.GET("/api/v1/csv-data/uploads/{id}/", { params: { path: { id: ingest.uploadId } } });
    if (!polled.data) continue;
    run.details = polled.data;
    if (isTerminal(run.details.status)) {
      run.endedAfterMs = performance.now() - t0;
      break;
    }
  }
  return run;
}

function printLoad(recorder: Recorder, elapsedMs: number, clients: ClientState[]): void {
  const latency = recorder.latency();
  const all = recorder.statuses();
  const errors = recorder.statuses("errors");
  const fiveXx = [...all].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
  const network = all.get(0) ?? 0;
  const list = (m: Map<number, number>) =>
    [...m].map(([s, n]) => `${s === 0 ? "network" : s}×${n}`).join(", ") || "none";
  out();
  out("== load ==");
  out(
    `requests   ${integer(recorder.total)} in ${seconds(elapsedMs)} = ${perSecond(recorder.total, elapsedMs).toFixed(1)} req/s`,
  );
  out(`latency    p50 ${ms(latency.p50)}  p95 ${ms(latency.p95)}  p99 ${ms(latency.p99)}  max ${ms(latency.max)}`);
  out(`statuses   ${list(all)}`);
  out(`errors     ${integer(recorder.errorCount())} (${list(errors)}); 5xx ${fiveXx}; network ${network}`);
  out(`anomalies  ${recorder.anomalies.length} (stale or lost writes seen by read-your-writes checks)`);
  const waits = clients.reduce((n, c) => n + c.account.pacer.waits, 0);
  const waited = clients.reduce((n, c) => n + c.account.pacer.waitedMs, 0);
  out(`pacing     ${waits} waits for the per-user limit (${seconds(waited)} in total, not timed)`);
  out();
  const order = [
    ...OPS.map((op) => op.name),
    "tasks.detail.after-write",
    "tasks.detail.after-delete",
    "ingest.complete",
  ];
  const rows = [...recorder.ops].sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
  out(
    table([
      ["operation", "n", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "statuses", "X-Cache H/M/B"],
      ...rows.map(([name, stats]) => {
        const sorted = [...stats.times].sort((a, b) => a - b);
        const at = (p: number) => percentile(sorted, p).toFixed(0);
        const cache = stats.cache.size
          ? `${stats.cache.get("HIT") ?? 0}/${stats.cache.get("MISS") ?? 0}/${stats.cache.get("BYPASS") ?? 0}`
          : "-";
        return [
          name,
          integer(stats.times.length),
          perSecond(stats.times.length, elapsedMs).toFixed(1),
          at(50),
          at(95),
          at(99),
          at(100),
          String(stats.errors),
          [...stats.statuses].map(([s, n]) => `${s}×${n}`).join(" "),
          cache,
        ];
      }),
    ]),
  );
  for (const [name, stats] of recorder.ops) for (const sample of stats.samples) out(`  ${name}: ${sample}`);
  for (const anomaly of recorder.anomalies.slice(0, 20)) out(`  ANOMALY ${anomaly.op}: ${anomaly.detail}`);
}

function printIngestion(fixture: Fixture, run: IngestRun, windowMs: number): void {
  const { ingest } = fixture;
  const d = run.details;
  out();
  out("== ingestion (one upload, started as the window opened) ==");
  out(`file        ${path.basename(ingest.file)}: ${integer(ingest.rows)} rows, ${(ingest.bytes / 1e6).toFixed(1)} MB`);
  out(`complete    HTTP ${run.completeStatus} in ${ms(run.completeMs)}`);
  out(`status      ${d?.status ?? "unknown"}${d?.error ? ` (${d.error})` : ""}`);
  if (run.endedAfterMs !== null) {
    out(
      `time        ${seconds(run.endedAfterMs)} from the window's start to ${d?.status} (1 s polling); ${run.endedAfterMs <= windowMs ? "inside" : "after"} the ${seconds(windowMs)} window`,
    );
  } else out("time        did not end before --ingest-timeout");
  if (d?.started_at && d.completed_at) {
    const serverMs = Date.parse(d.completed_at) - Date.parse(d.started_at);
    out(
      `server      started_at → completed_at ${seconds(serverMs)}, ${integer(perSecond(d.total_rows, serverMs))} rows/s`,
    );
  }
}

function printCheck(check: Check): void {
  out(`${check.pass ? "PASS" : "FAIL"} ${check.name}`);
  out(`     ${check.summary}`);
  for (const failure of check.failures.slice(0, 15)) out(`     - ${failure}`);
  if (check.failures.length > 15) out(`     … and ${check.failures.length - 15} more`);
}

async function main(): Promise<number> {
  const options = program.parse().opts<Options>();
  const origin = options.url.replace(/\/$/, "");
  const health = await createApiClient(origin)
    .GET("/api/v1/health-check/")
    .catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
  const status = typeof health === "string" ? health : health.response.status;
  if (status !== 200) throw new Error(`${origin} health check answered ${status}: start \`npm run dev\` first`);

  const db = new pg.Client({ connectionString: devDatabaseUrl() });
  await db.connect();
  try {
    out(`bench:load against ${origin}: ${options.clients} clients, ${options.duration} s`);
    out(
      "limits: 600 requests / 60 s per user (each client its own user, paced at ≤ 580); auth 30 / 60 s per IP (a fresh CF-Connecting-IP per auth request)",
    );
    const fixture = await setup(
      {
        origin,
        clients: options.clients,
        rows: options.rows,
        tasksPerUser: options.tasksPerUser,
        uploadRows: options.uploadRows,
        log: out,
      },
      db,
    );
    const clients = clientStates(fixture);
    const recorder = new Recorder();
    const ctx: LoadContext = {
      origin,
      recorder,
      fixture,
      checkRate: options.checkRate,
      ingestPacer: fixture.ingest.owner.pacer,
    };

    const windowMs = options.duration * 1000;
    const loadBefore = os.loadavg()[0] ?? 0;
    out(`window: ${options.duration} s … (load average ${loadBefore.toFixed(1)} on ${os.cpus().length} CPUs)`);
    const t0 = performance.now();
    const deadline = Date.now() + windowMs;
    const ingestion = runIngestion(ctx, t0, windowMs + options.ingestTimeout * 1000);
    const ticker = setInterval(() => {
      out(
        `  ${seconds(performance.now() - t0)}: ${integer(recorder.total)} requests, ${recorder.errorCount()} errors, ${recorder.anomalies.length} anomalies`,
      );
    }, 10_000);
    await Promise.all(clients.map((client) => runClient(ctx, client, deadline)));
    clearInterval(ticker);
    const elapsedMs = performance.now() - t0;
    // Other work on the machine shows here: the figures are only comparable at similar load.
    out(`load average ${loadBefore.toFixed(1)} before the window, ${(os.loadavg()[0] ?? 0).toFixed(1)} at its end`);
    printLoad(recorder, elapsedMs, clients);

    out();
    out("waiting for the ingestion to end …");
    const run = await ingestion;
    printIngestion(fixture, run, windowMs);

    out();
    out("== verification ==");
    const counts = await checkTaskCounts(origin, db, clients);
    const pairs = await readPairs(origin, clients);
    const checks = [counts, checkCaches(pairs), await checkIngestion(origin, db, fixture), checkReportsAgree(pairs)];
    for (const check of checks) printCheck(check);

    const fiveXx = [...recorder.statuses()].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
    const failed = checks.filter((c) => !c.pass).length;
    const ok = recorder.errorCount() === 0 && fiveXx === 0 && recorder.anomalies.length === 0 && failed === 0;
    await writeFile(
      path.join(BENCH_DIR, "last-load.json"),
      `${JSON.stringify(
        {
          recordedAt: new Date().toISOString(),
          options,
          requests: recorder.total,
          elapsedMs,
          requestsPerSecond: perSecond(recorder.total, elapsedMs),
          latency: recorder.latency(),
          statuses: Object.fromEntries(recorder.statuses()),
          errors: recorder.errorCount(),
          anomalies: recorder.anomalies,
          ingestion: {
            status: run.details?.status,
            endedAfterMs: run.endedAfterMs,
            totalRows: run.details?.total_rows,
          },
          checks: checks.map((c) => ({ name: c.name, pass: c.pass, summary: c.summary, failures: c.failures })),
        },
        null,
        2,
      )}\n`,
    );
    out();
    out(
      ok
        ? "OK: 0 errors, 0 5xx, 0 anomalies, every check passed"
        : `NOT OK: ${recorder.errorCount()} errors, ${fiveXx} 5xx, ${recorder.anomalies.length} anomalies, ${failed} failed check(s)`,
    );
    return ok ? 0 : 1;
  } finally {
    await db.end();
  }
}

runMain("bench:load", main);
