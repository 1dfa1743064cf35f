/**
 * `npm run bench:query [-- --api http://localhost:8787 --runs 20 --timeout 900]`
 *
 * Measures the row query API over the 1M-row benchmark upload against a running API (`npm run dev`):
 * reuses the upload in `bench-data/last-upload.json` (or runs `bench:ingest` first), waits until
 * its per-upload indexes exist (reporting how long they took when observable), then times `--runs`
 * sequential requests (after 2 untimed warm-ups) of each query with `nocache=1`, wall clock at the
 * client (request → full body), and prints p50/p95. Every query whose p95 exceeds 50 ms is then
 * EXPLAIN ANALYZEd on the dev database with the SQL the service builds (the product's own
 * `parseRowQuery`, `whereClause` and `orderClause`), and the plan's key lines are printed.
 *
 * The API limits each user to 600 requests per 60 s; requests are paced to stay under it (the
 * waiting is never timed), so a 429 is never measured.
 */
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Command } from "commander";
import type { SQL } from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import pg from "pg";
import { partitionName } from "../src/features/uploads/ingest/partition-name.ts";
import { queriedKeys } from "../src/features/uploads/ingest/row-layout.ts";
import { parseRowQuery, type RowQuery } from "../src/features/uploads/rows/csv-data.query.ts";
import {
  afterPosition,
  cappedCountStatement,
  pageRowsStatement,
  type QueriedRows,
} from "../src/features/uploads/rows/csv-data.sql.ts";
import type { UploadColumn, UploadIndexKeys } from "../src/platform/db/schema.ts";
import { type ApiClient, ok, scriptClient } from "./lib/api.ts";
import { integer, ms, seconds, summarise, table, wholeNumber } from "./lib/bench-stats.ts";
import { benchLogin, type LastUpload, partitionIndexes, waitForIndexes } from "./lib/bench-upload.ts";
import { devDatabaseUrl } from "./lib/dev-state.ts";
import { LAST_UPLOAD_FILE, ROOT as root } from "./lib/paths.ts";
import { runMain } from "./lib/run-main.ts";
import { getUpload, type Session, type UploadDetails } from "./lib/upload-client.ts";

const out = (line = "") => process.stdout.write(`${line}\n`);
const TARGET_MS = 50;
/** csv-data.service.ts's EXACT_COUNT_LIMIT (that module needs Worker types, so it is not imported). */
const EXACT_COUNT_LIMIT = 10_000;
/** Below the API's 600 requests per 60 s per user, with room for the login and detail reads. */
const WINDOW_LIMIT = 540;
const WINDOW_MS = 60_000;

/** Keeps requests under the per-user limit: waits (untimed) before a request that would exceed it. */
class Pacer {
  private readonly stamps: number[] = [];
  async slot(): Promise<void> {
    for (;;) {
      const now = Date.now();
      while (this.stamps.length > 0 && (this.stamps[0] ?? 0) <= now - WINDOW_MS) this.stamps.shift();
      if (this.stamps.length < WINDOW_LIMIT) {
        this.stamps.push(now);
        return;
      }
      await sleep((this.stamps[0] ?? now) + WINDOW_MS - now + 5);
    }
  }
}

interface RowPage {
  count?: number;
  count_is_estimate?: boolean;
  results: { row_number: number; data: Record<string, unknown> }[];
  next_cursor?: string | null;
}

/**
 * The row listing through the typed client. The clock starts when a try is sent (the shared
 * client's `onAttempt`), so a 429 waited out as its `Retry-After` says is never timed, and stops
 * when the whole body has been read and parsed.
 */
class Client {
  private readonly pacer = new Pacer();
  private readonly client: ApiClient;
  private readonly uploadId: string;
  private started = 0;
  constructor(session: Session, uploadId: string) {
    this.uploadId = uploadId;
    this.client = scriptClient(session.api, session.token, {
      attempts: Number.POSITIVE_INFINITY,
      onAttempt: () => {
        this.started = performance.now();
      },
    });
  }

  /** One GET of the row listing (`query`: the query string as sent); the page and its time. */
  async rows(query: string): Promise<{ page: RowPage; ms: number }> {
    await this.pacer.slot();
    const page = await ok(
      this.client.GET("/api/v1/csv-data/uploads/{id}/data/", {
        params: { path: { id: this.uploadId } },
        headers: { Accept: "application/json" },
        // Column filters (`city=…`, `filter[amount][gte]=…`) are the upload's own: sent as written.
        querySerializer: () => query,
      }),
    );
    const elapsed = performance.now() - this.started;
    if (typeof page === "string") throw new Error(`GET data/?${query}: a CSV answer, not a JSON page`);
    return { page, ms: elapsed };
  }
}

interface Case {
  name: string;
  query: string;
}

interface Measured extends Case {
  times: number[];
  rows: number;
  count: string;
}

async function ensureUpload(origin: string, timeoutS: number): Promise<LastUpload> {
  const read = async () =>
    JSON.parse(await readFile(LAST_UPLOAD_FILE, "utf8").catch(() => "null")) as LastUpload | null;
  let last = await read();
  if (last?.rows !== 1_000_000 || last.status !== "completed" || last.api !== origin) {
    out("no completed 1M-row upload recorded for this API: running bench:ingest first (without the direct load)");
    const run = spawnSync(
      process.execPath,
      [path.join(root, "scripts/bench-ingest.ts"), "--api", origin, "--skip-direct", "--timeout", String(timeoutS)],
      { stdio: "inherit", cwd: root },
    );
    if (run.status !== 0) throw new Error("bench:ingest failed");
    last = await read();
    if (last?.status !== "completed") throw new Error("bench:ingest did not produce a completed upload");
  }
  return last;
}

const q = (params: Record<string, string>) => new URLSearchParams({ ...params, nocache: "1" }).toString();

/** The SQL the service runs for a query (the rows from csv-data.sql.ts, the count as listPage builds it), for EXPLAIN. */
function statementsFor(upload: QueriedRows, query: RowQuery, cursorRow: number | null): { label: string; sql: SQL }[] {
  const after =
    cursorRow === null
      ? null
      : (afterPosition(query.sort, { value: null, rowNumber: cursorRow }, upload.indexKeys)[0] ?? null);
  const limit = query.pagination === "cursor" ? query.pageSize + 1 : query.pageSize;
  const offset = query.pagination === "cursor" ? 0 : (query.page - 1) * query.pageSize;
  const rows = pageRowsStatement(upload, query, after, limit, offset);
  const statements = [{ label: "rows", sql: rows }];
  if (query.pagination === "page" && (query.filters.length > 0 || query.search)) {
    statements.push({
      label: "count",
      sql: cappedCountStatement(upload, query, EXACT_COUNT_LIMIT + 1),
    });
  }
  return statements;
}

/** The plan lines worth reading: nodes with their actual times, plus totals. */
function planDigest(lines: string[]): string[] {
  return lines.filter((line) =>
    /->|^\S|Index Cond|Filter:|Rows Removed|Recheck|Sort Method|Heap Blocks|Execution Time|Planning Time/.test(line),
  );
}

function cursorRowNumber(cursor: string): number | null {
  try {
    const body = cursor.split(".")[0] ?? "";
    const json = Buffer.from(body, "base64url").toString("utf8");
    return Number((JSON.parse(json) as { rowNumber: number }).rowNumber);
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const options = new Command()
    .name("npm run bench:query --")
    .description(
      "Row queries over the 1M-row benchmark upload against `npm run dev`: p50/p95, EXPLAIN of the slow ones.",
    )
    .option("--api <url>", "the API origin (or $EDGE_TASKS_API)", process.env.EDGE_TASKS_API ?? "http://localhost:8787")
    .option("--runs <n>", "timed requests of each query (after 2 untimed)", wholeNumber(1), 20)
    .option("--timeout <s>", "how long to wait for bench:ingest and for the indexes", wholeNumber(1), 900)
    .parse()
    .opts<{ api: string; runs: number; timeout: number }>();
  const origin = options.api.replace(/\/$/, "");
  const { runs } = options;
  const timeoutS = options.timeout;

  const last = await ensureUpload(origin, timeoutS);
  const session = await benchLogin(origin, last.email, last.password);
  const details: UploadDetails = await getUpload(session, last.uploadId);
  out(
    `upload ${details.id}: ${details.status}, ${integer(details.total_rows)} rows, ${details.columns.length} columns`,
  );
  if (details.status !== "completed") throw new Error(`upload is ${details.status}; run npm run bench:ingest again`);
  const columns: UploadColumn[] = details.columns.map((c) => ({ ...c, type: c.type as UploadColumn["type"] }));

  const db = new pg.Client({ connectionString: devDatabaseUrl() });
  await db.connect();
  try {
    const partition = partitionName(details.id);
    const before = (await partitionIndexes(db, partition)).filter((n) => n.startsWith("cr_")).length;
    const waitStarted = Date.now();
    const indexed = { id: details.id, columns, records: details.processed_rows };
    const wait = await waitForIndexes(db, indexed, timeoutS * 1000, (present, expected) =>
      out(`  waiting for indexes: ${present}/${expected}`),
    );
    const seen = wait.doneAt;
    if (seen === null) {
      throw new Error(
        `only ${wait.present}/${wait.expected} of the upload's indexes exist (${wait.stalled ? "the build stopped" : "timed out"})`,
      );
    }
    const names = await partitionIndexes(db, partition);
    const sizes = await db.query<{ total: string; indexes: string; table: string }>(
      "select pg_size_pretty(pg_total_relation_size($1::regclass)) as total, pg_size_pretty(pg_indexes_size($1::regclass)) as indexes, pg_size_pretty(pg_relation_size($1::regclass)) as table",
      [partition],
    );
    out(
      `indexes: ${names.length} on ${partition} (${names.join(", ")}); table ${sizes.rows[0]?.table}, indexes ${sizes.rows[0]?.indexes}`,
    );
    if (last.indexMs !== null)
      out(`index build (measured by bench:ingest, completed → all built + analysed): ${seconds(last.indexMs)}`);
    else if (before < wait.expected && details.completed_at) {
      out(`index build (completed → all built + analysed): ${seconds(seen - Date.parse(details.completed_at))}`);
    } else out(`index build: already done before this run (waited ${seconds(Date.now() - waitStarted)})`);

    const api = new Client(session, details.id);

    // A value present in the data for the filters: the most common city.
    const cityPosition = columns.findIndex((c) => c.key === "city");
    const city = await db.query<{ city: string }>(
      `select data->>$1::int as city from "${partition}" group by 1 order by count(*) desc limit 1`,
      [cityPosition],
    );
    const cityValue = city.rows[0]?.city ?? "North Haven";

    // Cursor at depth 900k: walk once with page_size 1000 (untimed).
    out("walking the cursor to depth 900,000 (page_size 1000, untimed)…");
    const walkStarted = performance.now();
    let cursor: string | null = null;
    let walked = 0;
    const walkTimes: number[] = [];
    while (walked < 900_000) {
      const { page, ms: t }: { page: RowPage; ms: number } = await api.rows(
        q({ pagination: "cursor", page_size: "1000", ...(cursor ? { cursor } : {}) }),
      );
      walkTimes.push(t);
      walked += page.results.length;
      cursor = page.next_cursor ?? null;
      if (!cursor) throw new Error(`the cursor walk ended at ${walked} rows`);
    }
    const walk = summarise(walkTimes);
    out(
      `  ${walkTimes.length} pages in ${seconds(performance.now() - walkStarted)} wall clock (paced); page_size 1000: p50 ${ms(walk.p50)}, p95 ${ms(walk.p95)}`,
    );

    const cases: Case[] = [
      { name: "page 1 (page_size 50)", query: q({ page: "1", page_size: "50" }) },
      { name: "page 5000 (page_size 50)", query: q({ page: "5000", page_size: "50" }) },
      { name: "cursor page at 900k (50)", query: q({ pagination: "cursor", page_size: "50", cursor: cursor ?? "" }) },
      { name: `equality city=${cityValue}`, query: q({ city: cityValue, page_size: "50" }) },
      {
        name: "range amount∈[1000,1100) sort signup_date",
        query: q({
          "filter[amount][gte]": "1000",
          "filter[amount][lt]": "1100",
          sort_by: "signup_date",
          page_size: "50",
        }),
      },
      { name: "search 'berners'", query: q({ search: "berners", page_size: "50" }) },
      { name: "search 'lovelace.4242' (rare)", query: q({ search: "lovelace.4242", page_size: "50" }) },
      { name: "count: active=true (700k)", query: q({ active: "true", page_size: "50" }) },
      // Cursor variants of the filtered first pages: the same filters without the count.
      { name: "equality, cursor first page", query: q({ city: cityValue, pagination: "cursor", page_size: "50" }) },
      {
        name: "range sort, cursor first page",
        query: q({
          "filter[amount][gte]": "1000",
          "filter[amount][lt]": "1100",
          sort_by: "signup_date",
          pagination: "cursor",
          page_size: "50",
        }),
      },
      {
        name: "search 'berners', cursor first page",
        query: q({ search: "berners", pagination: "cursor", page_size: "50" }),
      },
    ];

    const measured: Measured[] = [];
    for (const c of cases) {
      for (let i = 0; i < 2; i++) await api.rows(c.query);
      const times: number[] = [];
      let lastPage: RowPage | null = null;
      for (let i = 0; i < runs; i++) {
        const { page, ms: t } = await api.rows(c.query);
        times.push(t);
        lastPage = page;
      }
      const count =
        lastPage?.count === undefined
          ? "-"
          : `${integer(lastPage.count)}${lastPage.count_is_estimate ? " (est.)" : ""}`;
      measured.push({ ...c, times, rows: lastPage?.results.length ?? 0, count });
      const s = summarise(times);
      out(`  ${c.name}: p50 ${ms(s.p50)}, p95 ${ms(s.p95)}`);
    }

    out();
    out(`row queries over ${integer(details.total_rows)} rows, nocache=1, ${runs} runs each (client wall clock, ms)`);
    out(
      table([
        ["query", "p50", "p95", "min", "max", "rows", "count", `≤${TARGET_MS}ms`],
        ...measured.map((m) => {
          const s = summarise(m.times);
          return [
            m.name,
            s.p50.toFixed(1),
            s.p95.toFixed(1),
            s.min.toFixed(1),
            s.max.toFixed(1),
            String(m.rows),
            m.count,
            s.p95 <= TARGET_MS ? "yes" : "NO",
          ];
        }),
      ]),
    );

    const slow = measured.filter((m) => summarise(m.times).p95 > TARGET_MS);
    if (slow.length === 0) return;
    out();
    out(`EXPLAIN ANALYZE of the queries with p95 > ${TARGET_MS} ms (the service's SQL, run through pg on the dev DB)`);
    const dialect = new PgDialect();
    const keys = await db.query<{ index_keys: UploadIndexKeys | null; indexes_ready_at: Date | null }>(
      "select index_keys, indexes_ready_at from csv_uploads where id = $1",
      [details.id],
    );
    const indexKeys = queriedKeys(keys.rows[0]?.index_keys ?? null, keys.rows[0]?.indexes_ready_at ?? null);
    for (const m of slow) {
      const params = new URLSearchParams(m.query);
      const query = parseRowQuery(params, columns);
      const cursorRow = query.cursor ? cursorRowNumber(query.cursor) : null;
      for (const statement of statementsFor(
        { id: details.id, processedRows: details.processed_rows, indexKeys },
        query,
        cursorRow,
      )) {
        const rendered = dialect.sqlToQuery(statement.sql);
        const plan = await db.query<{ "QUERY PLAN": string }>(
          `explain (analyze, buffers) ${rendered.sql}`,
          rendered.params as unknown[],
        );
        out();
        out(`--- ${m.name}: ${statement.label}`);
        for (const line of planDigest(plan.rows.map((r) => r["QUERY PLAN"]))) out(`  ${line}`);
      }
    }
  } finally {
    await db.end();
  }
}

runMain("bench:query", main);
