/**
 * The progress object's watchdog, every minute while an upload runs:
 * - settles it from what Postgres holds, in case the report that should have settled it was lost
 *   for good (every consumer retry spent, or the planner's last report never sent). Postgres's
 *   chunk totals are exact, so this only finishes an upload whose chunks are all committed;
 * - when a whole round passed without a chunk finishing, sends the plan message again: its plan
 *   or chunk messages were lost (a queue send after commit that failed, a runtime restart). The
 *   planner is idempotent: it re-derives the same chunks and re-sends their messages, and chunks
 *   already committed are skipped, so a redrive of an upload that was merely slow costs a re-read
 *   of the file and nothing else.
 */
import { eq } from "drizzle-orm";
import type { AppConfig } from "../../../platform/config/config.ts";
import type { PoolDb } from "../../../platform/db/client.ts";
import { csvUploads } from "../../../platform/db/schema.ts";
import { log } from "../../../platform/lib/log.ts";
import { maskId } from "../../../platform/lib/mask.ts";
import { isTerminal } from "../progress/progress-state.ts";
import { doneChunkTotals } from "./chunk-totals.ts";
import type { PlanMessage } from "./messages.ts";
import { persistOutcome } from "./outcome.ts";
import { reportProgress } from "./progress-recovery.ts";

export async function reconcileUpload(db: PoolDb, env: Env, config: AppConfig, uploadId: string): Promise<void> {
  const [upload] = await db
    .select({
      status: csvUploads.status,
      error: csvUploads.error,
      r2Key: csvUploads.r2Key,
      dataOffset: csvUploads.dataOffset,
    })
    .from(csvUploads)
    .where(eq(csvUploads.id, uploadId));
  if (!upload) return;
  const totals = await doneChunkTotals(db, uploadId);
  const state = await reportProgress(db, env, config, uploadId, (progress) =>
    progress.reconcile(totals, { status: upload.status, error: upload.error }),
  );
  if (!state) return;
  if (upload.status === "processing" && (state.status === "completed" || state.status === "failed")) {
    await persistOutcome(db, env, uploadId, { status: state.status, error: state.error, errors: state.errors });
    return;
  }
  const running = upload.status === "queued" || upload.status === "processing";
  if (running && !isTerminal(state.status) && (state.stalledRounds ?? 0) > 0) {
    log("warn", "upload stalled; planning again", { upload: maskId(uploadId), rounds: state.stalledRounds });
    await env.INGEST_QUEUE.send({
      kind: "plan",
      uploadId,
      dataLine: await dataLineOf(env, upload.r2Key, upload.dataOffset ?? 0),
    } satisfies PlanMessage);
  }
}

/** The physical line the data starts on: one past the header's line breaks (a quoted header may span lines). */
async function dataLineOf(env: Env, r2Key: string, dataOffset: number): Promise<number> {
  if (dataOffset === 0) return 1;
  const head = await env.FILES.get(r2Key, { range: { offset: 0, length: dataOffset } });
  if (!head) throw new Error("The uploaded file is missing from storage.");
  const bytes = new Uint8Array(await head.arrayBuffer());
  let line = 1;
  for (const byte of bytes) if (byte === 0x0a) line++;
  return line;
}
