/** The public shape of a job. */
import type { JobResponse } from "./jobs.schemas.ts";
import type { JobRow } from "./jobs.service.ts";

export function toJobResponse(job: JobRow): JobResponse {
  return {
    id: job.id,
    status: job.status,
    message: job.message,
    type: job.type,
    created_at: job.createdAt.toISOString(),
    updated_at: job.updatedAt.toISOString(),
    result_id: job.resultId,
    error: job.error,
    metadata: job.metadata,
  };
}
