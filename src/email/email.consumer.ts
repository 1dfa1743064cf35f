/** Consumers of the `email` queue and its dead-letter queue. */
import type { QueueConsumer } from "../queues/dispatch.ts";

export const consumeEmails: QueueConsumer = async (batch) => {
  batch.ackAll();
};

export const consumeEmailDeadLetters: QueueConsumer = async (batch) => {
  batch.ackAll();
};
