/**
 * The progress object's watchdog: an upload still `processing` a while after its last change is
 * settled from what Postgres holds, in case the report that should have settled it was lost for
 * good (every consumer retry spent, or the planner's last report never sent). Postgres's chunk
 * totals are exact, so this can only finish an upload whose chunks are all committed; an
 * ingestion that is merely slow is left alone.
 */
import { eq } from "drizzle-orm";
import type { AppConfig } from "../config.ts";
import type { Db } from "../db/client.ts";
import { csvUploads } from "../db/schema.ts";
import { doneChunkTotals } from "./chunk-totals.ts";
import { persistOutcome } from "./outcome.ts";
import { reportProgress } from "./progress-recovery.ts";

export async function reconcileUpload(db: Db, env: Env, config: AppConfig, uploadId: string): Promise<void> {
  const [upload] = await db
    .select({ status: csvUploads.status, error: csvUploads.error })
    .from(csvUploads)
    .where(eq(csvUploads.id, uploadId));
  if (!upload) return;
  const totals = await doneChunkTotals(db, uploadId);
  const state = await reportProgress(db, env, config, uploadId, (progress) =>
    progress.reconcile(totals, { status: upload.status, error: upload.error }),
  );
  if (upload.status === "processing" && state && (state.status === "completed" || state.status === "failed")) {
    await persistOutcome(db, env, uploadId, { status: state.status, error: state.error, errors: state.errors });
  }
}
