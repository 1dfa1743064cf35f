/**
 * The only writer of an upload's status and of its job's status. Every transition is one guarded
 * UPDATE of the upload, followed in the same transaction by its job's: the `where status in (...)`
 * guard is what makes racing writers safe (a cancel against the last chunk's report, a redelivered
 * plan message against a cancel, two reports that both saw the final state), because only the
 * first writer matches and the others find nothing to change. A transition that matched nothing
 * returns nothing, and the caller decides what that means (usually 409). `reject` alone has no
 * guard: its caller has just found the upload awaiting its file, and a file judged invalid stays
 * invalid whoever else judges it.
 *
 * Adding a status means editing this module (its transitions, the job status it maps to, the sets
 * below) and the schema's enum, plus `TERMINAL_STATUSES` in features/uploads/progress/progress-state.ts if the new
 * status ends an upload (the progress object, below this module, must know its ends). The progress
 * Durable Object keeps its own live copy of the status and never writes Postgres; the outcome it
 * settles on is persisted through `settle`.
 *
 * Transitions that must share a transaction with other work (the quota checks, the partition, the
 * outcome's email) take the caller's transaction; the others open their own. Callers import the
 * module whole (`import * as lifecycle`), so every status write reads `lifecycle.<transition>`.
 */
import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { PoolDb, Queryable, Tx } from "../../../platform/db/client.ts";
import { csvUploads, type JobStatus, jobs, type UploadColumn, type UploadStatus } from "../../../platform/db/schema.ts";
import type { ChunkTotals } from "../progress/progress-state.ts";

export type UploadRow = typeof csvUploads.$inferSelect;
export type JobRow = typeof jobs.$inferSelect;
/** The statuses an ingestion can end in (a rejected file never reaches ingestion). */
export type SettledStatus = Extract<UploadStatus, "completed" | "failed" | "cancelled">;

/** The job of an upload follows it: its status is always this function of the upload's. */
export const JOB_STATUS_OF: Record<UploadStatus, JobStatus> = {
  awaiting_upload: "pending",
  queued: "pending",
  processing: "running",
  completed: "completed",
  failed: "failed",
  rejected: "failed",
  cancelled: "cancelled",
};

/** Uploads that have not ended: the only ones a cancel or an outcome may still move. */
const NOT_ENDED: UploadStatus[] = ["awaiting_upload", "queued", "processing"];
/** Uploads a plan message may (re)start: accepted and not ended. */
const STARTABLE: UploadStatus[] = ["queued", "processing"];
export const isStartable = (status: UploadStatus): boolean => STARTABLE.includes(status);
/** Uploads being ingested, which count against the owner's `UPLOAD_MAX_ACTIVE`. */
export const ACTIVE_UPLOAD_STATUSES: UploadStatus[] = ["queued", "processing"];
/** Uploads whose declared size no longer counts against the owner's quota: nothing of them is kept. */
export const RELEASED_UPLOAD_STATUSES: UploadStatus[] = ["rejected", "failed"];
/** Uploads whose chunks may still record rejected lines (a committed chunk reports after the end). */
export const ERRORS_RECORDABLE_STATUSES: UploadStatus[] = ["processing", "completed", "failed"];

const ACTIVE_JOB_STATUSES: readonly JobStatus[] = ["pending", "running"];
export const isActiveJob = (status: JobStatus): boolean => ACTIVE_JOB_STATUSES.includes(status);

/**
 * The second half of every transition: the upload's job (if it still has one) takes the status
 * `JOB_STATUS_OF` maps the upload's new status to, in the same transaction as the upload's UPDATE.
 */
async function followUpload(
  tx: Tx,
  jobId: string | null,
  status: UploadStatus,
  values: { message: string; error?: string | null; metadata?: Record<string, unknown> },
): Promise<void> {
  if (!jobId) return;
  await tx
    .update(jobs)
    .set({ status: JOB_STATUS_OF[status], ...values, updatedAt: new Date() })
    .where(eq(jobs.id, jobId));
}

/** Creates an upload awaiting its bytes and its job, inside the caller's quota transaction. */
export async function open(
  tx: Tx,
  input: { ownerId: number; filename: string; sizeBytes: number; contentType?: string | null },
): Promise<UploadRow> {
  const [job] = await tx
    .insert(jobs)
    .values({
      ownerId: input.ownerId,
      type: "csv_ingest",
      status: JOB_STATUS_OF.awaiting_upload,
      message: "Waiting for the file.",
    })
    .returning();
  if (!job) throw new Error("job insert returned nothing");
  const id = crypto.randomUUID();
  const [upload] = await tx
    .insert(csvUploads)
    .values({
      id,
      ownerId: input.ownerId,
      jobId: job.id,
      filename: input.filename,
      sizeBytes: input.sizeBytes,
      contentType: input.contentType ?? null,
      r2Key: `csv-uploads/${id}`,
    })
    .returning();
  if (!upload) throw new Error("upload insert returned nothing");
  await tx
    .update(jobs)
    .set({ resultId: id, metadata: { upload_id: id, filename: input.filename } })
    .where(eq(jobs.id, job.id));
  return upload;
}

/**
 * Accept: the stored file passed validation and is queued for ingestion with the layout found in
 * it. Only an upload still awaiting its file moves; otherwise nothing is written.
 */
export async function accept(
  tx: Tx,
  upload: UploadRow,
  layout: { delimiter: string; newline: string; columns: UploadColumn[]; dataOffset: number },
): Promise<UploadRow | undefined> {
  const [queued] = await tx
    .update(csvUploads)
    .set({
      status: "queued",
      delimiter: layout.delimiter,
      newline: layout.newline,
      columns: layout.columns,
      dataOffset: layout.dataOffset,
      r2UploadId: null,
      updatedAt: new Date(),
    })
    .where(and(eq(csvUploads.id, upload.id), eq(csvUploads.status, "awaiting_upload")))
    .returning();
  if (!queued) return undefined;
  await followUpload(tx, upload.jobId, "queued", { message: "Queued for ingestion." });
  return queued;
}

/** Reject: the stored file failed validation; the upload ends `rejected` with the reason. */
export async function reject(db: PoolDb, upload: UploadRow, reason: string): Promise<UploadRow | undefined> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(csvUploads)
      .set({ status: "rejected", error: reason, r2UploadId: null, completedAt: new Date(), updatedAt: new Date() })
      .where(eq(csvUploads.id, upload.id))
      .returning();
    await followUpload(tx, upload.jobId, "rejected", { message: "The file was rejected.", error: reason });
    return row;
  });
}

/**
 * Start: the planner begins ingesting a queued upload (or, redelivered, one already processing).
 * Called in the planner's transaction, so a cancel that lands meanwhile either wins (false: nothing
 * is started) or waits on the row lock until the planner's work in that transaction is done.
 */
export async function start(tx: Tx, upload: UploadRow, startedAt: Date): Promise<boolean> {
  const rows = await tx
    .update(csvUploads)
    .set({ status: "processing", startedAt, updatedAt: new Date() })
    .where(and(eq(csvUploads.id, upload.id), inArray(csvUploads.status, STARTABLE)))
    .returning({ id: csvUploads.id });
  if (rows.length === 0) return false;
  await followUpload(tx, upload.jobId, "processing", { message: "Ingesting rows." });
  return true;
}

/**
 * Settle: the ingestion's outcome, with the final counts from Postgres's committed chunks and the
 * kept `errors`. Only the first call moves an upload that has not ended; a later one returns
 * nothing, so whatever the caller does with the settled row (its email) happens once.
 */
export async function settle(
  tx: Tx,
  uploadId: string,
  outcome: { status: SettledStatus; error: string | null },
  totals: ChunkTotals,
  errors: SQL,
): Promise<UploadRow | undefined> {
  const completed = outcome.status === "completed";
  const [upload] = await tx
    .update(csvUploads)
    .set({
      status: outcome.status,
      error: outcome.error,
      // Rows of an upload that did not complete are removed, so nothing is left half-counted.
      totalRows: completed ? totals.rows : 0,
      processedRows: totals.records,
      errorRows: totals.errorRows,
      processedBytes: completed
        ? sql`${csvUploads.sizeBytes}`
        : sql`coalesce(${csvUploads.dataOffset}, 0) + ${totals.bytes}`,
      chunksDone: totals.chunksDone,
      errors,
      completedAt: new Date(),
      updatedAt: new Date(),
    })
    .where(and(eq(csvUploads.id, uploadId), inArray(csvUploads.status, NOT_ENDED)))
    .returning();
  if (!upload) return undefined;
  const seconds = ingestionSeconds(upload);
  await followUpload(tx, upload.jobId, outcome.status, {
    message: completed
      ? `Ingested ${upload.totalRows} rows (${upload.errorRows} rejected) in ${seconds.toFixed(1)} s.`
      : outcome.status === "cancelled"
        ? "Cancelled."
        : "Ingestion failed.",
    error: outcome.error,
    metadata: {
      upload_id: upload.id,
      filename: upload.filename,
      total_rows: upload.totalRows,
      processed_rows: upload.processedRows,
      error_rows: upload.errorRows,
      duration_seconds: seconds,
    },
  });
  return upload;
}

/** Seconds from the start of an ended upload's ingestion to its end (0 if it never started). */
export function ingestionSeconds(upload: UploadRow): number {
  return upload.startedAt && upload.completedAt
    ? (upload.completedAt.getTime() - upload.startedAt.getTime()) / 1000
    : 0;
}

/**
 * Cancel: the upload ends `cancelled` unless it already ended. The UPDATE waits for any chunk
 * transaction holding the row FOR SHARE; chunks starting later see `cancelled` and skip.
 */
export async function cancel(db: PoolDb, upload: UploadRow): Promise<UploadRow | undefined> {
  return db.transaction(async (tx) => {
    const [cancelled] = await tx
      .update(csvUploads)
      .set({ status: "cancelled", completedAt: new Date(), updatedAt: new Date() })
      .where(and(eq(csvUploads.id, upload.id), inArray(csvUploads.status, NOT_ENDED)))
      .returning();
    if (!cancelled) return undefined;
    await followUpload(tx, upload.jobId, "cancelled", { message: "Cancelled." });
    return cancelled;
  });
}

/**
 * Cancel of a job that has no upload: it moves only if it is still in the status the caller saw,
 * so a job that changed meanwhile is left as it is.
 */
export async function cancelJob(db: Queryable, job: JobRow): Promise<JobRow | undefined> {
  const [cancelled] = await db
    .update(jobs)
    .set({ status: "cancelled", message: "Cancelled.", updatedAt: new Date() })
    .where(and(eq(jobs.id, job.id), eq(jobs.status, job.status)))
    .returning();
  return cancelled;
}

/** Delete: the upload's record goes (its job stays, as the record of the work). */
export async function remove(db: Queryable, uploadId: string): Promise<void> {
  await db.delete(csvUploads).where(eq(csvUploads.id, uploadId));
}

/** Delete of a job's record; an upload it tracked stays, its `job` becomes null (ON DELETE SET NULL). */
export async function removeJob(db: Queryable, jobId: string): Promise<void> {
  await db.delete(jobs).where(eq(jobs.id, jobId));
}
