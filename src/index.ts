/** Worker entry point: HTTP through the Hono app, queue batches by queue name, and the Durable Object class. */
import { createApp } from "./app.ts";
import { log } from "./lib/log.ts";
import { createQueueHandler, type QueueConsumer } from "./queues/dispatch.ts";

export { UploadProgress } from "./progress/upload-progress.ts";

const app = createApp();

/** Until a feature registers its consumer, its messages are logged and acknowledged. */
const notYetConsumed: QueueConsumer = async (batch) => {
  log("warn", "queue message without consumer", { queue: batch.queue, messages: batch.messages.length });
  batch.ackAll();
};

const queue = createQueueHandler({
  ingest: notYetConsumed,
  "ingest-dlq": notYetConsumed,
  email: notYetConsumed,
  "email-dlq": notYetConsumed,
});

export default {
  fetch: app.fetch,
  queue,
} satisfies ExportedHandler<Env>;
