/**
 * A consumer for a queue whose messages each name one database row. Messages are acked or retried
 * one by one, so one bad message never holds back the rest of its batch; a message that names no
 * row can never succeed, so it is acknowledged rather than retried into the dead-letter queue.
 */
import { getConfig } from "../config/config.ts";
import { connect, type PoolDb } from "../db/client.ts";
import type { QueueConsumer } from "./dispatch.ts";

export type RowOutcome = "ack" | "retry";

export interface RowConsumer {
  /** The row id a message names, or null for a message that names none. */
  rowIdOf: (body: unknown) => number | null;
  /** Called before a message that names no row is acknowledged. */
  onMalformed?: (message: Message<unknown>) => void;
  /** Works the row; whatever it throws is the infrastructure failing, and the message is retried. */
  handle: (db: PoolDb, env: Env, rowId: number) => Promise<RowOutcome>;
  /** Called with what `handle` threw, before the retry. */
  onError: (rowId: number, error: unknown) => void;
  /** The retry's options (its delay) for a message delivered `attempts` times; none by default. */
  retryOptions?: (env: Env, attempts: number) => QueueRetryOptions;
}

export function consumeRows(spec: RowConsumer): QueueConsumer {
  return async (batch, env) => {
    // One connection per batch: consumers scale out under load, and each batch's queries are short.
    const database = connect(getConfig(env), { max: 1 });
    try {
      await Promise.all(
        batch.messages.map(async (message) => {
          const rowId = spec.rowIdOf(message.body);
          if (rowId === null) {
            spec.onMalformed?.(message);
            message.ack();
            return;
          }
          let outcome: RowOutcome;
          try {
            outcome = await spec.handle(database.db, env, rowId);
          } catch (error) {
            spec.onError(rowId, error);
            outcome = "retry";
          }
          if (outcome === "ack") message.ack();
          else message.retry(spec.retryOptions?.(env, message.attempts));
        }),
      );
    } finally {
      await database.end();
    }
  };
}
