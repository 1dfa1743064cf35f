/**
 * The planning step: reads the object once, cuts it into chunks at record boundaries (quote
 * aware), records each chunk's byte range and first row/line in `csv_upload_chunks`, and enqueues
 * one message per chunk in batches, on the chunk queue. Chunk consumers start while planning
 * continues: this message's own queue would hand them out only after it is done. Re-running
 * the planner (queue redelivery) re-derives the same chunks, so its writes are idempotent.
 */

import { eq } from "drizzle-orm";
import type { AppConfig } from "../../../platform/config/config.ts";
import type { PoolDb } from "../../../platform/db/client.ts";
import { csvUploadChunks, csvUploads } from "../../../platform/db/schema.ts";
import { progressOf } from "../progress/upload-progress.ts";
import { BoundaryScanner, type ChunkPlan, planReadBytes, RunawayRecordError } from "./boundaries.ts";
import { doneChunkTotals } from "./chunk-totals.ts";
import type { ChunkMessage, PlanMessage } from "./messages.ts";
import { persistOutcome } from "./outcome.ts";
import { createPartition } from "./partitions.ts";
import { reportProgress } from "./progress-recovery.ts";
import * as lifecycle from "./upload-lifecycle.ts";

/** Queues take at most 100 messages per send. */
const SEND_BATCH = 100;
/**
 * Chunks are handed out as soon as a few are planned, so consumers start inserting while the
 * planner still reads the rest of the file (with 4 MiB chunks a 100-chunk batch would be the whole
 * 400 MB file, and ingestion would wait for planning to finish).
 */
const EARLY_SEND = 4;

/** The upload left `processing` (cancelled, deleted or failed) while it was being planned. */
class PlanningStopped extends Error {}

export async function planUpload(db: PoolDb, env: Env, config: AppConfig, message: PlanMessage): Promise<void> {
  const [upload] = await db.select().from(csvUploads).where(eq(csvUploads.id, message.uploadId));
  if (!upload || !lifecycle.isStartable(upload.status)) return;
  const startedAt = upload.startedAt ?? new Date();
  // Guarded and in one transaction with the partition: a cancel that lands in between either
  // wins (nothing is started) or waits on the row lock and drops the partition after it exists.
  const started = await db.transaction(async (tx) => {
    if (!(await lifecycle.start(tx, upload, startedAt))) return false;
    await createPartition(tx, upload.id);
    return true;
  });
  if (!started) return;
  const progress = progressOf(env, upload.id);
  await reportProgress(db, env, config, upload.id, (p) => p.markProcessing(startedAt.getTime()));

  const dataOffset = upload.dataOffset ?? 0;
  const scanner = new BoundaryScanner({
    offset: dataOffset,
    firstLine: message.dataLine,
    delimiter: (upload.delimiter ?? ",").charCodeAt(0),
    newline: upload.newline === "\r\n" ? "\r\n" : "\n",
    chunkBytes: config.INGEST_CHUNK_BYTES,
    maxChunkBytes: Math.max(config.INGEST_CHUNK_BYTES * 8, 16 * 1024 * 1024),
  });
  let total = 0;
  let pending: ChunkPlan[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    // Stop planning an upload that was cancelled meanwhile rather than queue chunks it would skip.
    const [current] = await db
      .select({ status: csvUploads.status })
      .from(csvUploads)
      .where(eq(csvUploads.id, upload.id));
    if (current?.status !== "processing") throw new PlanningStopped();
    await db
      .insert(csvUploadChunks)
      .values(
        batch.map((plan) => ({
          uploadId: upload.id,
          chunkIndex: plan.index,
          byteStart: plan.start,
          byteEnd: plan.end,
          firstRowNumber: plan.firstRow,
          firstLine: plan.firstLine,
        })),
      )
      .onConflictDoNothing();
    await env.INGEST_CHUNK_QUEUE.sendBatch(
      batch.map((plan) => ({
        body: {
          kind: "chunk",
          uploadId: upload.id,
          index: plan.index,
          start: plan.start,
          end: plan.end,
          firstRow: plan.firstRow,
          firstLine: plan.firstLine,
          records: plan.records,
        } satisfies ChunkMessage,
      })),
    );
  };
  const accept = async (plans: ChunkPlan[]) => {
    pending.push(...plans);
    total += plans.length;
    if (pending.length >= (total <= SEND_BATCH ? EARLY_SEND : SEND_BATCH)) await flush();
  };

  try {
    // One range read into memory per slice (planReadBytes says why not the object's stream).
    const sliceBytes = planReadBytes(config.INGEST_CHUNK_BYTES, upload.sizeBytes);
    for (let offset = dataOffset; offset < upload.sizeBytes; offset += sliceBytes) {
      const length = Math.min(sliceBytes, upload.sizeBytes - offset);
      const object = await env.FILES.get(upload.r2Key, { range: { offset, length } });
      if (!object) throw new Error("The uploaded file is missing from storage.");
      await accept(scanner.push(new Uint8Array(await object.arrayBuffer())));
    }
    if (dataOffset < upload.sizeBytes) await accept(scanner.finish());
    await flush();
  } catch (error) {
    if (error instanceof PlanningStopped) return;
    if (!(error instanceof RunawayRecordError)) throw error;
    await progress.end("failed", error.message);
    await persistOutcome(db, env, upload.id, { status: "failed", error: error.message });
    return;
  }

  await db.update(csvUploads).set({ chunksTotal: total, updatedAt: new Date() }).where(eq(csvUploads.id, upload.id));
  const totals = await doneChunkTotals(db, upload.id);
  const state = await reportProgress(db, env, config, upload.id, (p) => p.planned(total, totals));
  if (state && (state.status === "completed" || state.status === "failed")) {
    await persistOutcome(db, env, upload.id, { status: state.status, error: state.error, errors: state.errors });
  }
}
