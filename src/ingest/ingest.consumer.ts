/** Consumers of the `ingest` queue (planning and chunk messages) and its dead-letter queue. */
import type { QueueConsumer } from "../queues/dispatch.ts";

export const consumeIngest: QueueConsumer = async (batch) => {
  batch.ackAll();
};

export const consumeIngestDeadLetters: QueueConsumer = async (batch) => {
  batch.ackAll();
};
