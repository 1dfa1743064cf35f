/** The public shapes of an upload and of its progress. */

import { boundValue } from "./ingest/column-stats.ts";
import type { UploadRow } from "./ingest/upload-lifecycle.ts";
import type { ProgressResponse, UploadResponse } from "./uploads.schemas.ts";

export function toUploadResponse(upload: UploadRow): UploadResponse {
  return {
    id: upload.id,
    filename: upload.filename,
    size_bytes: upload.sizeBytes,
    status: upload.status,
    total_rows: upload.totalRows,
    processed_rows: upload.processedRows,
    error_rows: upload.errorRows,
    errors: upload.errors,
    columns: columnsWithStats(upload),
    delimiter: upload.delimiter,
    error: upload.error,
    job: upload.jobId,
    created_at: upload.createdAt.toISOString(),
    started_at: upload.startedAt?.toISOString() ?? null,
    completed_at: upload.completedAt?.toISOString() ?? null,
    indexes_ready: upload.indexesReadyAt !== null,
  };
}

/** The upload's columns, each with its statistics once the upload has completed (else null). */
function columnsWithStats(upload: UploadRow): UploadResponse["columns"] {
  const stats = upload.status === "completed" ? upload.columnStats : null;
  return upload.columns.map((column, position) => {
    const own = stats?.[position];
    return {
      ...column,
      stats: own
        ? {
            nulls: own.nulls,
            distinct: own.distinct,
            min: boundValue(column.type, own.min),
            max: boundValue(column.type, own.max),
          }
        : null,
    };
  });
}

/** Progress of an upload that has ended, from Postgres alone (its Durable Object may be gone). */
export function finalProgress(upload: UploadRow): ProgressResponse {
  const seconds =
    upload.startedAt && upload.completedAt ? (upload.completedAt.getTime() - upload.startedAt.getTime()) / 1000 : 0;
  return {
    status: upload.status,
    percent:
      upload.status === "completed"
        ? 100
        : upload.sizeBytes
          ? Math.floor((upload.processedBytes / upload.sizeBytes) * 1000) / 10
          : 0,
    processed_rows: upload.processedRows,
    processed_bytes: upload.status === "completed" ? upload.sizeBytes : upload.processedBytes,
    total_bytes: upload.sizeBytes,
    rows_per_second: seconds > 0 ? Math.round(upload.processedRows / seconds) : null,
    eta_seconds: upload.status === "awaiting_upload" ? null : 0,
  };
}
