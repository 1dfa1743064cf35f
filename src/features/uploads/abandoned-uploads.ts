/**
 * The cron sweep of uploads that were started and never finished, so no one can park bytes in R2
 * by never calling `complete`:
 * - attachments still `pending` an hour after they were registered (their PUT URL lived
 *   `ATTACHMENT_UPLOAD_TTL_SECONDS`, 10 minutes by default, and S3 checks it when a PUT starts, so
 *   an hour leaves a slow upload of the largest file time to finish and be completed): the row and
 *   whatever was uploaded are removed;
 * - CSV uploads still `awaiting_upload` a day after they were created (their part URLs lived
 *   `PRESIGN_TTL_SECONDS`): they are cancelled, which aborts the R2 multipart upload and frees its
 *   parts, and their job ends `cancelled`.
 * It lives with the uploads feature rather than in storage: it cancels through the uploads
 * service, and the platform folders (storage among them) use no feature.
 */
import { and, asc, eq, lt } from "drizzle-orm";
import type { PoolDb } from "../../platform/db/client.ts";
import { csvUploads, taskAttachments } from "../../platform/db/schema.ts";
import { errorFields, log } from "../../platform/lib/log.ts";
import { cancelUpload } from "./uploads.service.ts";

export const PENDING_ATTACHMENT_MAX_AGE_SECONDS = 3600;
export const AWAITING_UPLOAD_MAX_AGE_SECONDS = 24 * 3600;
/** Per run; the cron runs every 10 minutes, so a backlog drains over a few runs. */
const BATCH = 200;

export interface SweepResult {
  attachments: number;
  uploads: number;
}

export async function sweepAbandonedUploads(db: PoolDb, env: Env, now = new Date()): Promise<SweepResult> {
  const attachmentCutoff = new Date(now.getTime() - PENDING_ATTACHMENT_MAX_AGE_SECONDS * 1000);
  const removed = await db
    .delete(taskAttachments)
    .where(and(eq(taskAttachments.status, "pending"), lt(taskAttachments.createdAt, attachmentCutoff)))
    .returning({ r2Key: taskAttachments.r2Key });
  for (let i = 0; i < removed.length; i += 1000) {
    await env.FILES.delete(removed.slice(i, i + 1000).map((row) => row.r2Key));
  }

  const uploadCutoff = new Date(now.getTime() - AWAITING_UPLOAD_MAX_AGE_SECONDS * 1000);
  const stale = await db
    .select()
    .from(csvUploads)
    .where(and(eq(csvUploads.status, "awaiting_upload"), lt(csvUploads.createdAt, uploadCutoff)))
    .orderBy(asc(csvUploads.createdAt))
    .limit(BATCH);
  let uploads = 0;
  for (const upload of stale) {
    try {
      await cancelUpload(db, env, upload);
      uploads++;
    } catch (error) {
      // Completed or cancelled meanwhile (409), or a dependency failed: the next run looks again.
      log("warn", "abandoned upload not cancelled", errorFields(error));
    }
  }
  return { attachments: removed.length, uploads };
}
