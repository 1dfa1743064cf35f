/** Builds a completed upload's query indexes; a deleted or re-ingested upload is left alone. */
import { and, eq } from "drizzle-orm";
import { buildRowIndexes } from "../csv-data/csv-data.indexes.ts";
import type { PoolDb } from "../db/client.ts";
import { csvUploads } from "../db/schema.ts";

export async function indexUpload(db: PoolDb, uploadId: string): Promise<void> {
  const [upload] = await db
    .select({ columns: csvUploads.columns })
    .from(csvUploads)
    .where(and(eq(csvUploads.id, uploadId), eq(csvUploads.status, "completed")));
  if (upload) await buildRowIndexes(db, uploadId, upload.columns);
}
