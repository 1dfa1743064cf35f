/**
 * Consumers of the three ingest queues (`ingest`: planning and reconcile messages; `ingest-chunks`:
 * chunks; `ingest-index`: index builds) and of their shared dead-letter queue. One consumer serves
 * all three and handles every kind of message wherever it arrives, so a message queued before the
 * queues were split still runs.
 * Messages are acked one by one, so one failing chunk does not retry the whole batch; retries back
 * off exponentially (retry.ts); a chunk that fails every retry reaches the dead-letter queue, whose
 * consumer fails the upload.
 */
import { type AppConfig, getConfig } from "../../../platform/config/config.ts";
import { connect, type Database } from "../../../platform/db/client.ts";
import { errorFields, log } from "../../../platform/lib/log.ts";
import { maskId } from "../../../platform/lib/mask.ts";
import type { QueueConsumer } from "../../../platform/queues/dispatch.ts";
import { progressOf } from "../progress/upload-progress.ts";
import { ingestChunk } from "./chunk.ts";
import { ChunkBudget } from "./chunk-budget.ts";
import { doneChunkTotals } from "./chunk-totals.ts";
import { indexUpload } from "./index-upload.ts";
import { type ChunkMessage, IngestMessage } from "./messages.ts";
import { type Outcome, persistOutcome, recordChunkErrors } from "./outcome.ts";
import { planUpload } from "./planner.ts";
import { reportProgress } from "./progress-recovery.ts";
import { reconcileUpload } from "./reconcile.ts";
import { ingestRetryBaseSeconds, ingestRetryDelaySeconds } from "./retry.ts";

/**
 * Messages handled at once per batch: enough to overlap parsing with Postgres round trips. How many
 * of them are chunks being parsed and inserted at once is further bounded by their size (chunk-budget.ts).
 */
const CONCURRENCY = 3;

async function handleChunk(
  database: Database,
  env: Env,
  config: AppConfig,
  message: ChunkMessage,
  budget: ChunkBudget,
): Promise<void> {
  const outcome = await ingestChunk(database.db, env, message, budget);
  if (outcome.kind === "skipped") return;
  await recordChunkErrors(database.db, message.uploadId, outcome.report.errors);
  const totals = await doneChunkTotals(database.db, message.uploadId);
  const state = await reportProgress(database.db, env, config, message.uploadId, (progress) =>
    progress.chunkDone(outcome.report, totals),
  );
  // Every report that sees the final state persists it; only the first one changes anything.
  if (state && (state.status === "completed" || state.status === "failed")) {
    await persistOutcome(database.db, env, message.uploadId, {
      status: state.status,
      error: state.error,
      errors: state.errors,
    });
  }
}

export const consumeIngest: QueueConsumer = async (batch, env) => {
  const config = getConfig(env);
  const database = connect(config, { max: CONCURRENCY + 1, statementTimeoutMs: config.INGEST_STATEMENT_TIMEOUT_MS });
  const retryBase = ingestRetryBaseSeconds(env);
  const budget = new ChunkBudget();
  try {
    const queue = [...batch.messages];
    const worker = async () => {
      for (let message = queue.shift(); message; message = queue.shift()) {
        const parsed = IngestMessage.safeParse(message.body);
        if (!parsed.success) {
          log("error", "unreadable ingest message dropped", { id: message.id });
          message.ack();
          continue;
        }
        try {
          if (parsed.data.kind === "plan") await planUpload(database.db, env, config, parsed.data);
          else if (parsed.data.kind === "index") await indexUpload(database.db, parsed.data.uploadId);
          else if (parsed.data.kind === "reconcile")
            await reconcileUpload(database.db, env, config, parsed.data.uploadId);
          else await handleChunk(database, env, config, parsed.data, budget);
          message.ack();
        } catch (error) {
          const delaySeconds = ingestRetryDelaySeconds(retryBase, message.attempts);
          log("warn", "ingest message failed; will retry", {
            kind: parsed.data.kind,
            upload: maskId(parsed.data.uploadId),
            attempts: message.attempts,
            delay_seconds: delaySeconds,
            ...errorFields(error),
          });
          message.retry({ delaySeconds });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, batch.messages.length) }, worker));
  } finally {
    await database.end();
  }
};

/** A message that failed every retry: its upload ends `failed` with the reason. */
export const consumeIngestDeadLetters: QueueConsumer = async (batch, env) => {
  const config = getConfig(env);
  const database = connect(config, { statementTimeoutMs: config.INGEST_STATEMENT_TIMEOUT_MS });
  try {
    for (const message of batch.messages) {
      const parsed = IngestMessage.safeParse(message.body);
      if (!parsed.success) {
        message.ack();
        continue;
      }
      if (parsed.data.kind === "reconcile") {
        // The watchdog asks again on its next round.
        message.ack();
        continue;
      }
      if (parsed.data.kind === "index") {
        // Rows are in and queryable without their indexes; only speed is lost.
        log("error", "index build dead-lettered", { upload: maskId(parsed.data.uploadId) });
        message.ack();
        continue;
      }
      const what = parsed.data.kind === "plan" ? "Planning the ingestion" : `Ingesting chunk ${parsed.data.index + 1}`;
      const reason = `${what} failed repeatedly; the upload was stopped.`;
      try {
        const state = await progressOf(env, parsed.data.uploadId).end("failed", reason);
        // The progress object decides, as for a cancel: a chunk whose rows committed but whose
        // report kept failing can be dead-lettered after the object settled `completed` on
        // Postgres's totals; failing that upload would drop a complete set of rows.
        const outcome: Outcome =
          state?.status === "completed" || state?.status === "cancelled" || state?.status === "failed"
            ? { status: state.status, error: state.error, errors: state.errors }
            : { status: "failed", error: reason };
        await persistOutcome(database.db, env, parsed.data.uploadId, outcome);
        message.ack();
      } catch (error) {
        log("error", "dead-lettered ingest message could not fail its upload", errorFields(error));
        message.retry();
      }
    }
  } finally {
    await database.end();
  }
};
