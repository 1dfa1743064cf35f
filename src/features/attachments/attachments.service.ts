/**
 * Task attachments in R2. Small files arrive as multipart and are stored at once (`ready`); larger
 * ones are registered (`pending`) and uploaded by the client straight to R2 through a presigned
 * PUT, then confirmed with `complete`, which checks the object really is there with the announced
 * size. Pending attachments are invisible. Attachments of a deleted task are unreachable because
 * every lookup joins the live task and applies the task policy.
 */
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../../platform/db/client.ts";
import { insertedRow } from "../../platform/db/rows.ts";
import { taskAttachments, tasks } from "../../platform/db/schema.ts";
import { oldestFirst } from "../../platform/http/pagination.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { errorFields, log } from "../../platform/lib/log.ts";
import { type PresignContext, presignGet, presignPut } from "../../platform/storage/presign.ts";
import { attachmentDeleteStatement, attachmentReadyStatement, recordInserted } from "../tasks/history.ts";
import { facts, loadTask, TASK_RECORD } from "../tasks/task-record.ts";
import { readTaskRows } from "../tasks/task-rows.ts";
import { type Actor, assertCanChangeAttachments, assertCanRead } from "../tasks/tasks.policy.ts";
import type { AttachmentResponse } from "./attachments.schemas.ts";

type AttachmentRow = typeof taskAttachments.$inferSelect;

export function toAttachmentResponse(row: AttachmentRow): AttachmentResponse {
  return {
    id: row.id,
    task: row.taskId,
    uploaded_by: row.uploadedById,
    filename: row.filename,
    content_type: row.contentType,
    size_bytes: row.sizeBytes,
    status: row.status,
    created_at: row.createdAt.toISOString(),
    completed_at: row.completedAt?.toISOString() ?? null,
  };
}

/**
 * The object's key names no part of the filename: a name such as `..` or `.` would be a dot
 * segment, which URL resolution removes, so a presigned URL would address another object than the
 * one recorded. The filename lives in the row, and downloads carry it in Content-Disposition.
 */
function objectKey(taskId: number): string {
  return `attachments/${taskId}/${crypto.randomUUID()}`;
}

/** A task's ready attachments, if the caller can read the task: one round trip. */
export async function listAttachments(db: Db, user: Actor, taskId: number): Promise<AttachmentResponse[]> {
  const [rows] = await readTaskRows(db, user, taskId, [
    db
      .select()
      .from(taskAttachments)
      .where(and(eq(taskAttachments.taskId, taskId), eq(taskAttachments.status, "ready")))
      .orderBy(...oldestFirst(taskAttachments)),
  ]);
  return rows.map(toAttachmentResponse);
}

export async function storeFile(
  db: Db,
  bucket: R2Bucket,
  user: Actor,
  taskId: number,
  file: File,
): Promise<AttachmentResponse> {
  const task = await loadTask(db, taskId);
  assertCanChangeAttachments(user, facts(task));
  const filename = file.name || "file";
  const contentType = file.type || "application/octet-stream";
  const key = objectKey(taskId);
  await bucket.put(key, file.stream(), { httpMetadata: { contentType } });
  try {
    const [inserted] = await db.batch([
      db
        .insert(taskAttachments)
        .values({
          taskId,
          uploadedById: user.id,
          filename,
          contentType,
          sizeBytes: file.size,
          r2Key: key,
          status: "ready",
          completedAt: new Date(),
        })
        .returning(),
      recordInserted(db, "attachment", taskId, user.id),
    ]);
    return toAttachmentResponse(insertedRow(inserted));
  } catch (error) {
    await bucket.delete(key).catch(() => undefined);
    throw error;
  }
}

export interface PresignedAttachment extends AttachmentResponse {
  upload: { method: "PUT"; url: string; headers: Record<string, string>; expires_at: string };
}

export async function registerUpload(
  db: Db,
  presign: PresignContext,
  user: Actor,
  taskId: number,
  input: { filename: string; size_bytes: number; content_type: string },
): Promise<PresignedAttachment> {
  const task = await loadTask(db, taskId);
  assertCanChangeAttachments(user, facts(task));
  const key = objectKey(taskId);
  const signed = await presignPut(
    presign,
    key,
    { contentLength: input.size_bytes, contentType: input.content_type },
    presign.config.ATTACHMENT_UPLOAD_TTL_SECONDS,
  );
  const row = insertedRow(
    await db
      .insert(taskAttachments)
      .values({
        taskId,
        uploadedById: user.id,
        filename: input.filename,
        contentType: input.content_type,
        sizeBytes: input.size_bytes,
        r2Key: key,
        status: "pending",
      })
      .returning(),
  );
  return {
    ...toAttachmentResponse(row),
    upload: { method: "PUT", url: signed.url, headers: signed.headers, expires_at: signed.expiresAt.toISOString() },
  };
}

/** An attachment whose task is live and readable by the user (pending ones only if asked). */
async function findAttachment(
  db: Db,
  user: Actor,
  id: number,
  options: { includePending?: boolean } = {},
): Promise<{ row: AttachmentRow; access: ReturnType<typeof facts> }> {
  // The attachment and its live task (with assignees) in one query: one round trip.
  const [found] = await db
    .select({ row: taskAttachments, task: TASK_RECORD })
    .from(taskAttachments)
    .innerJoin(tasks, eq(tasks.id, taskAttachments.taskId))
    .where(and(eq(taskAttachments.id, id), isNull(tasks.deletedAt)));
  if (!found || (!options.includePending && found.row.status !== "ready")) throw ApiError.notFound("Attachment");
  const task = found.task;
  try {
    assertCanRead(user, facts(task));
  } catch {
    throw ApiError.notFound("Attachment");
  }
  return { row: found.row, access: facts(task) };
}

export async function getAttachment(
  db: Db,
  presign: PresignContext,
  user: Actor,
  id: number,
): Promise<AttachmentResponse & { download_url: string; download_expires_at: string }> {
  const { row } = await findAttachment(db, user, id);
  const signed = await presignGet(presign, row.r2Key, { filename: row.filename });
  return {
    ...toAttachmentResponse(row),
    download_url: signed.url,
    download_expires_at: signed.expiresAt.toISOString(),
  };
}

/**
 * Confirms a presigned upload: the object must exist with the announced size. Idempotent.
 * A pending attachment is 404 and unlisted to everyone but its uploader, so anyone else
 * completing it gets the 404 an unknown id gets, not a 403 that would reveal it; the uploader, like
 * anyone completing a ready one, still needs the right to change the task's attachments.
 */
export async function completeUpload(db: Db, bucket: R2Bucket, user: Actor, id: number): Promise<AttachmentResponse> {
  const { row, access } = await findAttachment(db, user, id, { includePending: true });
  if (row.status === "pending" && row.uploadedById !== user.id) throw ApiError.notFound("Attachment");
  assertCanChangeAttachments(user, access);
  if (row.status === "ready") return toAttachmentResponse(row);
  const object = await bucket.head(row.r2Key);
  if (!object) throw ApiError.conflict("Nothing has been uploaded to this attachment's URL yet; PUT the file first.");
  if (object.size !== row.sizeBytes) {
    throw ApiError.conflict(`The uploaded object is ${object.size} bytes, but ${row.sizeBytes} were announced.`);
  }
  const [, found] = await db.batch([
    attachmentReadyStatement(db, id, user.id),
    db.select().from(taskAttachments).where(eq(taskAttachments.id, id)),
  ]);
  const updated = found[0];
  if (!updated) throw ApiError.notFound("Attachment");
  return toAttachmentResponse(updated);
}

/**
 * Removes the record, then the object (a failed object delete is logged; the record is gone).
 * A pending attachment is its uploader's to abandon; to anyone else it does not exist (404).
 */
export async function deleteAttachment(db: Db, bucket: R2Bucket, user: Actor, id: number): Promise<void> {
  const { row, access } = await findAttachment(db, user, id, { includePending: true });
  if (row.status === "pending" && row.uploadedById !== user.id) throw ApiError.notFound("Attachment");
  assertCanChangeAttachments(user, access);
  await attachmentDeleteStatement(db, id, user.id);
  try {
    await bucket.delete(row.r2Key);
  } catch (error) {
    log("error", "attachment object delete failed", errorFields(error));
  }
}
