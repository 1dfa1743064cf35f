/**
 * What the ingestion and query benchmarks share: the bench user, the record of the last ingested
 * upload (written by bench:ingest, read by bench:query) and the wait for an upload's indexes.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { PgDialect } from "drizzle-orm/pg-core";
import type pg from "pg";
import { freeTextFrom, freeTextQuery, rowIndexStatements } from "../../src/features/uploads/ingest/index-statements.ts";
import { partitionName } from "../../src/features/uploads/ingest/partition-name.ts";
import { BUILT_INDEX_KEYS } from "../../src/features/uploads/ingest/row-layout.ts";
import type { UploadColumn } from "../../src/platform/db/schema.ts";
import { login, ok, type RetryOptions, type Session, scriptClient } from "./api.ts";

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

/** A 429 on the auth routes (30/min per client IP) is waited out, however often, not failed. */
const AUTH_RETRY: RetryOptions = {
  attempts: Number.POSITIVE_INFINITY,
  onRateLimited: (seconds, request) =>
    process.stdout.write(`  ${new URL(request.url).pathname}: rate limited, waiting ${seconds} s\n`),
};

/** Logs in as the bench user (a 429 is waited out). */
export function benchLogin(origin: string, email: string, password: string): Promise<Session> {
  return login(origin, email, password, AUTH_RETRY);
}

/** Registers a user with a unique email and logs in. */
export async function benchUser(origin: string): Promise<{ session: Session; email: string; password: string }> {
  const email = `bench-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const password = `Bench-${crypto.randomUUID()}`;
  await ok(
    scriptClient(origin, undefined, AUTH_RETRY).POST("/api/v1/auth/user/register/", {
      body: { email, password, full_name: "Ingest Bench" },
    }),
  );
  const session = await benchLogin(origin, email, password);
  return { session, email, password };
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

/** A completed upload as the index wait needs it: `records` is its last row number. */
export interface IndexedUpload {
  id: string;
  columns: UploadColumn[];
  records: number;
}

/**
 * How many indexes the product's build gives `upload`: its B-trees (one per column but free-text
 * ones, decided by the same sample of the stored rows the build takes) and all of them with the
 * search index's parts. Asked of the product's own statements, so the count follows its rules.
 */
async function expectedIndexes(client: pg.Client, upload: IndexedUpload): Promise<{ btrees: number; all: number }> {
  const query = freeTextQuery(upload.id, upload.columns);
  let freeText = new Set<number>();
  if (query) {
    const rendered = new PgDialect().sqlToQuery(query);
    const sampled = await client.query<{ position: number; width: string | null }>(rendered.sql, rendered.params);
    freeText = freeTextFrom(sampled.rows);
  }
  const { btrees, searchParts } = rowIndexStatements({ ...upload, indexKeys: BUILT_INDEX_KEYS }, freeText);
  return { btrees: btrees.length, all: btrees.length + searchParts.length };
}

/**
 * Waits until every per-upload index (the column B-trees, built one after another, beside the
 * search index's parts) exists and the product records them ready.
 * Gives up after `timeoutMs`, or after a minute with no CREATE INDEX running on the partition and
 * no new index (the `index` message was lost, e.g. when `wrangler dev` reloaded mid-build).
 */
export async function waitForIndexes(
  client: pg.Client,
  upload: IndexedUpload,
  timeoutMs: number,
  onWait?: (present: number, expected: number) => void,
): Promise<IndexWait> {
  const uploadId = upload.id;
  const partition = partitionName(uploadId);
  const { btrees: expectedBtrees, all: expected } = await expectedIndexes(client, upload);
  const deadline = Date.now() + timeoutMs;
  let lastReport = 0;
  let lastChange = Date.now();
  let lastCount = -1;
  let btreesAt: number | null = null;
  const recorded = await client.query(
    "select 1 from information_schema.columns where table_name = 'csv_uploads' and column_name = 'indexes_ready_at'",
  );
  for (;;) {
    if ((recorded.rowCount ?? 0) > 0) {
      // The product records when its index build (and ANALYZE) finished: that is "ready".
      const ready = await client.query<{ at: Date | null }>(
        "select indexes_ready_at as at from csv_uploads where id = $1",
        [uploadId],
      );
      const at = ready.rows[0]?.at;
      if (at) {
        const present = (await partitionIndexes(client, partition)).filter((n) => n.startsWith("cr_")).length;
        return { doneAt: at.getTime(), btreesAt: btreesAt ?? at.getTime(), present, expected, stalled: false };
      }
    }
    const names = await partitionIndexes(client, partition);
    const built = names.filter((n) => n.startsWith("cr_")).length;
    // Column B-trees: `k<n>` with typed keys, `c<n>` with jsonb ones (row-layout.ts).
    const btrees = names.filter((n) => /^cr_[0-9a-f]{32}_[ck]\d+$/.test(n)).length;
    if (btreesAt === null && btrees >= expectedBtrees) btreesAt = Date.now();
    // Counting indexes is the fallback for a product that does not record readiness: where it does,
    // the last index built is not yet "ready" (the statistics are gathered after it).
    if ((recorded.rowCount ?? 0) === 0 && built >= expected) {
      return { doneAt: Date.now(), btreesAt, present: built, expected, stalled: false };
    }
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
