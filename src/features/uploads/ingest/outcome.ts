/**
 * Persists an upload's final state to Postgres (upload and job, through the lifecycle's
 * `settle`), records its email and webhook deliveries in the same transaction, and removes the rows of an upload
 * that did not complete. Idempotent: only the first call moves the upload out of
 * `queued`/`processing`, so a retried consumer never mails twice.
 */
import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { PoolDb, Queryable } from "../../../platform/db/client.ts";
import { csvUploadChunks, csvUploads, type UploadRowError, users } from "../../../platform/db/schema.ts";
import { dispatchEmails, NOTHING_RECORDED, type Recorded, recordEmailWithNotifications } from "../../email/outbox.ts";
import { pushNotifications } from "../../notifications/notifications.push.ts";
import { dispatchWebhooks, recordWebhooks } from "../../webhooks/outbox.ts";
import { MAX_KEPT_ERRORS, type ProgressState } from "../progress/progress-state.ts";
import { doneChunkTotals } from "./chunk-totals.ts";
import type { IndexMessage } from "./messages.ts";
import { analysePartition, dropPartition } from "./partitions.ts";
import * as lifecycle from "./upload-lifecycle.ts";
import { recordColumnStats } from "./upload-stats.ts";

export interface Outcome {
  status: lifecycle.SettledStatus;
  error: string | null;
  errors?: ProgressState["errors"];
}

/**
 * The upload's kept errors united with `incoming`: the first MAX_KEPT_ERRORS by line, each once.
 * A merge, never an overwrite, so writers may arrive in any order and none loses another's errors.
 */
function mergedErrors(incoming: UploadRowError[]) {
  return keptErrors(sql`${csvUploads.errors} || ${JSON.stringify(incoming)}::jsonb`);
}

/**
 * As `mergedErrors`, united also with every committed chunk's own errors. The final outcome is
 * written from these, because a chunk can commit and then fail to report its errors (to the upload
 * row or to the progress object) while the other chunks finish the upload; its retry then finds the
 * upload ended and reports nothing.
 */
function finalErrors(uploadId: string, incoming: UploadRowError[]) {
  return keptErrors(sql`${csvUploads.errors} || ${JSON.stringify(incoming)}::jsonb || coalesce((
    select jsonb_agg(chunk_error) from ${csvUploadChunks}, jsonb_array_elements(${csvUploadChunks.errors}) as c(chunk_error)
    where ${csvUploadChunks.uploadId} = ${uploadId} and ${csvUploadChunks.doneAt} is not null
  ), '[]'::jsonb)`);
}

function keptErrors(all: SQL) {
  return sql`(
    select coalesce(jsonb_agg(e order by (e->>'line')::bigint, e->>'reason'), '[]'::jsonb) from (
      select e from (select distinct e from jsonb_array_elements(${all}) as t(e)) d
      order by (e->>'line')::bigint, e->>'reason' limit ${MAX_KEPT_ERRORS}
    ) kept
  )`;
}

/**
 * Records a chunk's rejected records on the upload as soon as the chunk commits. The progress
 * object also collects them, but it may settle on Postgres's chunk totals before a committed
 * chunk's report arrives (or lose them in a reset), and a report reaching a settled object is
 * dropped; so Postgres keeps its own copy. Skipped without a lock once the list is full of
 * earlier lines, so error-heavy files do not serialise their chunks on the upload row.
 */
export async function recordChunkErrors(db: Queryable, uploadId: string, errors: UploadRowError[]): Promise<void> {
  if (errors.length === 0) return;
  const first = Math.min(...errors.map((error) => error.line));
  await db
    .update(csvUploads)
    .set({ errors: mergedErrors(errors) })
    .where(
      and(
        eq(csvUploads.id, uploadId),
        inArray(csvUploads.status, lifecycle.ERRORS_RECORDABLE_STATUSES),
        sql`(jsonb_array_length(${csvUploads.errors}) < ${MAX_KEPT_ERRORS} or (${csvUploads.errors}->${MAX_KEPT_ERRORS - 1}->>'line')::bigint > ${first})`,
      ),
    );
}

/** Returns true when this call was the one that ended the upload. */
export async function persistOutcome(db: PoolDb, env: Env, uploadId: string, outcome: Outcome): Promise<boolean> {
  const result = await db.transaction(async (tx) => {
    const totals = await doneChunkTotals(tx, uploadId);
    const completed = outcome.status === "completed";
    // Completion is final only when Postgres holds every planned chunk. Should the progress
    // object ever settle before the last commit is visible here, nothing is written now: the
    // remaining chunks' reports find the object already completed and persist again, in full.
    if (completed && (totals.chunksTotal === null || totals.chunksDone < totals.chunksTotal)) return null;
    const upload = await lifecycle.settle(tx, uploadId, outcome, totals, finalErrors(uploadId, outcome.errors ?? []));
    if (!upload) return null;
    // Once, by the call that settled it, in the same transaction: every chunk is committed, so
    // the statistics cover exactly the stored rows. Other outcomes keep none (their rows go).
    if (completed) await recordColumnStats(tx, uploadId, upload.columns);
    let recorded: Recorded = NOTHING_RECORDED;
    let deliveryIds: number[] = [];
    if (outcome.status !== "cancelled") {
      const data = {
        upload: {
          id: upload.id,
          filename: upload.filename,
          status: upload.status,
          total_rows: upload.totalRows,
          processed_rows: upload.processedRows,
          error_rows: upload.errorRows,
          error: upload.error,
          job: upload.jobId,
        },
        owner: upload.ownerId,
      };
      deliveryIds = await recordWebhooks(tx, [
        { event: completed ? "upload.completed" : "upload.failed", data: sql`${JSON.stringify(data)}::jsonb` },
      ]);
      const [owner] = await tx.select({ email: users.email }).from(users).where(eq(users.id, upload.ownerId));
      if (owner) {
        const recipients = [{ email: owner.email, userId: upload.ownerId }];
        const link = { upload: upload.id };
        recorded = completed
          ? await recordEmailWithNotifications(
              tx,
              "upload_completed",
              recipients,
              {
                filename: upload.filename,
                rows: upload.totalRows,
                errorRows: upload.errorRows,
                seconds: lifecycle.ingestionSeconds(upload),
              },
              link,
            )
          : await recordEmailWithNotifications(
              tx,
              "upload_failed",
              recipients,
              { filename: upload.filename, reason: outcome.error ?? "unknown error" },
              link,
            );
      }
    }
    return { ...recorded, deliveryIds };
  });
  if (!result) return false;
  await dispatchEmails(env, result.emailIds);
  await dispatchWebhooks(env, result.deliveryIds);
  await pushNotifications(env, result.notifications);
  if (outcome.status === "completed") {
    await analysePartition(db, uploadId);
    await env.INGEST_INDEX_QUEUE.send({ kind: "index", uploadId } satisfies IndexMessage);
  } else await dropPartition(db, uploadId);
  return true;
}
