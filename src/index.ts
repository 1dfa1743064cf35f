/** Worker entry point: HTTP through the Hono app, queue batches by queue name, and the Durable Object class. */
import { createApp } from "./app.ts";
import { consumeEmailDeadLetters, consumeEmails } from "./features/email/email.consumer.ts";
import { redriveEmails } from "./features/email/redrive.ts";
import { sweepAbandonedUploads } from "./features/uploads/abandoned-uploads.ts";
import { consumeIngest, consumeIngestDeadLetters } from "./features/uploads/ingest/ingest.consumer.ts";
import { sweepMissingIndexes } from "./features/uploads/rows/csv-data.index-sweep.ts";
import { redriveWebhooks } from "./features/webhooks/redrive.ts";
import { consumeWebhookDeadLetters, consumeWebhooks } from "./features/webhooks/webhooks.consumer.ts";
import { getConfig } from "./platform/config/config.ts";
import { connect } from "./platform/db/client.ts";
import { errorFields, log } from "./platform/lib/log.ts";
import { createQueueHandler } from "./platform/queues/dispatch.ts";

export { UploadProgress } from "./features/uploads/progress/upload-progress.ts";
export { UserState } from "./platform/edge-state/user-state.ts";

const app = createApp();

async function sweepIndexes(env: Env): Promise<void> {
  const database = connect(getConfig(env), { max: 1 });
  try {
    const queued = await sweepMissingIndexes(database.db, env.INGEST_INDEX_QUEUE);
    if (queued > 0) log("info", "re-enqueued index builds", { uploads: queued });
  } catch (error) {
    log("error", "index sweep failed", errorFields(error));
  } finally {
    await database.end();
  }
}

async function sweepUploads(env: Env): Promise<void> {
  const database = connect(getConfig(env), { max: 1 });
  try {
    const swept = await sweepAbandonedUploads(database.db, env);
    if (swept.attachments > 0 || swept.uploads > 0) log("info", "abandoned uploads swept", { ...swept });
  } catch (error) {
    log("error", "abandoned upload sweep failed", errorFields(error));
  } finally {
    await database.end();
  }
}

const queue = createQueueHandler({
  ingest: consumeIngest,
  "ingest-chunks": consumeIngest,
  "ingest-index": consumeIngest,
  "ingest-dlq": consumeIngestDeadLetters,
  email: consumeEmails,
  "email-dlq": consumeEmailDeadLetters,
  webhooks: consumeWebhooks,
  "webhooks-dlq": consumeWebhookDeadLetters,
});

export default {
  fetch: app.fetch,
  queue,
  scheduled(_controller, env, ctx) {
    ctx.waitUntil(redriveEmails(env).then(() => undefined));
    ctx.waitUntil(redriveWebhooks(env).then(() => undefined));
    ctx.waitUntil(sweepIndexes(env));
    ctx.waitUntil(sweepUploads(env));
  },
} satisfies ExportedHandler<Env>;
