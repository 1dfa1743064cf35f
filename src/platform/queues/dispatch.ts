/**
 * The worker's queue entry point: routes each batch to its feature's consumer by queue name.
 * Health-check messages are acknowledged without work.
 */
import { log } from "../lib/log.ts";

export type QueueConsumer = (batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext) => Promise<void>;

export function isHealthMessage(body: unknown): boolean {
  return typeof body === "object" && body !== null && (body as { kind?: unknown }).kind === "health";
}

/** Acks health probes and hands the rest to `consume`. */
export function withHealthProbes(consume: QueueConsumer): QueueConsumer {
  return async (batch, env, ctx) => {
    const work = batch.messages.filter((message) => {
      if (!isHealthMessage(message.body)) return true;
      message.ack();
      return false;
    });
    if (work.length === 0) return;
    // A batch's methods live on its prototype, so the filtered batch is rebuilt rather than spread.
    const filtered: MessageBatch<unknown> = {
      queue: batch.queue,
      metadata: batch.metadata,
      messages: work,
      ackAll: () => {
        for (const message of work) message.ack();
      },
      retryAll: (options) => {
        for (const message of work) message.retry(options);
      },
    };
    await consume(filtered, env, ctx);
  };
}

export function createQueueHandler(consumers: Record<string, QueueConsumer>): QueueConsumer {
  return async (batch, env, ctx) => {
    const consume = consumers[batch.queue];
    if (!consume) {
      log("error", "no consumer for queue", { queue: batch.queue, messages: batch.messages.length });
      batch.retryAll();
      return;
    }
    await withHealthProbes(consume)(batch, env, ctx);
  };
}
