import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import * as lifecycle from "../../src/features/uploads/ingest/upload-lifecycle.ts";
import { progressOf } from "../../src/features/uploads/progress/upload-progress.ts";
import { csvUploadChunks, csvUploads, emailLog, jobs } from "../../src/platform/db/schema.ts";
import { emailsTo } from "../support/email.ts";
import { testEnv, withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import {
  chunkCounts,
  deliverChunks,
  finished,
  finishedUpload,
  formUpload,
  getUpload,
  type Job,
  jobOf,
  partitionDropped,
  partitionExists,
  pendingChunkMessages,
  startPresignedUpload,
  storedRows,
  type Upload,
  uploadInProgress,
} from "../support/uploads.ts";
import { createUser } from "../support/users.ts";

describe("cancelling an upload", () => {
  it("while processing: no further chunk inserts, status and job cancelled, partition dropped", {
    timeout: 60_000,
  }, async () => {
    // ~9 MB in 64 KiB chunks: well over a hundred chunks, so the cancel lands mid-ingestion.
    const { user, upload } = await uploadInProgress(3);
    const response = await api(`/csv-data/uploads/${upload.id}/cancel/`, { method: "POST", token: user.token });
    expect(response.status).toBe(202);
    const body = await json<Upload>(response);
    expect(body.status).toBe("cancelled");
    expect(body.completed_at).not.toBeNull();

    // Chunks still queued (or redelivered) see `cancelled` and write nothing.
    const atCancel = await chunkCounts(upload.id);
    await deliverChunks(await pendingChunkMessages(upload.id));
    expect((await chunkCounts(upload.id)).done).toBe(atCancel.done);
    expect(await partitionExists(upload.id)).toBe(false);
    expect(await getUpload(user, upload.id)).toMatchObject({ status: "cancelled", total_rows: 0 });
    expect(await jobOf(user, upload)).toMatchObject({ status: "cancelled", message: "Cancelled." });
    const progress = await json(await api(`/csv-data/uploads/${upload.id}/progress/`, { token: user.token }));
    expect(progress).toMatchObject({ status: "cancelled" });
    const live = await testEnv.UPLOAD_PROGRESS.get(testEnv.UPLOAD_PROGRESS.idFromName(upload.id)).state();
    expect(live?.status).toBe("cancelled");
    // Neither a completion nor a failure mail for a cancelled upload.
    await withDb(async (db) => {
      const mails = await db.select().from(emailLog).where(eq(emailLog.toAddress, user.email));
      expect(mails.filter((m) => m.template.startsWith("upload_"))).toHaveLength(0);
    });
    expect((await api(`/csv-data/uploads/${upload.id}/cancel/`, { method: "POST", token: user.token })).status).toBe(
      409,
    );
  });

  it("awaiting its file: 202, the multipart upload is aborted and complete is then refused", async () => {
    const user = await createUser();
    const upload = await startPresignedUpload(user, 100);
    const response = await api(`/csv-data/uploads/${upload.id}/cancel/`, { method: "POST", token: user.token });
    expect(response.status).toBe(202);
    expect(await jobOf(user, upload)).toMatchObject({ status: "cancelled" });
    // The multipart upload is gone: its part URL leads nowhere.
    const part = await fetch(upload.upload?.parts[0]?.url ?? "", { method: "PUT", body: "a,b\n1,2\n" });
    expect(part.status).toBe(404);
    const complete = await api(`/csv-data/uploads/${upload.id}/complete/`, {
      token: user.token,
      json: { parts: [{ part_number: 1, etag: "x" }] },
    });
    expect(complete.status).toBe(409);
  });

  it("after completion: 409 and the rows stay", async () => {
    const { user, upload, done } = await finishedUpload(2000);
    expect(done.status).toBe("completed");
    const response = await api(`/csv-data/uploads/${upload.id}/cancel/`, { method: "POST", token: user.token });
    expect(response.status).toBe(409);
    expect(await storedRows(upload.id)).toEqual({ n: 2000, distinct: 2000 });
    expect(await getUpload(user, upload.id)).toMatchObject({ status: "completed", total_rows: 2000 });
  });

  it("right after the progress object settled completed, before Postgres heard: 409, the outcome is persisted, rows intact", {
    timeout: 30_000,
  }, async () => {
    const { user, upload, done } = await finishedUpload(2000);
    expect(done.status).toBe("completed");
    // Recreate the window: the object has settled, but Postgres still says processing (as it
    // does between the last chunk's report and its persisting the outcome).
    await withDb(async (db) => {
      await db
        .update(csvUploads)
        .set({ status: "processing", completedAt: null, totalRows: 0 })
        .where(eq(csvUploads.id, upload.id));
      await db.update(jobs).set({ status: "running" }).where(eq(jobs.id, upload.job!));
      await db
        .delete(emailLog)
        .where(and(eq(emailLog.toAddress, user.email), eq(emailLog.template, "upload_completed")));
    });
    const response = await api(`/csv-data/uploads/${upload.id}/cancel/`, { method: "POST", token: user.token });
    expect(response.status).toBe(409);
    expect((await json(response)).detail).toMatch(/completed/);
    expect(await partitionExists(upload.id)).toBe(true);
    expect(await storedRows(upload.id)).toEqual({ n: 2000, distinct: 2000 });
    expect(await getUpload(user, upload.id)).toMatchObject({ status: "completed", total_rows: 2000 });
    expect(await jobOf(user, upload)).toMatchObject({ status: "completed" });
    await withDb(async (db) => {
      const mails = await emailsTo(user.email, "upload_completed");
      expect(mails).toHaveLength(1);
      const [row] = (await db.execute<{ status: string }>(sql`select status from csv_uploads where id = ${upload.id}`))
        .rows;
      expect(row?.status).toBe("completed");
    });
  });
});

const UPLOAD_FIELDS = [
  "columns",
  "completed_at",
  "created_at",
  "delimiter",
  "error",
  "error_rows",
  "errors",
  "filename",
  "id",
  "indexes_ready",
  "job",
  "processed_rows",
  "size_bytes",
  "started_at",
  "status",
  "total_rows",
];

/** Every 12th record has two fields instead of three; no quoted newlines, so record i is on line i + 1. */
function csvWithBadRows(rows: number): string {
  const lines = ["id,Name,Amount"];
  for (let i = 1; i <= rows; i++) {
    lines.push(i % 12 === 0 ? `${i},only two fields` : `${i},name ${i} ${"y".repeat(120)},${i}.5`);
  }
  return `${lines.join("\n")}\n`;
}

describe("the allowed error ratio (10 %)", () => {
  /** 100 records, the last `bad` of them with a field missing. */
  function csvWithRejected(bad: number): string {
    const lines = ["id,name,amount"];
    for (let i = 1; i <= 100; i++) lines.push(i > 100 - bad ? `${i},only two fields` : `${i},name ${i},${i}.5`);
    return `${lines.join("\n")}\n`;
  }

  it("exactly at the ratio the upload completes; one record more and it fails with the figures", async () => {
    const user = await createUser();
    const atLimit = await formUpload(user, csvWithRejected(10));
    const completed = { status: "completed", total_rows: 90, processed_rows: 100, error_rows: 10, error: null };
    expect(await finished(user, atLimit.id)).toMatchObject(completed);
    expect(await storedRows(atLimit.id)).toEqual({ n: 90, distinct: 90 });

    const above = await formUpload(user, csvWithRejected(11));
    expect(await finished(user, above.id)).toMatchObject({
      status: "failed",
      total_rows: 0,
      processed_rows: 100,
      error_rows: 11,
      error: "11 of 100 records were rejected (11%), above the allowed 10%.",
    });
    await partitionDropped(above.id);
    expect(await jobOf(user, above)).toMatchObject({ status: "failed" });
  });
});

describe("upload details and list", () => {
  it("details: counts, the first 100 errors by line across chunks, the job id, timestamps", {
    timeout: 30_000,
  }, async () => {
    const user = await createUser();
    const text = csvWithBadRows(1500);
    const upload = await formUpload(user, text, "bad-rows.csv");
    await finished(user, upload.id);
    // Several chunks, so errors from different chunks are merged by line.
    expect((await chunkCounts(upload.id)).planned).toBeGreaterThan(2);
    const response = await api(`/csv-data/uploads/${upload.id}/`, { token: user.token });
    expect(response.status).toBe(200);
    const body = await json<Upload>(response);
    expect(Object.keys(body).sort()).toEqual(UPLOAD_FIELDS);
    // 125 of 1500 rejected (8.3%) is under the 10% limit: completed, the good rows stored.
    expect(body).toMatchObject({
      filename: "bad-rows.csv",
      size_bytes: new TextEncoder().encode(text).length,
      status: "completed",
      total_rows: 1375,
      processed_rows: 1500,
      error_rows: 125,
      delimiter: ",",
      error: null,
      job: upload.job,
      columns: [
        { key: "id", name: "id", type: "integer" },
        { key: "name", name: "Name", type: "string" },
        { key: "amount", name: "Amount", type: "number" },
      ],
    });
    expect(body.errors).toHaveLength(100);
    expect(body.errors).toEqual(
      Array.from({ length: 100 }, (_, k) => ({ line: 12 * (k + 1) + 1, reason: "expected 3 fields, found 2" })),
    );
    const created = Date.parse(body.created_at);
    const started = Date.parse(body.started_at!);
    const completed = Date.parse(body.completed_at!);
    expect(created).toBeLessThanOrEqual(started);
    expect(started).toBeLessThanOrEqual(completed);
    expect(await storedRows(upload.id)).toEqual({ n: 1375, distinct: 1375 });
    const job = await jobOf(user, upload);
    expect(job).toMatchObject({
      status: "completed",
      result_id: upload.id,
      metadata: { total_rows: 1375, processed_rows: 1500, error_rows: 125 },
    });
  });

  it("list: the caller's uploads newest first, paginated with full links", async () => {
    const user = await createUser();
    const other = await createUser();
    const first = await startPresignedUpload(user, 100, "first.csv");
    const second = await startPresignedUpload(user, 100, "second.csv");
    await startPresignedUpload(other, 100, "other.csv");
    const response = await api("/csv-data/uploads/?page_size=1", { token: user.token });
    expect(response.status).toBe(200);
    const page = await json<{ count: number; next: string | null; previous: string | null; results: Upload[] }>(
      response,
    );
    expect(page.count).toBe(2);
    expect(page.previous).toBeNull();
    expect(page.results.map((u) => u.id)).toEqual([second.id]);
    expect(Object.keys(page.results[0]!).sort()).toEqual(UPLOAD_FIELDS);
    expect(page.results[0]).toMatchObject({ status: "awaiting_upload", job: second.job, started_at: null });
    expect(page.next).toMatch(/^http:\/\/.+\/api\/v1\/csv-data\/uploads\/\?.*page=2/);
    const next = await json<{ results: Upload[]; next: string | null }>(await api(page.next!, { token: user.token }));
    expect(next.results.map((u) => u.id)).toEqual([first.id]);
    expect(next.next).toBeNull();
    expect((await api("/csv-data/uploads/?page_size=101", { token: user.token })).status).toBe(400);
  });
});

describe("deleting an upload", () => {
  it("204: rows (partition), file, progress and details are gone; the job stays as history", async () => {
    const { user, upload } = await finishedUpload(500);
    expect(await partitionExists(upload.id)).toBe(true);
    const response = await api(`/csv-data/uploads/${upload.id}/`, { method: "DELETE", token: user.token });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    expect(await partitionExists(upload.id)).toBe(false);
    expect(await testEnv.FILES.head(`csv-uploads/${upload.id}`)).toBeNull();
    expect(await progressOf(testEnv, upload.id).state()).toBeNull();
    for (const path of ["/", "/progress/", "/data/"]) {
      expect((await api(`/csv-data/uploads/${upload.id}${path}`, { token: user.token })).status).toBe(404);
    }
    expect((await api(`/csv-data/uploads/${upload.id}/`, { method: "DELETE", token: user.token })).status).toBe(404);
    await withDb(async (db) => {
      expect(await db.select().from(csvUploadChunks).where(eq(csvUploadChunks.uploadId, upload.id))).toHaveLength(0);
    });
    // The job keeps its record of what happened; its result is gone.
    expect(await jobOf(user, upload)).toMatchObject({ status: "completed", result_id: upload.id });
  });

  it("the /delete/ alias answers the same", async () => {
    const user = await createUser();
    const upload = await formUpload(user, "a,b\n1,2\n");
    await finished(user, upload.id);
    const response = await api(`/csv-data/uploads/${upload.id}/delete/`, { method: "DELETE", token: user.token });
    expect(response.status).toBe(204);
    expect((await api(`/csv-data/uploads/${upload.id}/`, { token: user.token })).status).toBe(404);
  });

  it("while processing: cancelled first (the job ends cancelled), then everything is removed", {
    timeout: 60_000,
  }, async () => {
    const { user, upload } = await uploadInProgress(2);
    // Read before the delete, which removes the chunk rows they are rebuilt from.
    const late = await pendingChunkMessages(upload.id);
    const response = await api(`/csv-data/uploads/${upload.id}/`, { method: "DELETE", token: user.token });
    expect(response.status).toBe(204);
    expect(await jobOf(user, upload)).toMatchObject({ status: "cancelled" });
    // Chunks still in the queue find no upload and write nothing; the partition stays gone.
    await deliverChunks(late);
    expect(await partitionExists(upload.id)).toBe(false);
    expect(await testEnv.FILES.head(`csv-uploads/${upload.id}`)).toBeNull();
    expect(await progressOf(testEnv, upload.id).state()).toBeNull();
    const jobs = await json<Job[]>(await api("/jobs/?status=cancelled", { token: user.token }));
    expect(jobs.map((job) => job.id)).toContain(upload.job);
  });
});

describe("the lifecycle's own guards (whatever a caller checked before)", () => {
  const rowOf = async (id: string) => {
    const [row] = await withDb((db) => db.select().from(csvUploads).where(eq(csvUploads.id, id)));
    if (!row) throw new Error("no upload row");
    return row;
  };

  it("cancel leaves an upload that already ended as it is", async () => {
    const { user, upload } = await finishedUpload(10);
    expect(await withDb(async (db) => lifecycle.cancel(db, await rowOf(upload.id)))).toBeUndefined();
    expect(await getUpload(user, upload.id)).toMatchObject({ status: "completed", total_rows: 10 });
  });

  it("accept queues only an upload still awaiting its file: a cancelled one stays cancelled", async () => {
    const user = await createUser();
    const upload = await startPresignedUpload(user, 100);
    expect((await api(`/csv-data/uploads/${upload.id}/cancel/`, { method: "POST", token: user.token })).status).toBe(
      202,
    );
    const layout = {
      delimiter: ",",
      newline: "\n",
      columns: [{ key: "a", name: "a", type: "string" as const }],
      dataOffset: 2,
    };
    const row = await rowOf(upload.id);
    expect(await withDb((db) => db.transaction((tx) => lifecycle.accept(tx, row, layout)))).toBeUndefined();
    expect(await getUpload(user, upload.id)).toMatchObject({ status: "cancelled" });
  });
});
