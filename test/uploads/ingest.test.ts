import {
  createExecutionContext,
  createMessageBatch,
  evictDurableObject,
  getQueueResult,
  runDurableObjectAlarm,
  runInDurableObject,
} from "cloudflare:test";
import { and, eq, type SQL, sql } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import type { ChunkMessage } from "../../src/features/uploads/ingest/messages.ts";
import { partitionName } from "../../src/features/uploads/ingest/partitions.ts";
import type { ProgressState } from "../../src/features/uploads/progress/progress-state.ts";
import { progressOf } from "../../src/features/uploads/progress/upload-progress.ts";
import { whereClause } from "../../src/features/uploads/rows/csv-data.sql.ts";
import worker from "../../src/index.ts";
import { csvUploadChunks, csvUploads, jobs } from "../../src/platform/db/schema.ts";
import { emailsTo } from "../support/email.ts";
import { testEnv, withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import {
  chunkCounts,
  chunkMessage,
  completedJob,
  deliver,
  deliverChunks,
  finished,
  finishedUpload,
  formUpload,
  getUpload,
  indexesReady,
  jobOf,
  partitionDropped,
  partitionExists,
  pendingChunkMessages,
  storedRows,
  type Upload,
  uploadInProgress,
} from "../support/uploads.ts";
import { createUser, type TestUser } from "../support/users.ts";

async function chunkRow(uploadId: string, index: number) {
  const [chunk] = await withDb((db) =>
    db
      .select()
      .from(csvUploadChunks)
      .where(and(eq(csvUploadChunks.uploadId, uploadId), eq(csvUploadChunks.chunkIndex, index))),
  );
  return chunk;
}

/** Puts an ended upload back to "still ingesting": the upload processing, its job running. */
async function reopen(upload: Upload): Promise<void> {
  await withDb(async (db) => {
    await db.update(csvUploads).set({ status: "processing", completedAt: null }).where(eq(csvUploads.id, upload.id));
    await db.update(jobs).set({ status: "running" }).where(eq(jobs.id, upload.job!));
  });
}

/** Makes committed chunks look as if they never ran: not done, and their rows absent. */
async function uncommit(uploadId: string, messages: ChunkMessage[]): Promise<void> {
  await withDb(async (db) => {
    for (const message of messages) {
      await db
        .update(csvUploadChunks)
        .set({ doneAt: null, rowsInserted: null, recordsRead: null, errorRows: null })
        .where(and(eq(csvUploadChunks.uploadId, uploadId), eq(csvUploadChunks.chunkIndex, message.index)));
      await db.execute(
        sql`delete from ${sql.identifier(partitionName(uploadId))} where row_number between ${message.firstRow} and ${message.firstRow + message.records - 1}`,
      );
    }
  });
}

describe("ingestion: at-least-once delivery", () => {
  it("a chunk delivered twice never inserts its rows twice", { timeout: 60_000 }, async () => {
    const { user, upload, done } = await finishedUpload(3000);
    expect(done.status).toBe("completed");
    expect(await storedRows(upload.id)).toEqual({ n: 3000, distinct: 3000 });
    const message = await chunkMessage(upload.id, 2);
    const before = await chunkRow(upload.id, 2);
    expect(before?.rowsInserted).toBeGreaterThan(0);

    // 1. The same chunk twice in one batch after the upload completed: both acked, nothing added.
    const late = await deliver("ingest-chunks", [message, message]);
    expect(late.explicitAcks).toHaveLength(2);
    expect(late.retryMessages).toEqual([]);
    expect(await storedRows(upload.id)).toEqual({ n: 3000, distinct: 3000 });

    // 2. The same chunk twice while its upload is still ingesting it: put the upload back to the
    // state before chunk 2 committed (processing, chunk not done, its rows absent), then deliver
    // it twice in one batch so both copies run concurrently.
    await reopen(upload);
    await uncommit(upload.id, [message]);
    expect((await storedRows(upload.id)).n).toBe(3000 - message.records);

    const twice = await deliver("ingest-chunks", [message, message]);
    expect(twice.explicitAcks).toHaveLength(2);
    expect(twice.retryMessages).toEqual([]);
    expect(await storedRows(upload.id)).toEqual({ n: 3000, distinct: 3000 });
    const after = await chunkRow(upload.id, 2);
    expect(after).toMatchObject({
      rowsInserted: before?.rowsInserted,
      recordsRead: before?.recordsRead,
      errorRows: before?.errorRows,
    });
    expect(after?.doneAt).not.toBeNull();
    // Completion is persisted again from the chunks' totals: exact.
    expect(await getUpload(user, upload.id)).toMatchObject({
      status: "completed",
      total_rows: 3000,
      processed_rows: 3000,
      error_rows: 0,
    });
  });
});

/** A digest of every stored row (number and data), to compare a partition before and after. */
async function rowsDigest(uploadId: string): Promise<string> {
  const table = sql.identifier(partitionName(uploadId));
  const result = await withDb((db) =>
    db.execute<{ digest: string }>(
      sql`select md5(string_agg(row_number::text || ':' || data::text, '|' order by row_number)) as digest from ${table}`,
    ),
  );
  return result.rows[0]?.digest ?? "";
}

describe("ingestion: out of order and late delivery", () => {
  it("chunks delivered out of order store their rows at the planned row numbers", { timeout: 60_000 }, async () => {
    const { user, upload, done } = await finishedUpload(3000);
    expect(done.status).toBe("completed");
    expect((await chunkCounts(upload.id)).planned).toBeGreaterThanOrEqual(5);
    const digest = await rowsDigest(upload.id);
    const [first, third] = [await chunkMessage(upload.id, 1), await chunkMessage(upload.id, 3)];
    // Back to "processing, chunks 2 and 4 not in yet", their rows absent.
    await reopen(upload);
    await uncommit(upload.id, [first, third]);
    expect((await storedRows(upload.id)).n).toBe(3000 - first.records - third.records);

    // The later chunk first, then the earlier one.
    expect((await deliver("ingest-chunks", [third])).explicitAcks).toHaveLength(1);
    expect((await storedRows(upload.id)).n).toBe(3000 - first.records);
    expect((await deliver("ingest-chunks", [first])).explicitAcks).toHaveLength(1);
    expect(await storedRows(upload.id)).toEqual({ n: 3000, distinct: 3000 });
    expect(await rowsDigest(upload.id)).toBe(digest);
    expect(await getUpload(user, upload.id)).toMatchObject({ status: "completed", total_rows: 3000 });
  });

  it("a chunk delivered after its upload was deleted is acked and writes nothing", { timeout: 60_000 }, async () => {
    const { user, upload, done } = await finishedUpload(3000);
    expect(done.status).toBe("completed");
    const message = await chunkMessage(upload.id, 1);
    expect((await api(`/csv-data/uploads/${upload.id}/`, { method: "DELETE", token: user.token })).status).toBe(204);

    const late = await deliver("ingest-chunks", [message]);
    expect(late.explicitAcks).toHaveLength(1);
    expect(late.retryMessages).toEqual([]);
    expect(await partitionExists(upload.id)).toBe(false);
    expect((await chunkCounts(upload.id)).planned).toBe(0);
    // Dead-lettered late, too: nothing is resurrected or failed.
    expect((await deliver("ingest-dlq", [message])).explicitAcks).toHaveLength(1);
    expect((await api(`/csv-data/uploads/${upload.id}/`, { token: user.token })).status).toBe(404);
    expect(await partitionExists(upload.id)).toBe(false);
  });
});

describe("ingestion: failures", () => {
  it("a dead-lettered chunk ends the upload failed with the reason; nothing is left half-counted", {
    timeout: 60_000,
  }, async () => {
    const { user, upload } = await uploadInProgress(2);
    const message = await chunkMessage(upload.id, 1);
    const result = await deliver("ingest-dlq", [message]);
    expect(result.explicitAcks).toHaveLength(1);

    const done = await getUpload(user, upload.id);
    expect(done).toMatchObject({
      status: "failed",
      error: "Ingesting chunk 2 failed repeatedly; the upload was stopped.",
      total_rows: 0,
    });
    expect(done.completed_at).not.toBeNull();
    await partitionDropped(upload.id);
    const job = await jobOf(user, upload);
    expect(job).toMatchObject({ status: "failed", error: done.error, message: "Ingestion failed." });
    const progress = await json(await api(`/csv-data/uploads/${upload.id}/progress/`, { token: user.token }));
    expect(progress).toMatchObject({ status: "failed" });
    // Chunk messages still queued or redelivered now find the upload failed and write nothing.
    const settled = (await chunkCounts(upload.id)).done;
    await deliverChunks(await pendingChunkMessages(upload.id));
    expect((await chunkCounts(upload.id)).done).toBe(settled);
    expect(await partitionExists(upload.id)).toBe(false);
    const mails = await emailsTo(user.email, "upload_failed");
    expect(mails).toHaveLength(1);
    expect(mails[0]?.body).toContain("failed repeatedly");
  });

  it("a dead-lettered chunk of an upload its progress object already completed leaves it completed", {
    timeout: 30_000,
  }, async () => {
    const { user, upload } = await finishedUpload(3000);
    const message = await chunkMessage(upload.id, 1);
    // The chunk committed but its report kept failing: Postgres still says processing.
    await withDb((db) =>
      db.update(csvUploads).set({ status: "processing", completedAt: null }).where(eq(csvUploads.id, upload.id)),
    );
    expect((await deliver("ingest-dlq", [message])).explicitAcks).toHaveLength(1);
    expect(await getUpload(user, upload.id)).toMatchObject({ status: "completed", total_rows: 3000, error: null });
    expect(await storedRows(upload.id)).toEqual({ n: 3000, distinct: 3000 });
  });

  it("a failing chunk is retried with exponential backoff", { timeout: 30_000 }, async () => {
    const { upload } = await finishedUpload(3000);
    const message = await chunkMessage(upload.id, 1);
    // Back to "processing, chunk 1 not yet in", with the file gone: the chunk cannot succeed.
    await withDb(async (db) => {
      await db.update(csvUploads).set({ status: "processing" }).where(eq(csvUploads.id, upload.id));
      await db
        .update(csvUploadChunks)
        .set({ doneAt: null })
        .where(and(eq(csvUploadChunks.uploadId, upload.id), eq(csvUploadChunks.chunkIndex, 1)));
    });
    await testEnv.FILES.delete(`csv-uploads/${upload.id}`);
    const delays: (number | undefined)[] = [];
    for (const attempts of [1, 2, 3, 4, 5]) {
      const batch = createMessageBatch("ingest-chunks", [
        { id: `backoff-${attempts}`, timestamp: new Date(), attempts, body: message },
      ]);
      // getQueueResult does not report a retry's delay in this runtime, so the call itself is watched.
      const retry = vi.spyOn(batch.messages[0]!, "retry");
      const ctx = createExecutionContext();
      await worker.queue(batch, testEnv, ctx);
      const result = await getQueueResult(batch, ctx);
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages).toHaveLength(1);
      delays.push(retry.mock.calls[0]?.[0]?.delaySeconds);
    }
    expect(delays).toEqual([1, 2, 4, 8, 16]);
  });

  it("a chunk whose bytes are gone keeps failing, is dead-lettered by the real queue and fails the upload", {
    timeout: 120_000,
  }, async () => {
    const { user, upload } = await uploadInProgress(1);
    await testEnv.FILES.delete(`csv-uploads/${upload.id}`);
    const lost = Date.now();
    const done = await finished(user, upload.id, 110_000);
    // Dead-lettered only after backing off 1 + 2 + 4 + 8 + 16 s between its six attempts.
    expect(Date.now() - lost).toBeGreaterThan(25_000);
    expect(done.status).toBe("failed");
    expect(done.error).toMatch(/failed repeatedly; the upload was stopped\.$/);
    expect(done.total_rows).toBe(0);
    await partitionDropped(upload.id);
    expect((await jobOf(user, upload)).status).toBe("failed");
  });
});

describe("ingestion: the progress object", () => {
  it("evicted mid-ingestion: nothing is lost, the counts are exact", { timeout: 60_000 }, async () => {
    const { user, upload } = await uploadInProgress(3);
    await evictDurableObject(progressOf(testEnv, upload.id));
    const done = await finished(user, upload.id, 50_000);
    expect(done).toMatchObject({ status: "completed", total_rows: 60_000, processed_rows: 60_000, error_rows: 0 });
    expect(await storedRows(upload.id)).toEqual({ n: 60_000, distinct: 60_000 });
  });

  it("with its storage wiped mid-ingestion: rebuilt from Postgres, completes with exact counts", {
    timeout: 60_000,
  }, async () => {
    const { user, upload } = await uploadInProgress(3);
    const stub = progressOf(testEnv, upload.id);
    await runInDurableObject(stub, async (_instance, state) => {
      await state.storage.deleteAll();
    });
    const done = await finished(user, upload.id, 50_000);
    expect(done).toMatchObject({ status: "completed", total_rows: 60_000, processed_rows: 60_000, error_rows: 0 });
    expect(await storedRows(upload.id)).toEqual({ n: 60_000, distinct: 60_000 });
    const live = await stub.state();
    expect(live).toMatchObject({ status: "completed", rows: 60_000, records: 60_000, errorRows: 0 });
    expect(live?.chunksDone).toBe(live?.chunksTotal);
    const progress = await json(await api(`/csv-data/uploads/${upload.id}/progress/`, { token: user.token }));
    expect(progress).toMatchObject({ status: "completed", percent: 100, processed_rows: 60_000 });
    await completedJob(user, upload);
  });

  it("its final report lost for good: the watchdog settles the upload from Postgres", { timeout: 60_000 }, async () => {
    const { user, upload } = await uploadInProgress(1);
    const stub = progressOf(testEnv, upload.id);
    // Armed while the upload runs, cleared once it ends.
    expect(await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm())).not.toBeNull();
    await finished(user, upload.id, 50_000);
    expect(await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm())).toBeNull();

    // Back to "every chunk committed, but the report that would settle it never arrived".
    await runInDurableObject(stub, async (_instance, state) => {
      const live = await state.storage.get<ProgressState>("state");
      await state.storage.put("state", { ...live, status: "processing", chunksTotal: null, finishedAt: null });
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    await reopen(upload);
    expect((await getUpload(user, upload.id)).status).toBe("processing");

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const done = await finished(user, upload.id, 20_000);
    expect(done).toMatchObject({ status: "completed", total_rows: 60_000, processed_rows: 60_000, error_rows: 0 });
    expect(await stub.state()).toMatchObject({ status: "completed", rows: 60_000 });
    expect(await storedRows(upload.id)).toEqual({ n: 60_000, distinct: 60_000 });
    await completedJob(user, upload);
  });

  it("a chunk message lost for good: a round without progress plans again, and the upload completes exactly", {
    timeout: 60_000,
  }, async () => {
    const { user, upload, done: first } = await finishedUpload(3000);
    expect(first.status).toBe("completed");
    const digest = await rowsDigest(upload.id);
    const lost = await chunkMessage(upload.id, 2);
    // Chunk 3 never ran and its message is gone; the previous watchdog round saw the same count.
    await reopen(upload);
    await uncommit(upload.id, [lost]);
    const stub = progressOf(testEnv, upload.id);
    await runInDurableObject(stub, async (_instance, state) => {
      const live = await state.storage.get<ProgressState>("state");
      if (!live) throw new Error("no progress state");
      const done = live.chunksDone - 1;
      await state.storage.put("state", {
        ...live,
        status: "processing",
        finishedAt: null,
        chunksDone: done,
        watchdogChunksDone: done,
      });
      await state.storage.setAlarm(Date.now() + 60_000);
    });

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const done = await finished(user, upload.id, 30_000);
    expect(done).toMatchObject({ status: "completed", total_rows: 3000, processed_rows: 3000, error_rows: 0 });
    expect(await storedRows(upload.id)).toEqual({ n: 3000, distinct: 3000 });
    expect(await rowsDigest(upload.id)).toBe(digest);
  });
});

describe("ingestion: query indexes on values", () => {
  it("builds a B-tree per column except free text (averaging over 64 characters), then says the indexes are ready", {
    timeout: 60_000,
  }, async () => {
    const user = await createUser();
    // `label` averages exactly 64 characters (indexed), `note` 65 (free text: the trigram index serves
    // it). `big` holds 70-digit integers: only strings can be free text, so it keeps its B-tree.
    const big = (tag: string) => `${"9".repeat(66)}${tag}`;
    const lines = ["id,label,note,big"];
    for (let i = 1; i <= 300; i++) {
      const tag = String(i).padStart(4, "0");
      lines.push(`${i},label-${tag}-${"l".repeat(53)},note-${tag}-${"n".repeat(55)},${big(tag)}`);
    }
    const upload = await formUpload(user, `${lines.join("\n")}\n`);
    expect((await finished(user, upload.id)).status).toBe("completed");
    expect((await indexesReady(user, upload.id)).indexes_ready).toBe(true);

    const partition = partitionName(upload.id);
    const hex = partition.slice("csv_rows_".length);
    const indexes = await withDb((db) =>
      db.execute<{ indexname: string; indexdef: string }>(
        sql`select indexname, indexdef from pg_indexes where tablename = ${partition} order by indexname`,
      ),
    );
    expect(indexes.rows.map((r) => r.indexname)).toEqual([
      `cr_${hex}_k0`,
      `cr_${hex}_k1`,
      `cr_${hex}_k3`,
      `cr_${hex}_trgm0`,
      `cr_${hex}_trgm1`,
      `${partition}_pkey`,
    ]);
    // The column B-trees are packed full: nothing is added to a completed upload's rows.
    for (const index of indexes.rows.filter((r) => /_k\d+$/.test(r.indexname))) {
      expect(index.indexdef).toMatch(/WITH \(fillfactor='100'\)$/);
    }

    // The free-text column still answers contains, equality and sorting, exactly.
    const rows = async (query: string) => {
      const response = await api(`/csv-data/uploads/${upload.id}/data/?${query}`, { token: user.token });
      expect(response.status).toBe(200);
      return json<{ count: number; results: { row_number: number; data: Record<string, unknown> }[] }>(response);
    };
    const contains = await rows("filter[note][contains]=NOTE-0042&page_size=5");
    expect(contains.count).toBe(1);
    expect(contains.results[0]).toEqual({
      row_number: 42,
      data: {
        id: 42,
        label: `label-0042-${"l".repeat(53)}`,
        note: `note-0042-${"n".repeat(55)}`,
        big: expect.anything(),
      },
    });
    expect((await rows(`note=note-0007-${"n".repeat(55)}`)).results.map((r) => r.row_number)).toEqual([7]);
    expect((await rows("sort_by=-note&page_size=2")).results.map((r) => r.row_number)).toEqual([300, 299]);
    // Search sees values only: a key name matches nothing.
    expect((await rows("search=label")).count).toBe(300);
    expect((await rows("search=note-02")).count).toBe(100);
    expect((await rows("search=id")).count).toBe(0);
  });
});

/** The plan of `select 1 … where <where>` when neither a sequential nor a plain index scan is allowed. */
async function planWithoutPlainScans(where: SQL): Promise<string> {
  return withDb((db) =>
    db.transaction(async (tx) => {
      await tx.execute(sql`set local enable_seqscan = off`);
      await tx.execute(sql`set local enable_indexscan = off`);
      const result = await tx.execute<{ "QUERY PLAN": string }>(sql`explain select 1 from csv_rows where ${where}`);
      return result.rows.map((row) => row["QUERY PLAN"]).join("\n");
    }),
  );
}

/** Row numbers of a search's first page (up to 20). */
async function searchRows(user: TestUser, uploadId: string, term: string): Promise<number[]> {
  const response = await api(`/csv-data/uploads/${uploadId}/data/?search=${term}&page_size=20`, { token: user.token });
  expect(response.status).toBe(200);
  return (await json<{ results: { row_number: number }[] }>(response)).results.map((r) => r.row_number);
}

describe("ingestion: the search index in parts", () => {
  it("splits the trigram index at half the records read, and a search uses both parts and finds rows on each side", {
    timeout: 60_000,
  }, async () => {
    const user = await createUser();
    // 301 records, three of them rejected (a missing field): 298 rows stored, 301 records read.
    const lines = ["id,word"];
    for (let i = 1; i <= 301; i++) lines.push(i % 100 === 0 ? `${i}` : `${i},word${String(i).padStart(3, "0")}x`);
    const upload = await formUpload(user, `${lines.join("\n")}\n`);
    expect(await finished(user, upload.id)).toMatchObject({
      status: "completed",
      total_rows: 298,
      processed_rows: 301,
    });
    await indexesReady(user, upload.id);

    const partition = partitionName(upload.id);
    const hex = partition.slice("csv_rows_".length);
    const parts = await withDb((db) =>
      db.execute<{ indexname: string; indexdef: string }>(
        sql`select indexname, indexdef from pg_indexes where tablename = ${partition} and indexname like '%trgm%' order by indexname`,
      ),
    );
    // Bounded by the records read (ceil(301 / 2) = 151), not by the rows stored.
    expect(parts.rows.map((r) => [r.indexname, r.indexdef.replace(/^.* WHERE /, "")])).toEqual([
      [`cr_${hex}_trgm0`, "(row_number <= 151)"],
      [`cr_${hex}_trgm1`, "(row_number > 151)"],
    ]);

    // The service's own condition, with plain scans ruled out: the planner reaches every part.
    const plan = await planWithoutPlainScans(
      whereClause({ id: upload.id, processedRows: 301, indexKeys: "typed" }, [], "word15"),
    );
    expect(plan).toContain(`Bitmap Index Scan on cr_${hex}_trgm0`);
    expect(plan).toContain(`Bitmap Index Scan on cr_${hex}_trgm1`);

    // Statistics on the searched text: a term in every row is expected to match a good share of them
    // (112 of 298 here). Partial indexes lend the planner none, and it would guess 1 row for any term.
    const estimate = await withDb(async (db) => {
      const every = whereClause({ id: upload.id, processedRows: 301, indexKeys: "typed" }, [], "word");
      const result = await db.execute<{ "QUERY PLAN": [{ Plan: { "Plan Rows": number } }] }>(
        sql`explain (format json) select 1 from csv_rows where ${every}`,
      );
      return result.rows[0]?.["QUERY PLAN"][0].Plan["Plan Rows"] ?? 0;
    });
    expect(estimate).toBeGreaterThan(50);
    // With a histogram four times the default, so that a term in a few percent of a large upload's
    // rows is not missed by every sampled text.
    const target = await withDb((db) =>
      db.execute<{ target: number }>(
        sql`select stxstattarget as target from pg_statistic_ext where stxname = ${`cr_${hex}_text`}`,
      ),
    );
    expect(target.rows[0]?.target).toBe(400);

    // The rows on either side of the bound, and a term that spans both parts.
    const search = (term: string) => searchRows(user, upload.id, term);
    expect(await search("word151x")).toEqual([151]);
    expect(await search("word152x")).toEqual([152]);
    expect(await search("word15")).toEqual([150, 151, 152, 153, 154, 155, 156, 157, 158, 159]);
    expect(await search("word30")).toEqual([301]);
  });

  it("an upload indexed before the split, as one whole trigram index, is still searched through it", {
    timeout: 60_000,
  }, async () => {
    const user = await createUser();
    const lines = ["id,word"];
    for (let i = 1; i <= 200; i++) lines.push(`${i},word${i}x`);
    const upload = await formUpload(user, `${lines.join("\n")}\n`);
    expect((await finished(user, upload.id)).status).toBe("completed");
    await indexesReady(user, upload.id);
    const partition = partitionName(upload.id);
    const hex = partition.slice("csv_rows_".length);
    // The layout an earlier version built: no parts, one whole index over every row.
    await withDb(async (db) => {
      await db.execute(sql.raw(`drop index "cr_${hex}_trgm0", "cr_${hex}_trgm1"`));
      await db.execute(
        sql.raw(`create index "cr_${hex}_trgm" on "${partition}" using gin ((data::text) gin_trgm_ops)`),
      );
      await db.execute(sql.raw(`analyze "${partition}"`));
    });

    const plan = await planWithoutPlainScans(
      whereClause({ id: upload.id, processedRows: 200, indexKeys: "typed" }, [], "word15"),
    );
    expect(plan).toContain(`Bitmap Index Scan on cr_${hex}_trgm  (`);
    expect(await searchRows(user, upload.id, "word15")).toEqual([15, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159]);
  });
});
