/**
 * Messages on the `ingest` queue: one `plan` per upload, then one `chunk` per byte range, an
 * `index` once it completed, and `reconcile` from its progress object's watchdog.
 */
import { z } from "zod";
// `reconcile` is defined beside its sender, the progress object's watchdog.
import { ReconcileMessage } from "../progress/reconcile-message.ts";

export const PlanMessage = z.object({
  kind: z.literal("plan"),
  uploadId: z.string().uuid(),
  /** Physical line of the first data record (a quoted header may span lines). */
  dataLine: z.number().int().min(1),
});
export const ChunkMessage = z.object({
  kind: z.literal("chunk"),
  uploadId: z.string().uuid(),
  index: z.number().int().min(0),
  start: z.number().int().min(0),
  end: z.number().int().min(0),
  firstRow: z.number().int().min(1),
  firstLine: z.number().int().min(1),
  records: z.number().int().min(0),
});
/** Sent once an upload completed: build its query indexes (kept out of the load, which they slow). */
export const IndexMessage = z.object({
  kind: z.literal("index"),
  uploadId: z.string().uuid(),
});
export const IngestMessage = z.discriminatedUnion("kind", [PlanMessage, ChunkMessage, IndexMessage, ReconcileMessage]);

export type PlanMessage = z.infer<typeof PlanMessage>;
export type ChunkMessage = z.infer<typeof ChunkMessage>;
export type IndexMessage = z.infer<typeof IndexMessage>;
export type IngestMessage = z.infer<typeof IngestMessage>;
