/**
 * Rules and queries of CSV uploads: creating an upload with its job, accepting the stored file
 * (validation before any row is written), listing, cancelling and deleting. Byte work happens in
 * the ingest feature; this module only decides and records.
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import type { AppConfig } from "../../platform/config/config.ts";
import type { Db, PoolDb, Queryable } from "../../platform/db/client.ts";
import { csvUploadChunks, csvUploads } from "../../platform/db/schema.ts";
import { countedPage, countOf, newestFirst, type PageParams } from "../../platform/http/pagination.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { errorFields, log } from "../../platform/lib/log.ts";
import { maskId } from "../../platform/lib/mask.ts";
import type { PlanMessage } from "./ingest/messages.ts";
import { persistOutcome } from "./ingest/outcome.ts";
import { dropPartition } from "./ingest/partitions.ts";
import * as lifecycle from "./ingest/upload-lifecycle.ts";
import { analyseSample, CsvRejection, SAMPLE_BYTES } from "./ingest/validate.ts";
import { isTerminal } from "./progress/progress-state.ts";
import { progressOf } from "./progress/upload-progress.ts";
import { checkActiveUploads, checkStorageQuota, lockOwnerQuota } from "./uploads.quota.ts";
import { finalProgress } from "./uploads.serializer.ts";

export type UploadRow = lifecycle.UploadRow;

export function checkFile(config: AppConfig, filename: string, sizeBytes: number, maxBytes: number): void {
  const lower = filename.toLowerCase();
  if (!config.UPLOAD_ALLOWED_EXTENSIONS.some((ext) => lower.endsWith(ext.toLowerCase()))) {
    throw ApiError.invalidParameter("filename", `must end with one of ${config.UPLOAD_ALLOWED_EXTENSIONS.join(", ")}`);
  }
  if (sizeBytes > maxBytes) {
    throw ApiError.tooLarge(`The file is ${sizeBytes} bytes; the limit is ${maxBytes} bytes.`);
  }
}

/**
 * Creates the upload (awaiting its bytes) and its job in one transaction, within the owner's
 * quotas: its declared size must fit `UPLOAD_QUOTA_BYTES` (413), and since it is meant to be
 * ingested, the owner must have fewer than `UPLOAD_MAX_ACTIVE` uploads queued or processing (429;
 * completing it checks that again).
 */
export async function createUpload(
  db: PoolDb,
  config: AppConfig,
  input: { ownerId: number; filename: string; sizeBytes: number; contentType?: string | null },
): Promise<UploadRow> {
  return db.transaction(async (tx) => {
    await lockOwnerQuota(tx, input.ownerId);
    await checkStorageQuota(tx, config, input.ownerId, input.sizeBytes);
    await checkActiveUploads(tx, config, input.ownerId);
    return lifecycle.open(tx, input);
  });
}

export async function recordMultipart(
  db: Queryable,
  id: string,
  r2UploadId: string,
  partSize: number,
  partCount: number,
) {
  await db.update(csvUploads).set({ r2UploadId, partSize, partCount }).where(eq(csvUploads.id, id));
}

/** The caller's upload, or 404 (other users' uploads are not visible). */
export async function getOwnUpload(db: Queryable, ownerId: number, id: string): Promise<UploadRow> {
  const [upload] = await db
    .select()
    .from(csvUploads)
    .where(and(eq(csvUploads.id, id), eq(csvUploads.ownerId, ownerId)));
  if (!upload) throw ApiError.notFound("Upload");
  return upload;
}

/** Assembles the presigned parts into the object; the upload must still be awaiting its bytes. */
export async function completeMultipart(
  env: Env,
  upload: UploadRow,
  parts: { part_number: number; etag: string }[],
): Promise<void> {
  if (upload.status !== "awaiting_upload" || !upload.r2UploadId) {
    throw ApiError.conflict(`The upload is already ${upload.status.replace("_", " ")}.`);
  }
  // Assembled by an earlier call whose queueing was refused (too many active uploads): the parts
  // are gone, the object is there, and a retry goes on to queue it.
  if (await env.FILES.head(upload.r2Key)) return;
  const sorted = [...parts].sort((a, b) => a.part_number - b.part_number);
  try {
    await env.FILES.resumeMultipartUpload(upload.r2Key, upload.r2UploadId).complete(
      sorted.map((part) => ({ partNumber: part.part_number, etag: part.etag.replace(/^W\//, "").replaceAll('"', "") })),
    );
  } catch (error) {
    log("warn", "multipart completion failed", errorFields(error));
    throw ApiError.badRequest(
      "The parts could not be assembled: check that every part was uploaded and that each etag is the one R2 returned.",
      [{ field: "parts", message: "do not match the uploaded parts" }],
    );
  }
}

/**
 * Validates the stored object and starts ingestion, or rejects it (422, status `rejected`, job
 * failed, object deleted). Returns the updated upload.
 */
export async function acceptStoredFile(db: PoolDb, env: Env, config: AppConfig, upload: UploadRow): Promise<UploadRow> {
  const head = await env.FILES.head(upload.r2Key);
  if (!head) throw ApiError.conflict("Nothing has been uploaded for this upload yet.");
  let layout: ReturnType<typeof analyseSample>;
  try {
    if (head.size !== upload.sizeBytes) {
      throw new CsvRejection(`The upload declared ${upload.sizeBytes} bytes but ${head.size} bytes were stored.`);
    }
    let sample = new Uint8Array(0);
    if (head.size > 0) {
      const object = await env.FILES.get(upload.r2Key, {
        range: { offset: 0, length: Math.min(head.size, SAMPLE_BYTES) },
      });
      if (!object) throw ApiError.conflict("Nothing has been uploaded for this upload yet.");
      sample = new Uint8Array(await object.arrayBuffer());
    }
    layout = analyseSample(sample, head.size, { maxColumns: config.UPLOAD_MAX_COLUMNS });
  } catch (error) {
    if (!(error instanceof CsvRejection)) throw error;
    await rejectStoredFile(db, env, upload, error.message);
    throw ApiError.unprocessable(error.message);
  }

  const queued = await db.transaction(async (tx) => {
    // Queueing makes the upload active: decided under the owner's quota lock.
    await lockOwnerQuota(tx, upload.ownerId);
    await checkActiveUploads(tx, config, upload.ownerId, upload.id);
    const accepted = await lifecycle.accept(tx, upload, layout);
    if (!accepted) throw ApiError.conflict("The upload is no longer awaiting its file.");
    return accepted;
  });
  await progressOf(env, upload.id).init({
    uploadId: upload.id,
    totalBytes: upload.sizeBytes,
    headerBytes: layout.dataOffset,
    maxErrorRatio: config.UPLOAD_MAX_ERROR_RATIO,
  });
  await env.INGEST_QUEUE.send({ kind: "plan", uploadId: upload.id, dataLine: layout.dataLine } satisfies PlanMessage);
  return queued;
}

async function rejectStoredFile(db: PoolDb, env: Env, upload: UploadRow, reason: string): Promise<void> {
  const rejected = await lifecycle.reject(db, upload, reason);
  if (rejected) await progressOf(env, upload.id).endedBeforeIngestion(finalProgress(rejected));
  await env.FILES.delete(upload.r2Key);
}

/** One page of the owner's uploads and their count, with live counters: one round trip. */
export async function listUploads(db: Db, ownerId: number, page: PageParams) {
  const mine = eq(csvUploads.ownerId, ownerId);
  const select = db.select().from(csvUploads).$dynamic();
  const [total, rows, sums] = await db.batch([
    ...countedPage(db, csvUploads, mine, select, newestFirst(csvUploads), page),
    liveSums(db, mine),
  ]);
  return { count: countOf(total), rows: withLiveCounts(rows, sums) };
}

/** The caller's own upload with live counters, or 404: one round trip. */
export async function getOwnUploadLive(db: Db, ownerId: number, id: string): Promise<UploadRow> {
  const mine = and(eq(csvUploads.id, id), eq(csvUploads.ownerId, ownerId));
  const [found, sums] = await db.batch([db.select().from(csvUploads).where(mine).limit(1), liveSums(db, mine)]);
  const [upload] = withLiveCounts(found, sums);
  if (!upload) throw ApiError.notFound("Upload");
  return upload;
}

/**
 * While an upload is processing its counters live in its chunk rows; the upload row has the final
 * ones. The sums of the processing uploads among `which`, as a query a batch can hold.
 */
function liveSums(db: Db, which: SQL | undefined) {
  return db
    .select({
      uploadId: csvUploadChunks.uploadId,
      rows: sql<string>`coalesce(sum(${csvUploadChunks.rowsInserted}), 0)`,
      records: sql<string>`coalesce(sum(${csvUploadChunks.recordsRead}), 0)`,
      errorRows: sql<string>`coalesce(sum(${csvUploadChunks.errorRows}), 0)`,
    })
    .from(csvUploadChunks)
    .innerJoin(csvUploads, eq(csvUploads.id, csvUploadChunks.uploadId))
    .where(and(eq(csvUploads.status, "processing"), which))
    .groupBy(csvUploadChunks.uploadId);
}

function withLiveCounts(
  rows: UploadRow[],
  sums: { uploadId: string; rows: string; records: string; errorRows: string }[],
): UploadRow[] {
  const byId = new Map(sums.map((sum) => [sum.uploadId, sum]));
  return rows.map((row) => {
    const sum = row.status === "processing" ? byId.get(row.id) : undefined;
    return sum
      ? { ...row, totalRows: Number(sum.rows), processedRows: Number(sum.records), errorRows: Number(sum.errorRows) }
      : row;
  });
}

/**
 * Cancels an upload that has not ended; 409 once it has. Its rows (if any) are removed.
 *
 * The progress object decides first, because it is the single writer of an ingestion's outcome:
 * Postgres may still say `processing` a moment after the object settled `completed` (the last
 * chunk's report persists the outcome after the object answers). Cancelling on Postgres's word
 * alone would answer 202 and drop a complete upload's rows. So the object is asked to end
 * `cancelled`; only if it did (or it holds no state yet: nothing is being ingested) is the cancel
 * recorded and the partition dropped. If it had already settled, that outcome is persisted (a
 * no-op if the reporting consumer got there first) and the answer is 409.
 */
export async function cancelUpload(db: PoolDb, env: Env, upload: UploadRow): Promise<UploadRow> {
  if (isTerminal(upload.status)) throw ApiError.conflict(`The upload has already ended (${upload.status}).`);
  const live = await progressOf(env, upload.id).end("cancelled", null);
  if (live && live.status !== "cancelled") {
    if (live.status === "completed" || live.status === "failed") {
      await persistOutcome(db, env, upload.id, { status: live.status, error: live.error, errors: live.errors });
    }
    log("info", "cancel lost to the ingestion's outcome", { upload: maskId(upload.id), status: live.status });
    throw ApiError.conflict(`The upload has already ended (${live.status}).`);
  }
  const cancelled = await lifecycle.cancel(db, upload);
  if (!cancelled) throw ApiError.conflict("The upload has already ended.");
  await dropPartition(db, upload.id);
  // Its ingestion never began, so its progress object holds no state to end: tell the watchers.
  if (upload.status === "awaiting_upload") {
    await progressOf(env, upload.id).endedBeforeIngestion(finalProgress(cancelled));
  }
  if (upload.status === "awaiting_upload" && upload.r2UploadId) {
    await env.FILES.resumeMultipartUpload(upload.r2Key, upload.r2UploadId)
      .abort()
      .catch(() => undefined);
  }
  log("info", "upload cancelled", { upload: maskId(upload.id) });
  return cancelled;
}

/** Removes the rows (a partition drop), the file and the live progress, then the upload itself. */
export async function deleteUpload(db: PoolDb, env: Env, upload: UploadRow): Promise<void> {
  if (!isTerminal(upload.status)) await cancelUpload(db, env, upload).catch(() => undefined);
  await dropPartition(db, upload.id);
  await lifecycle.remove(db, upload.id);
  await env.FILES.delete(upload.r2Key);
  await progressOf(env, upload.id).reset();
}
