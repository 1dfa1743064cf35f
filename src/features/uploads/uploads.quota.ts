/**
 * Per-user upload quotas: the declared bytes a user stores (`UPLOAD_QUOTA_BYTES`) and the uploads
 * they have queued or processing at once (`UPLOAD_MAX_ACTIVE`). Both checks run inside the
 * transaction that creates or queues an upload, after taking a per-user advisory lock, so two
 * concurrent requests of one user are decided one after the other and cannot pass a limit
 * together.
 */
import { and, count, eq, inArray, ne, notInArray, sql } from "drizzle-orm";
import type { AppConfig } from "../../platform/config/config.ts";
import type { Tx } from "../../platform/db/client.ts";
import { csvUploads } from "../../platform/db/schema.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { ACTIVE_UPLOAD_STATUSES, RELEASED_UPLOAD_STATUSES } from "./ingest/upload-lifecycle.ts";

/** Advisory-lock namespace of per-user upload quota decisions (the second key is the user id). */
const QUOTA_LOCK = 13_001;
/** A hint for when to try again: ingestion of a typical upload takes about this long. */
const ACTIVE_RETRY_AFTER_SECONDS = 60;

/** Serialises the caller's quota decisions until the transaction ends. */
export async function lockOwnerQuota(tx: Tx, ownerId: number): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${QUOTA_LOCK}::int, ${ownerId}::int)`);
}

/** 413 when `sizeBytes` more would take the owner's stored uploads past `UPLOAD_QUOTA_BYTES`. */
export async function checkStorageQuota(tx: Tx, config: AppConfig, ownerId: number, sizeBytes: number): Promise<void> {
  const [row] = await tx
    .select({ used: sql<string>`coalesce(sum(${csvUploads.sizeBytes}), 0)` })
    .from(csvUploads)
    .where(and(eq(csvUploads.ownerId, ownerId), notInArray(csvUploads.status, RELEASED_UPLOAD_STATUSES)));
  const used = Number(row?.used ?? 0);
  const quota = config.UPLOAD_QUOTA_BYTES;
  if (used + sizeBytes > quota) {
    throw ApiError.tooLarge(
      `This upload of ${sizeBytes} bytes would take your stored CSV files to ${used + sizeBytes} bytes; your quota (UPLOAD_QUOTA_BYTES) is ${quota} bytes. Delete uploads you no longer need and try again.`,
    );
  }
}

/** 429 when the owner already has `UPLOAD_MAX_ACTIVE` uploads queued or processing (`except` aside). */
export async function checkActiveUploads(tx: Tx, config: AppConfig, ownerId: number, except?: string): Promise<void> {
  const [row] = await tx
    .select({ n: count() })
    .from(csvUploads)
    .where(
      and(
        eq(csvUploads.ownerId, ownerId),
        inArray(csvUploads.status, ACTIVE_UPLOAD_STATUSES),
        except ? ne(csvUploads.id, except) : undefined,
      ),
    );
  const max = config.UPLOAD_MAX_ACTIVE;
  if ((row?.n ?? 0) >= max) {
    throw new ApiError(
      429,
      `You already have ${max} uploads queued or processing, the most allowed at once (UPLOAD_MAX_ACTIVE); wait for one to finish, or cancel one, and try again.`,
      { headers: { "Retry-After": String(ACTIVE_RETRY_AFTER_SECONDS) } },
    );
  }
}
