/**
 * Shared fixtures of the upload, ingestion, progress and jobs tests: real uploads through the API
 * (form or presigned), waiting for an upload to end, and Postgres probes of its rows and chunks.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { and, eq, sql } from "drizzle-orm";
import { expect } from "vitest";
import type { Schemas } from "../../client/index.ts";
import type { ChunkMessage } from "../../src/features/uploads/ingest/messages.ts";
import { partitionName } from "../../src/features/uploads/ingest/partitions.ts";
import worker from "../../src/index.ts";
import { csvUploadChunks } from "../../src/platform/db/schema.ts";
import { eventually, testEnv, withDb } from "./env.ts";
import { api, json, runtimeOrigin } from "./http.ts";
import { createUser, type TestUser } from "./users.ts";

/**
 * The answers as the OpenAPI document declares them (the generated client's types, which
 * `npm run client:check` keeps equal to the document), so a suite cannot assume a field the API
 * does not promise. An upload made presigned also carries its part URLs.
 */
export type Upload = Schemas["Upload"] & Partial<Pick<Schemas["CreatedUpload"], "upload">>;
export type Job = Schemas["Job"];
export type Progress = Schemas["UploadProgress"];

export const encode = (text: string) => new TextEncoder().encode(text);

const PADDING = "x".repeat(120);

/**
 * A CSV of `rows` records with quoted commas, quotes and newlines in the `note` column; with
 * `typed`, also a boolean `Active` and a date `Joined` column (before `Note`), so every column type
 * the API detects is present.
 */
export function sampleCsv(rows: number, options: { typed?: boolean } = {}): string {
  const lines = [options.typed ? "id,Name,Amount,Active,Joined,Note" : "id,Name,Amount,Note"];
  for (let i = 1; i <= rows; i++) {
    const note =
      i % 7 === 0 ? `"multi\nline, ""quoted"" ${i}"` : i % 5 === 0 ? `"comma, ${i}"` : `plain ${i} ${PADDING}`;
    const typed = options.typed ? `${i % 2 === 0},2026-01-${String((i % 28) + 1).padStart(2, "0")},` : "";
    lines.push(`${i},Person ${i},${(i * 1.5).toFixed(2)},${typed}${note}`);
  }
  return `${lines.join("\n")}\n`;
}

/** A small file sent as multipart/form-data: validated and queued at once (202). */
export async function formUpload(user: TestUser, text: string, filename = "data.csv"): Promise<Upload> {
  const form = new FormData();
  form.set("file", new File([text], filename, { type: "text/csv" }));
  const response = await api("/csv-data/uploads/", { token: user.token, body: form });
  expect(response.status).toBe(202);
  return json<Upload>(response);
}

/** Creates a presigned upload (status `awaiting_upload`, job `pending`) without sending any part. */
export async function startPresignedUpload(user: TestUser, sizeBytes: number, filename = "data.csv"): Promise<Upload> {
  const origin = await runtimeOrigin();
  const created = await api(`${origin}/api/v1/csv-data/uploads/`, {
    token: user.token,
    json: { filename, size_bytes: sizeBytes },
  });
  expect(created.status).toBe(201);
  return json<Upload>(created);
}

/** PUTs every part of `bytes` for real to a started presigned upload, then asks to complete it. */
export async function sendPartsAndComplete(user: TestUser, upload: Upload, bytes: Uint8Array): Promise<Response> {
  const plan = upload.upload;
  if (!plan) throw new Error("a presigned upload without its part URLs");
  const parts = [];
  for (const part of plan.parts) {
    const slice = bytes.subarray((part.part_number - 1) * plan.part_size, part.part_number * plan.part_size);
    const put = await fetch(part.url, { method: "PUT", body: slice });
    expect(put.status).toBe(200);
    parts.push({ part_number: part.part_number, etag: put.headers.get("ETag") ?? "" });
  }
  return api(`/csv-data/uploads/${upload.id}/complete/`, { token: user.token, json: { parts } });
}

/** The whole presigned flow: create, PUT every part for real, complete (the answer is the caller's to check). */
export async function presignedUpload(user: TestUser, bytes: Uint8Array, filename = "data.csv") {
  const upload = await startPresignedUpload(user, bytes.length, filename);
  return { upload, completed: await sendPartsAndComplete(user, upload, bytes) };
}

export async function getUpload(user: TestUser, id: string): Promise<Upload> {
  return json<Upload>(await api(`/csv-data/uploads/${id}/`, { token: user.token }));
}

/** The job that carries out the upload, as `user` reads it through the API. */
export async function jobOf(user: TestUser, upload: Pick<Upload, "job">): Promise<Job> {
  if (!upload.job) throw new Error("an upload without its job");
  return json<Job>(await api(`/jobs/${upload.job}/`, { token: user.token }));
}

/** Waits for the upload's job to complete: it may end a moment after the upload it carries out. */
export async function completedJob(user: TestUser, upload: Pick<Upload, "job">): Promise<Job> {
  return eventually(async () => {
    const job = await jobOf(user, upload);
    return job.status === "completed" ? job : undefined;
  });
}

/** Waits for the upload to end (completed, failed or cancelled) as its details report it. */
export async function finished(user: TestUser, id: string, timeoutMs = 30_000): Promise<Upload> {
  let last: Upload | undefined;
  return eventually(async () => {
    last = await getUpload(user, id);
    return ["completed", "failed", "cancelled"].includes(last.status) ? last : undefined;
  }, timeoutMs).catch(async (error: unknown) => {
    // What the upload, its progress object and its chunks said last: where a stuck ingestion stopped.
    const progress = await (await api(`/csv-data/uploads/${id}/progress/`, { token: user.token })).text();
    const chunks = await chunkCounts(id);
    throw new Error(
      `upload did not finish: ${JSON.stringify({ ...last, columns: undefined })} ${progress} ${JSON.stringify(chunks)}`,
      { cause: error },
    );
  });
}

/** Waits until the upload's details say its query indexes are ready; the details then. */
export async function indexesReady(user: TestUser, id: string, timeoutMs = 30_000): Promise<Upload> {
  return eventually(async () => {
    const details = await getUpload(user, id);
    return details.indexes_ready ? details : undefined;
  }, timeoutMs);
}

/** A new user's upload of `sampleCsv(rows)`, waited for until it ends. */
export async function finishedUpload(rows: number): Promise<{ user: TestUser; upload: Upload; done: Upload }> {
  const user = await createUser();
  const upload = await formUpload(user, sampleCsv(rows));
  return { user, upload, done: await finished(user, upload.id) };
}

/**
 * A new user's upload of `sampleCsv(rows)` (60,000 rows by default: about 9 MB, well over a hundred
 * 64 KiB chunks, so whatever the test does next lands mid-ingestion), waited for until it is
 * processing with `chunks` chunks committed.
 */
export async function uploadInProgress(chunks = 2, rows = 60_000): Promise<{ user: TestUser; upload: Upload }> {
  const user = await createUser();
  const upload = await formUpload(user, sampleCsv(rows));
  await processingWith(user, upload.id, chunks);
  return { user, upload };
}

/** Chunks planned and chunks whose rows are committed, straight from Postgres. */
export async function chunkCounts(uploadId: string): Promise<{ planned: number; done: number }> {
  const rows = await withDb((db) =>
    db
      .select({ planned: sql<string>`count(*)`, done: sql<string>`count(${csvUploadChunks.doneAt})` })
      .from(csvUploadChunks)
      .where(eq(csvUploadChunks.uploadId, uploadId)),
  );
  return { planned: Number(rows[0]?.planned ?? 0), done: Number(rows[0]?.done ?? 0) };
}

/** Whether the upload's rows partition exists. */
export async function partitionExists(uploadId: string): Promise<boolean> {
  const result = await withDb((db) =>
    db.execute<{ name: string | null }>(sql`select to_regclass(${partitionName(uploadId)})::text as name`),
  );
  return result.rows[0]?.name !== null && result.rows[0]?.name !== undefined;
}

/**
 * Waits until the upload's rows partition is gone. A failed upload's is dropped just after the
 * outcome is written, and the drop first waits for the queries already reading `csv_rows`.
 */
export async function partitionDropped(uploadId: string): Promise<void> {
  await eventually(async () => ((await partitionExists(uploadId)) ? undefined : true), 20_000);
}

/** Rows stored for the upload and how many distinct row numbers they have. */
export async function storedRows(uploadId: string): Promise<{ n: number; distinct: number }> {
  const table = sql.identifier(partitionName(uploadId));
  const result = await withDb((db) =>
    db.execute<{ n: string; d: string }>(sql`select count(*) as n, count(distinct row_number) as d from ${table}`),
  );
  return { n: Number(result.rows[0]?.n ?? 0), distinct: Number(result.rows[0]?.d ?? 0) };
}

/** Waits until the upload is processing with at least `chunks` chunks committed. */
export async function processingWith(user: TestUser, id: string, chunks = 2): Promise<void> {
  await eventually(
    async () => {
      const upload = await getUpload(user, id);
      if (upload.status !== "processing" && upload.status !== "queued") {
        throw new Error(`expected the upload to be processing, it is ${upload.status}`);
      }
      return upload.status === "processing" && (await chunkCounts(id)).done >= chunks ? true : undefined;
    },
    20_000,
    25,
  );
}

/** The chunk message the planner sent for `index`, rebuilt from its csv_upload_chunks row. */
export async function chunkMessage(uploadId: string, index: number): Promise<ChunkMessage> {
  const [chunk] = await withDb((db) =>
    db
      .select()
      .from(csvUploadChunks)
      .where(and(eq(csvUploadChunks.uploadId, uploadId), eq(csvUploadChunks.chunkIndex, index))),
  );
  if (!chunk) throw new Error(`chunk ${index} not planned`);
  const [next] = await withDb((db) =>
    db
      .select({ firstRow: csvUploadChunks.firstRowNumber })
      .from(csvUploadChunks)
      .where(and(eq(csvUploadChunks.uploadId, uploadId), eq(csvUploadChunks.chunkIndex, index + 1))),
  );
  if (!next) throw new Error("pick a chunk that is not the last");
  return {
    kind: "chunk",
    uploadId,
    index,
    start: chunk.byteStart,
    end: chunk.byteEnd,
    firstRow: chunk.firstRowNumber,
    firstLine: chunk.firstLine,
    // The planner counted the records in the range; the next chunk starts right after them.
    records: next.firstRow - chunk.firstRowNumber,
  };
}

/** Runs the worker's own queue handler on a batch of `bodies` for `queue`, as the runtime would. */
export async function deliver(queue: string, bodies: unknown[], attempts = 1) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `test-${crypto.randomUUID()}-${i}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, testEnv, ctx);
  return getQueueResult(batch, ctx);
}

/** The messages of up to `count` planned chunks that are not done yet (the last chunk aside). */
export async function pendingChunkMessages(uploadId: string, count = 5): Promise<ChunkMessage[]> {
  const rows = await withDb((db) =>
    db
      .select({ index: csvUploadChunks.chunkIndex, doneAt: csvUploadChunks.doneAt })
      .from(csvUploadChunks)
      .where(eq(csvUploadChunks.uploadId, uploadId))
      .orderBy(csvUploadChunks.chunkIndex),
  );
  const pending = rows
    .slice(0, -1)
    .filter((row) => row.doneAt === null)
    .slice(0, count);
  return Promise.all(pending.map((row) => chunkMessage(uploadId, row.index)));
}

/**
 * Delivers chunk messages straight to the worker's queue handler, as a late or redelivered message
 * would arrive, and checks each was acked (not retried). This proves what such a message does
 * without waiting for the real queue to drain: afterwards, whatever it wrote is there to see.
 */
export async function deliverChunks(messages: ChunkMessage[]): Promise<void> {
  expect(messages.length).toBeGreaterThan(0);
  const result = await deliver("ingest-chunks", messages);
  expect(result.explicitAcks).toHaveLength(messages.length);
  expect(result.retryMessages).toEqual([]);
}
