/**
 * The message an upload's progress object sends to the ingest queue from its watchdog while the
 * upload has been running a while: settle it from Postgres if due. Defined here, beside its sender,
 * so the progress object needs nothing from the ingest pipeline (the pipeline's message union takes
 * it from here).
 */
import { z } from "zod";

export const ReconcileMessage = z.object({
  kind: z.literal("reconcile"),
  uploadId: z.string().uuid(),
});
export type ReconcileMessage = z.infer<typeof ReconcileMessage>;
