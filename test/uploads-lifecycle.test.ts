import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { csvUploads, emailLog, jobs } from "../src/db/schema.ts";
import { api, createUser, json, testEnv, withDb } from "./helpers.ts";
import {
  chunkCounts,
  finished,
  formUpload,
  getJob,
  getUpload,
  partitionExists,
  processingWith,
  sampleCsv,
  startPresignedUpload,
  storedRows,
  type Upload,
} from "./uploads-fixtures.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("cancelling an upload", () => {
  it("while processing: no further chunk inserts, status and job cancelled, partition dropped", {
    timeout: 60_000,
  }, async () => {
    const user = await createUser();
    // ~9 MB in 64 KiB chunks: well over a hundred chunks, so the cancel lands mid-ingestion.
    const upload = await formUpload(user, sampleCsv(60_000));
    await processingWith(user, upload.id, 3);
    const response = await api(`/csv-data/uploads/${upload.id}/cancel/`, { method: "POST", token: user.token });
    expect(response.status).toBe(202);
    const body = await json<Upload>(response);
    expect(body.status).toBe("cancelled");
    expect(body.completed_at).not.toBeNull();

    const atCancel = await chunkCounts(upload.id);
    await sleep(1500);
    // Chunks still queued (or redelivered) see `cancelled` and write nothing.
    expect((await chunkCounts(upload.id)).done).toBe(atCancel.done);
    expect(await partitionExists(upload.id)).toBe(false);
    expect(await getUpload(user, upload.id)).toMatchObject({ status: "cancelled", total_rows: 0 });
    expect(await getJob(user, upload.job!)).toMatchObject({ status: "cancelled", message: "Cancelled." });
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
    expect(await getJob(user, upload.job!)).toMatchObject({ status: "cancelled" });
    const complete = await api(`/csv-data/uploads/${upload.id}/complete/`, {
      token: user.token,
      json: { parts: [{ part_number: 1, etag: "x" }] },
    });
    expect(complete.status).toBe(409);
  });

  it("after completion: 409 and the rows stay", async () => {
    const user = await createUser();
    const upload = await formUpload(user, sampleCsv(2000));
    expect((await finished(user, upload.id)).status).toBe("completed");
    const response = await api(`/csv-data/uploads/${upload.id}/cancel/`, { method: "POST", token: user.token });
    expect(response.status).toBe(409);
    expect(await storedRows(upload.id)).toEqual({ n: 2000, distinct: 2000 });
    expect(await getUpload(user, upload.id)).toMatchObject({ status: "completed", total_rows: 2000 });
  });

  it("right after the progress object settled completed, before Postgres heard: 409, the outcome is persisted, rows intact", {
    timeout: 30_000,
  }, async () => {
    const user = await createUser();
    const upload = await formUpload(user, sampleCsv(2000));
    expect((await finished(user, upload.id)).status).toBe("completed");
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
    expect(await getJob(user, upload.job!)).toMatchObject({ status: "completed" });
    await withDb(async (db) => {
      const mails = await db
        .select()
        .from(emailLog)
        .where(and(eq(emailLog.toAddress, user.email), eq(emailLog.template, "upload_completed")));
      expect(mails).toHaveLength(1);
      const [row] = (await db.execute<{ status: string }>(sql`select status from csv_uploads where id = ${upload.id}`))
        .rows;
      expect(row?.status).toBe("completed");
    });
  });
});
