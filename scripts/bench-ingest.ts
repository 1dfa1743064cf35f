/**
 * `npm run bench:ingest [-- --api http://localhost:8787 --rows 1000000 --concurrency 4 --timeout 900]`
 *
 * Measures CSV ingestion against a running API (`npm run dev`):
 * 1. generates (or reuses) the deterministic benchmark file in `bench-data/` (1M rows ≈ 400 MB);
 * 2. registers a fresh user, uploads the file through the presigned part URLs (the same client as
 *    `npm run upload`), completes it, and polls until the upload is terminal: upload time and MB/s,
 *    time from complete to `completed` (wall clock, and the server's started_at → completed_at),
 *    rows/s and MB/s; then waits for the per-upload query indexes (built after completion) and
 *    times them;
 * 3. for comparison, loads the same file directly with Node + `pg` into the same layout on the
 *    same database (a fresh LIST partition of `csv_rows`; papaparse streaming parse; the product's
 *    own column typing; 5,000-row `INSERT … SELECT FROM json_array_elements`, one statement in flight
 *    while the next batch is parsed), then drops that partition; prints product/direct (target ≤ 1.3).
 *
 * The upload id and the bench user's credentials go to `bench-data/last-upload.json` for
 * `npm run bench:query`. The database is found through `.data/dev-state.json` (or $DATABASE_URL).
 */
import { createReadStream } from "node:fs";
import { open, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import Papa from "papaparse";
import pg from "pg";
import { convertValue } from "../src/ingest/csv-format.ts";
import { partitionName } from "../src/ingest/partition-name.ts";
import { analyseSample, type CsvLayout, SAMPLE_BYTES } from "../src/ingest/validate.ts";
import { integer, megabytes, parseFlags, perSecond, seconds } from "./lib/bench-stats.ts";
import { DEFAULT_GENERATOR, ensureCsv } from "./lib/csv-generator.ts";
import { BENCH_DIR, LAST_UPLOAD_FILE, ROOT as root } from "./lib/paths.ts";
import {
  ApiError,
  completeUpload,
  createUpload,
  getProgress,
  getUpload,
  isTerminal,
  login,
  type Session,
  type UploadDetails,
  uploadParts,
} from "./lib/upload-client.ts";

/** What bench:query needs to reuse an ingested upload. */
export interface LastUpload {
  api: string;
  uploadId: string;
  email: string;
  password: string;
  rows: number;
  bytes: number;
  file: string;
  status: string;
  totalRows: number;
  ingestMs: number | null;
  serverIngestMs: number | null;
  completedAt: string | null;
  /** From completion to every per-upload index built and analysed; null when not observed. */
  indexMs: number | null;
  recordedAt: string;
}

const out = (line = "") => process.stdout.write(`${line}\n`);

import { devDatabaseUrl } from "./lib/dev-state.ts";

export { devDatabaseUrl };

async function api<T>(origin: string, route: string, json: unknown): Promise<T> {
  for (;;) {
    const response = await fetch(`${origin}/api/v1${route}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(json),
    });
    const text = await response.text();
    if (response.status === 429) {
      // The auth limit is 30/min per client IP; wait for the window rather than fail the run.
      const wait = Number(response.headers.get("Retry-After") ?? 10);
      out(`  ${route}: rate limited, waiting ${wait} s`);
      await sleep(wait * 1000);
      continue;
    }
    if (!response.ok) throw new Error(`POST ${route}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

/** Registers a user with a unique email and logs in. */
export async function benchUser(origin: string): Promise<{ session: Session; email: string; password: string }> {
  const email = `bench-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const password = `Bench-${crypto.randomUUID()}`;
  await api(origin, "/auth/user/register/", { email, password, full_name: "Ingest Bench" });
  const session = await loginWithRetry(origin, email, password);
  return { session, email, password };
}

export async function loginWithRetry(origin: string, email: string, password: string): Promise<Session> {
  for (;;) {
    try {
      return await login(origin, email, password);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 429) throw error;
      out("  login: rate limited, waiting 10 s");
      await sleep(10_000);
    }
  }
}

/** Index names the product builds for a partition, plus its primary key. */
export async function partitionIndexes(client: pg.Client, partition: string): Promise<string[]> {
  const result = await client.query<{ indexname: string }>(
    "select indexname from pg_indexes where schemaname = current_schema() and tablename = $1 order by indexname",
    [partition],
  );
  return result.rows.map((r) => r.indexname);
}

export interface IndexWait {
  /** When all were seen (epoch ms), or null on timeout or stall. */
  doneAt: number | null;
  /** When the per-column B-trees were all seen (the trigram index is built last). */
  btreesAt: number | null;
  present: number;
  expected: number;
  /** Nothing was being built and nothing new appeared for a minute: the build was lost. */
  stalled: boolean;
}

/**
 * Waits until every per-upload index (one B-tree per column, then the trigram index) exists.
 * Gives up after `timeoutMs`, or after a minute with no CREATE INDEX running on the partition and
 * no new index (the `index` message was lost, e.g. when `wrangler dev` reloaded mid-build).
 */
export async function waitForIndexes(
  client: pg.Client,
  uploadId: string,
  columnCount: number,
  timeoutMs: number,
  onWait?: (present: number, expected: number) => void,
): Promise<IndexWait> {
  const partition = partitionName(uploadId);
  const expected = columnCount + 1;
  const deadline = Date.now() + timeoutMs;
  let lastReport = 0;
  let lastChange = Date.now();
  let lastCount = -1;
  let btreesAt: number | null = null;
  for (;;) {
    const names = await partitionIndexes(client, partition);
    const built = names.filter((n) => n.startsWith("cr_")).length;
    const btrees = names.filter((n) => /^cr_[0-9a-f]{32}_c\d+$/.test(n)).length;
    if (btreesAt === null && btrees >= columnCount) btreesAt = Date.now();
    if (built >= expected) return { doneAt: Date.now(), btreesAt, present: built, expected, stalled: false };
    const building = await client.query(
      "select 1 from pg_stat_progress_create_index p join pg_class c on c.oid = p.relid where c.relname = $1",
      [partition],
    );
    if (built !== lastCount || (building.rowCount ?? 0) > 0) {
      lastCount = built;
      lastChange = Date.now();
    }
    const stalled = Date.now() - lastChange > 60_000;
    if (stalled || Date.now() > deadline) return { doneAt: null, btreesAt, present: built, expected, stalled };
    if (onWait && Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      onWait(built, expected);
    }
    await sleep(500);
  }
}

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

interface DirectResult {
  rows: number;
  errors: number;
  ms: number;
  parseOnlyMs: number;
}

/**
 * The benchmark file's layout exactly as the product's validation finds it (delimiter, line
 * ending, header keys, column types from the first MiB).
 */
async function readLayout(file: string): Promise<CsvLayout> {
  const handle = await open(file, "r");
  const { size } = await handle.stat();
  const sample = Buffer.alloc(Math.min(size, SAMPLE_BYTES));
  const { bytesRead } = await handle.read(sample, 0, sample.length, 0);
  await handle.close();
  return analyseSample(sample.subarray(0, bytesRead), size, { maxColumns: 500 });
}

/**
 * The reference load: same file, same typing (the product's own `inferType` and `convertValue`),
 * same statement shape, into a fresh partition of `csv_rows`.
 */
async function directLoad(client: pg.Client, file: string, batchRows: number): Promise<DirectResult> {
  const layout = await readLayout(file);
  const columns = layout.columns;
  out(`  columns: ${columns.map((c) => `${c.key}:${c.type}`).join(", ")}`);

  const uploadId = crypto.randomUUID();
  const partition = partitionName(uploadId);
  await client.query(`CREATE TABLE "${partition}" PARTITION OF csv_rows FOR VALUES IN ('${uploadId}')`);
  try {
    const insert = `insert into "${partition}" (upload_id, row_number, data)
      select $1::uuid, (e->>0)::bigint, (e->1)::jsonb from json_array_elements($2::json) e
      on conflict do nothing`;
    const started = performance.now();
    let inFlight: Promise<unknown> = Promise.resolve();
    let batch: [number, Record<string, unknown>][] = [];
    let rowNumber = 0;
    let errors = 0;
    const flush = async () => {
      const payload = JSON.stringify(batch);
      batch = [];
      // One statement in flight while the next batch is parsed (like a single ingest pipeline).
      await inFlight;
      inFlight = client.query(insert, [uploadId, payload]);
    };
    const parser = Papa.parse(Papa.NODE_STREAM_INPUT, {
      delimiter: layout.delimiter,
      newline: layout.newline,
      skipEmptyLines: true,
    });
    createReadStream(file, { encoding: "utf8", start: layout.dataOffset }).pipe(parser);
    for await (const fields of parser as AsyncIterable<string[]>) {
      rowNumber++;
      if (fields.length !== columns.length) {
        errors++;
        continue;
      }
      const data: Record<string, unknown> = {};
      let ok = true;
      for (const [c, column] of columns.entries()) {
        const converted = convertValue(fields[c] ?? "", column.type);
        if (!converted.ok) {
          ok = false;
          break;
        }
        data[column.key] = converted.value;
      }
      if (!ok) {
        errors++;
        continue;
      }
      batch.push([rowNumber, data]);
      if (batch.length >= batchRows) await flush();
    }
    if (batch.length > 0) await flush();
    await inFlight;
    const ms = performance.now() - started;
    const count = await client.query<{ n: string }>(`select count(*) as n from "${partition}"`);
    return { rows: Number(count.rows[0]?.n ?? 0), errors, ms, parseOnlyMs: await parseOnly(file, layout) };
  } finally {
    await client.query(`DROP TABLE IF EXISTS "${partition}"`);
  }
}

/** Parse and type only (no database), to split the direct load's time into CPU and insert. */
async function parseOnly(file: string, layout: CsvLayout): Promise<number> {
  const started = performance.now();
  const parser = Papa.parse(Papa.NODE_STREAM_INPUT, {
    delimiter: layout.delimiter,
    newline: layout.newline,
    skipEmptyLines: true,
  });
  createReadStream(file, { encoding: "utf8", start: layout.dataOffset }).pipe(parser);
  let payloadBytes = 0;
  let batch: [number, Record<string, unknown>][] = [];
  let n = 0;
  for await (const fields of parser as AsyncIterable<string[]>) {
    const data: Record<string, unknown> = {};
    for (const [c, column] of layout.columns.entries()) {
      const converted = convertValue(fields[c] ?? "", column.type);
      data[column.key] = converted.ok ? converted.value : null;
    }
    batch.push([++n, data]);
    if (batch.length >= 5000) {
      payloadBytes += JSON.stringify(batch).length;
      batch = [];
    }
  }
  payloadBytes += JSON.stringify(batch).length;
  return payloadBytes > 0 ? performance.now() - started : 0;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), ["api", "rows", "concurrency", "timeout", "batch", "skip-direct"]);
  const origin = (flags.get("api") ?? process.env.EDGE_TASKS_API ?? "http://localhost:8787").replace(/\/$/, "");
  const rows = Number(flags.get("rows") ?? DEFAULT_GENERATOR.rows);
  const concurrency = Number(flags.get("concurrency") ?? 4);
  const timeoutMs = Number(flags.get("timeout") ?? 900) * 1000;
  const batchRows = Number(flags.get("batch") ?? 5000);
  if (!Number.isInteger(rows) || rows < 1) throw new Error("--rows must be a positive whole number");

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
      const wait = await waitForIndexes(client, d.id, d.columns.length, timeoutMs, (present, expected) =>
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

    if (flags.get("skip-direct") === "1") return;
    out();
    out(`== direct Node + pg load (papaparse stream, ${integer(batchRows)}-row INSERT … json_array_elements) ==`);
    const direct = await directLoad(client, generated.path, batchRows);
    out(
      `direct load                ${seconds(direct.ms)}  ${integer(perSecond(direct.rows, direct.ms))} rows/s  ${(perSecond(generated.bytes, direct.ms) / 1e6).toFixed(1)} MB/s  (${integer(direct.rows)} rows, ${integer(direct.errors)} rejected)`,
    );
    out(`  of which parse + type + JSON alone ${seconds(direct.parseOnlyMs)}`);
    if (d.status === "completed") {
      const ratio = product.ingestMs / direct.ms;
      out(`ratio product/direct       ${ratio.toFixed(2)} (complete → completed wall clock; target ≤ 1.3)`);
      if (product.serverIngestMs !== null) {
        out(
          `ratio server-side/direct   ${(product.serverIngestMs / direct.ms).toFixed(2)} (started_at → completed_at)`,
        );
      }
    }
  } finally {
    await client.end();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(
        `bench:ingest failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
