/**
 * Background jobs. A job is the user-facing record of background work; for `csv_ingest`
 * jobs the upload is the source of truth and the job follows it, so cancelling a job cancels its
 * upload through the same path as the upload's own cancel route.
 */
import { and, eq } from "drizzle-orm";
import type { Db, PoolDb } from "../../../platform/db/client.ts";
import { csvUploads, type JobStatus, jobs } from "../../../platform/db/schema.ts";
import { newestFirst } from "../../../platform/http/pagination.ts";
import { ApiError } from "../../../platform/lib/errors.ts";
import { log } from "../../../platform/lib/log.ts";
import { maskId } from "../../../platform/lib/mask.ts";
import * as lifecycle from "../ingest/upload-lifecycle.ts";
import { cancelUpload } from "../uploads.service.ts";

export type JobRow = lifecycle.JobRow;

/** The caller's jobs, newest first (ties by id so the order is stable). */
export async function listJobs(
  db: Db,
  ownerId: number,
  filter: { status?: JobStatus; limit: number },
): Promise<JobRow[]> {
  return db
    .select()
    .from(jobs)
    .where(and(eq(jobs.ownerId, ownerId), filter.status ? eq(jobs.status, filter.status) : undefined))
    .orderBy(...newestFirst(jobs))
    .limit(filter.limit);
}

/** The caller's job, or 404: other users' jobs are not visible. */
export async function getOwnJob(db: Db, ownerId: number, id: string): Promise<JobRow> {
  const [job] = await db
    .select()
    .from(jobs)
    .where(and(eq(jobs.id, id), eq(jobs.ownerId, ownerId)));
  if (!job) throw ApiError.notFound("Job");
  return job;
}

/**
 * Cancels a pending or running job; 409 once it has ended. A job with an upload is cancelled
 * through `cancelUpload`, which decides against the progress object whether the ingestion really
 * is still running (it may have completed a moment ago: then 409 and the job shows the outcome).
 */
export async function cancelJob(db: PoolDb, env: Env, job: JobRow): Promise<JobRow> {
  if (!lifecycle.isActiveJob(job.status)) throw ApiError.conflict(`The job has already ended (${job.status}).`);
  const [upload] = await db.select().from(csvUploads).where(eq(csvUploads.jobId, job.id));
  if (upload) {
    await cancelUpload(db, env, upload);
  } else {
    const cancelled = await lifecycle.cancelJob(db, job);
    if (!cancelled) throw ApiError.conflict("The job changed state; fetch it again.");
  }
  log("info", "job cancelled", { job: maskId(job.id), type: job.type });
  const [after] = await db.select().from(jobs).where(eq(jobs.id, job.id));
  if (!after) throw ApiError.notFound("Job");
  return after;
}

/**
 * Removes the job record. A job still pending or running is cancelled first, so its upload ends
 * `cancelled` rather than ingesting on with nobody tracking it; if it ended meanwhile (the cancel
 * answers 409) the record is removed all the same. The upload itself is kept: its `job` becomes
 * null (the foreign key is ON DELETE SET NULL).
 */
export async function deleteJob(db: PoolDb, env: Env, job: JobRow): Promise<void> {
  if (lifecycle.isActiveJob(job.status)) {
    try {
      await cancelJob(db, env, job);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 409)) throw error;
    }
  }
  await lifecycle.removeJob(db, job.id);
  log("info", "job deleted", { job: maskId(job.id), type: job.type });
}
