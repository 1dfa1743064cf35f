/**
 * `npm run bench:ingest [-- --api http://localhost:8787 --rows 1000000 --concurrency 4 --timeout 900 --skip-direct]`
 *
 * Measures CSV ingestion against a running API (`npm run dev`):
 * 1. generates (or reuses) the deterministic benchmark file in `bench-data/` (1M rows ≈ 400 MB);
 * 2. registers a fresh user, uploads the file through the presigned part URLs (the same client as
 *    `npm run upload`), completes it, and polls until the upload is terminal: upload time and MB/s,
 *    time from complete to `completed` (wall clock, and the server's started_at → completed_at),
 *    rows/s and MB/s; then waits for the per-upload query indexes (built after completion) and
 *    times them;
 * 3. prints the upload's stored bytes (its partition's rows and every index on it) over the CSV's;
 * 4. runs the two hand-written loaders in `../shared/baselines/` (direct: papaparse + `pg`; copy:
 *    `psql \\copy`) on the same database and file, and prints product/direct (target ≤ 1.0),
 *    indexes-ready/direct (target ≤ 3) and product/copy (stretch ≤ 2).
 *
 * The upload id and the bench user's credentials go to `bench-data/last-upload.json` for
 * `npm run bench:query`. The database is found through `.data/dev-state.json` (or $DATABASE_URL).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Command } from "commander";
import pg from "pg";
import { partitionName } from "../src/features/uploads/ingest/partition-name.ts";
import type { UploadColumn } from "../src/platform/db/schema.ts";
import { integer, megabytes, perSecond, seconds, wholeNumber } from "./lib/bench-stats.ts";
import { benchUser, type LastUpload, waitForIndexes } from "./lib/bench-upload.ts";
import { DEFAULT_GENERATOR, ensureCsv } from "./lib/csv-generator.ts";
import { devDatabaseUrl } from "./lib/dev-state.ts";
import { BENCH_DIR, LAST_UPLOAD_FILE, ROOT as root } from "./lib/paths.ts";
import { runMain } from "./lib/run-main.ts";
import {
  completeUpload,
  createUpload,
  getProgress,
  getUpload,
  isTerminal,
  type Session,
  type UploadDetails,
  uploadParts,
} from "./lib/upload-client.ts";

const out = (line = "") => process.stdout.write(`${line}\n`);

interface IngestResult {
  details: UploadDetails;
  uploadMs: number;
  ingestMs: number;
  serverIngestMs: number | null;
  timedOut: boolean;
  indexMs: number | null;
  btreeMs: number | null;
  indexNote: string | null;
}

async function productIngest(
  session: Session,
  file: string,
  bytes: number,
  concurrency: number,
  timeoutMs: number,
): Promise<IngestResult> {
  const created = await createUpload(session, path.basename(file), bytes);
  out(
    `upload ${created.id}: ${created.upload.parts.length} parts of ${megabytes(created.upload.part_size)}, ${concurrency} at a time`,
  );
  const uploadStarted = performance.now();
  const parts = await uploadParts(created.upload, file, bytes, {
    concurrency,
    onRetry: (part, attempt, error) =>
      out(`  part ${part} attempt ${attempt} failed: ${error instanceof Error ? error.message : String(error)}`),
  });
  const uploadMs = performance.now() - uploadStarted;
  out(`  uploaded in ${seconds(uploadMs)} (${(perSecond(bytes, uploadMs) / 1e6).toFixed(1)} MB/s)`);

  const completeStarted = performance.now();
  await completeUpload(session, created.id, parts);
  out(`  complete answered in ${seconds(performance.now() - completeStarted)}; polling until terminal`);
  let details = await getUpload(session, created.id);
  let lastLine = 0;
  let timedOut = false;
  while (!isTerminal(details.status)) {
    if (performance.now() - completeStarted > timeoutMs) {
      timedOut = true;
      break;
    }
    await sleep(250);
    details = await getUpload(session, created.id);
    if (performance.now() - lastLine > 5000) {
      lastLine = performance.now();
      const p = await getProgress(session, created.id).catch(() => null);
      out(
        `  ${seconds(performance.now() - completeStarted)}: ${details.status}, ${integer(details.processed_rows)} rows stored` +
          (p
            ? ` | progress ${p.percent.toFixed(1)}%, ${integer(p.processed_rows)} rows, ${integer(p.rows_per_second ?? 0)} rows/s`
            : ""),
      );
    }
  }
  const ingestMs = performance.now() - completeStarted;
  const serverIngestMs =
    details.started_at && details.completed_at
      ? Date.parse(details.completed_at) - Date.parse(details.started_at)
      : null;
  return { details, uploadMs, ingestMs, serverIngestMs, timedOut, indexMs: null, btreeMs: null, indexNote: null };
}

interface BaselineResult {
  step: string;
  rows: number;
  seconds: number;
}

const BASELINES = path.resolve(root, "../shared/baselines");

/**
 * Runs one of the hand-written loaders in `../shared/baselines/` (from the project root, with this
 * Node, against the same database) and returns its one JSON line; null when it cannot run here.
 */
function runBaseline(script: string, file: string, databaseUrl: string): BaselineResult | null {
  const scriptPath = path.join(BASELINES, script);
  if (!existsSync(scriptPath)) {
    out(`  ${script}: not found in ${BASELINES}`);
    return null;
  }
  const run = spawnSync(process.execPath, [scriptPath, `--url=${databaseUrl}`, `--file=${file}`], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = run.stdout.trim().split("\n").at(-1) ?? "";
  if (run.status !== 0 || !line.startsWith("{")) {
    out(`  ${script} failed: ${(run.stderr || run.stdout).trim().slice(0, 500)}`);
    return null;
  }
  return JSON.parse(line) as BaselineResult;
}

interface StoredBytes {
  rows: number;
  indexes: number;
}

/** The upload's partition on disk: its heap (with TOAST) and every index on it. */
async function storedBytes(client: pg.Client, uploadId: string): Promise<StoredBytes> {
  const result = await client.query<{ rows: string; indexes: string }>(
    `select pg_table_size(c.oid) as rows, pg_indexes_size(c.oid) as indexes
     from pg_class c where c.relname = $1 and c.relnamespace = current_schema()::regnamespace`,
    [partitionName(uploadId)],
  );
  const row = result.rows[0];
  return { rows: Number(row?.rows ?? 0), indexes: Number(row?.indexes ?? 0) };
}

/** The per-index sizes, largest first, to show where the bytes go. */
async function indexSizes(client: pg.Client, uploadId: string): Promise<{ name: string; bytes: number }[]> {
  const result = await client.query<{ name: string; bytes: string }>(
    `select i.relname as name, pg_relation_size(i.oid) as bytes
     from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
     where t.relname = $1 order by 2 desc`,
    [partitionName(uploadId)],
  );
  return result.rows.map((r) => ({ name: r.name, bytes: Number(r.bytes) }));
}

async function main(): Promise<void> {
  const options = new Command()
    .name("npm run bench:ingest --")
    .description("CSV ingestion against `npm run dev`: upload, ingest, indexes, stored bytes, then the baselines.")
    .option("--api <url>", "the API origin (or $EDGE_TASKS_API)", process.env.EDGE_TASKS_API ?? "http://localhost:8787")
    .option("--rows <n>", "rows of the generated CSV", wholeNumber(1), DEFAULT_GENERATOR.rows)
    .option("--concurrency <n>", "parts uploaded at a time", wholeNumber(1), 4)
    .option("--timeout <s>", "how long to wait for the ingestion and for the indexes", wholeNumber(1), 900)
    .option("--skip-direct", "skip the hand-written baseline loaders")
    .parse()
    .opts<{ api: string; rows: number; concurrency: number; timeout: number; skipDirect?: boolean }>();
  const origin = options.api.replace(/\/$/, "");
  const { rows, concurrency } = options;
  const timeoutMs = options.timeout * 1000;

  const name = rows === 1_000_000 ? "bench-1m.csv" : `bench-${rows}.csv`;
  const generated = await ensureCsv(path.join(BENCH_DIR, name), { ...DEFAULT_GENERATOR, rows });
  out(
    `file ${path.relative(root, generated.path)}: ${integer(rows)} rows, ${megabytes(generated.bytes)} ` +
      `(${generated.reused ? "reused" : `generated in ${seconds(generated.ms)}`})`,
  );

  const { session, email, password } = await benchUser(origin);
  out(`bench user ${email}`);
  const product = await productIngest(session, generated.path, generated.bytes, concurrency, timeoutMs);
  const d = product.details;

  const client = new pg.Client({ connectionString: devDatabaseUrl() });
  await client.connect();
  try {
    if (d.status === "completed" && d.completed_at) {
      // Indexes are built after completion by an `index` queue message; wait for them so the
      // direct load does not compete with CREATE INDEX for the same two cores.
      out("waiting for the per-upload indexes…");
      const indexed = {
        id: d.id,
        columns: d.columns.map((c) => ({ ...c, type: c.type as UploadColumn["type"] })),
        records: d.processed_rows,
      };
      const wait = await waitForIndexes(client, indexed, timeoutMs, (present, expected) =>
        out(`  ${present}/${expected} indexes built`),
      );
      const completedAt = Date.parse(d.completed_at);
      product.indexMs = wait.doneAt === null ? null : wait.doneAt - completedAt;
      product.btreeMs = wait.btreesAt === null ? null : wait.btreesAt - completedAt;
      if (wait.doneAt === null) {
        product.indexNote = `only ${wait.present}/${wait.expected} indexes were built: ${
          wait.stalled
            ? "the build stopped (no CREATE INDEX running for 60 s; see /tmp/dev.log for a reload)"
            : "timed out"
        }`;
      }
    }

    const record: LastUpload = {
      api: origin,
      uploadId: d.id,
      email,
      password,
      rows,
      bytes: generated.bytes,
      file: path.relative(root, generated.path),
      status: d.status,
      totalRows: d.total_rows,
      ingestMs: product.ingestMs,
      serverIngestMs: product.serverIngestMs,
      completedAt: d.completed_at,
      indexMs: product.indexMs,
      recordedAt: new Date().toISOString(),
    };
    await writeFile(LAST_UPLOAD_FILE, `${JSON.stringify(record, null, 2)}\n`);

    out();
    out("== product (presigned upload → queue → chunk consumers) ==");
    out(
      `upload (PUT parts)         ${seconds(product.uploadMs)}  ${(perSecond(generated.bytes, product.uploadMs) / 1e6).toFixed(1)} MB/s`,
    );
    out(`status                     ${d.status}${product.timedOut ? " (TIMED OUT waiting)" : ""}`);
    out(
      `rows                       ${integer(d.total_rows)} stored, ${integer(d.error_rows)} rejected, ${integer(d.processed_rows)} read`,
    );
    if (d.error) out(`error                      ${d.error}`);
    out(
      `complete → ${d.status.padEnd(15)} ${seconds(product.ingestMs)}  ${integer(perSecond(d.total_rows, product.ingestMs))} rows/s  ${(perSecond(generated.bytes, product.ingestMs) / 1e6).toFixed(1)} MB/s`,
    );
    if (product.serverIngestMs !== null) {
      out(
        `server started → completed ${seconds(product.serverIngestMs)}  ${integer(perSecond(d.total_rows, product.serverIngestMs))} rows/s  ${(perSecond(generated.bytes, product.serverIngestMs) / 1e6).toFixed(1)} MB/s`,
      );
    }
    if (product.btreeMs !== null) out(`per-column B-trees built    ${seconds(product.btreeMs)} after completed`);
    if (product.indexMs !== null) out(`all indexes (+ trigram)     ${seconds(product.indexMs)} after completed`);
    if (product.indexNote) out(`indexes                    ${product.indexNote}`);
    out(`upload id recorded in ${path.relative(root, LAST_UPLOAD_FILE)}`);

    if (d.status === "completed") {
      const stored = await storedBytes(client, d.id);
      const total = stored.rows + stored.indexes;
      out(
        `stored bytes               ${megabytes(total)} = rows ${megabytes(stored.rows)} + indexes ${megabytes(stored.indexes)}; ${(total / generated.bytes).toFixed(2)} × the CSV (target ≤ 2.5)`,
      );
      for (const index of await indexSizes(client, d.id)) out(`  ${index.name.padEnd(44)} ${megabytes(index.bytes)}`);
    }

    if (options.skipDirect) return;
    out();
    out("== baselines (../shared/baselines, same database, same file) ==");
    const databaseUrl = devDatabaseUrl();
    const direct = runBaseline("direct-load.mjs", generated.path, databaseUrl);
    const copy = runBaseline("copy-load.mjs", generated.path, databaseUrl);
    await client.query("drop schema if exists baseline cascade");
    for (const baseline of [direct, copy]) {
      if (!baseline) continue;
      const ms = baseline.seconds * 1000;
      out(
        `${baseline.step.padEnd(27)}${seconds(ms)}  ${integer(perSecond(baseline.rows, ms))} rows/s  ${(perSecond(generated.bytes, ms) / 1e6).toFixed(1)} MB/s`,
      );
    }
    if (d.status === "completed") {
      if (direct) {
        const directMs = direct.seconds * 1000;
        out(
          `ratio product/direct       ${(product.ingestMs / directMs).toFixed(2)} (complete → completed; target ≤ 1.0)`,
        );
        if (product.indexMs !== null) {
          out(
            `ratio indexes ready/direct ${(product.indexMs / directMs).toFixed(2)} (completed → indexes ready; target ≤ 3)`,
          );
        }
      }
      if (copy) {
        out(`ratio product/copy         ${(product.ingestMs / (copy.seconds * 1000)).toFixed(2)} (stretch ≤ 2)`);
      }
    }
  } finally {
    await client.end();
  }
}

runMain("bench:ingest", main);
