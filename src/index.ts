/** Worker entry point: HTTP through the Hono app, queue batches by queue name, and the Durable Object class. */
import { createApp } from "./app.ts";
import { getConfig } from "./config.ts";
import { sweepMissingIndexes } from "./csv-data/csv-data.index-sweep.ts";
import { connect } from "./db/client.ts";
import { consumeEmailDeadLetters, consumeEmails } from "./email/email.consumer.ts";
import { redriveEmails } from "./email/redrive.ts";
import { consumeIngest, consumeIngestDeadLetters } from "./ingest/ingest.consumer.ts";
import { errorFields, log } from "./lib/log.ts";
import { createQueueHandler } from "./queues/dispatch.ts";
import { sweepAbandonedUploads } from "./uploads/abandoned-uploads.ts";
import { redriveWebhooks } from "./webhooks/redrive.ts";
import { consumeWebhookDeadLetters, consumeWebhooks } from "./webhooks/webhooks.consumer.ts";

export { UserState } from "./edge-state/user-state.ts";
export { UploadProgress } from "./progress/upload-progress.ts";

const app = createApp();

async function sweepIndexes(env: Env): Promise<void> {
  const database = connect(getConfig(env), { max: 1 });
  try {
    const queued = await sweepMissingIndexes(database.db, env.INGEST_QUEUE);
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
