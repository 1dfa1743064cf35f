/** Worker entry point: HTTP through the Hono app, queue batches by queue name, and the Durable Object class. */
import { createApp } from "./app.ts";
import { consumeEmailDeadLetters, consumeEmails } from "./email/email.consumer.ts";
import { redriveEmails } from "./email/redrive.ts";
import { consumeIngest, consumeIngestDeadLetters } from "./ingest/ingest.consumer.ts";
import { createQueueHandler } from "./queues/dispatch.ts";

export { UploadProgress } from "./progress/upload-progress.ts";

const app = createApp();

const queue = createQueueHandler({
  ingest: consumeIngest,
  "ingest-dlq": consumeIngestDeadLetters,
  email: consumeEmails,
  "email-dlq": consumeEmailDeadLetters,
});

export default {
  fetch: app.fetch,
  queue,
  scheduled(_controller, env, ctx) {
    ctx.waitUntil(redriveEmails(env).then(() => undefined));
  },
} satisfies ExportedHandler<Env>;
