/**
 * Reports to an upload's progress object, rebuilding its state from Postgres first if the object
 * has none (its storage was reset or lost mid-ingestion). Without this a lost state would leave
 * the upload `processing` forever: every report would find nothing to update and nobody would
 * settle it. Postgres holds the plan and every committed chunk, so the rebuilt counts are exact.
 */
import { eq } from "drizzle-orm";
import type { AppConfig } from "../../../platform/config/config.ts";
import type { PoolDb } from "../../../platform/db/client.ts";
import { csvUploads } from "../../../platform/db/schema.ts";
import { log } from "../../../platform/lib/log.ts";
import { maskId } from "../../../platform/lib/mask.ts";
import type { ProgressState } from "../progress/progress-state.ts";
import { progressOf, type UploadProgress } from "../progress/upload-progress.ts";
import { doneChunkTotals } from "./chunk-totals.ts";

export async function reportProgress(
  db: PoolDb,
  env: Env,
  config: AppConfig,
  uploadId: string,
  report: (progress: DurableObjectStub<UploadProgress>) => Promise<ProgressState | null>,
): Promise<ProgressState | null> {
  const progress = progressOf(env, uploadId);
  const state = await report(progress);
  if (state) return state;
  const [upload] = await db
    .select({
      status: csvUploads.status,
      sizeBytes: csvUploads.sizeBytes,
      dataOffset: csvUploads.dataOffset,
      startedAt: csvUploads.startedAt,
      chunksTotal: csvUploads.chunksTotal,
    })
    .from(csvUploads)
    .where(eq(csvUploads.id, uploadId));
  // Only a running ingestion needs a live state; an ended or deleted upload is left alone.
  if (upload?.status !== "processing") return null;
  log("warn", "progress state missing; rebuilt from Postgres", { upload: maskId(uploadId) });
  await progress.restore(
    {
      uploadId,
      totalBytes: upload.sizeBytes,
      headerBytes: upload.dataOffset ?? 0,
      maxErrorRatio: config.UPLOAD_MAX_ERROR_RATIO,
    },
    { startedAt: (upload.startedAt ?? new Date()).getTime(), chunksTotal: upload.chunksTotal },
    await doneChunkTotals(db, uploadId),
  );
  return report(progress);
}
