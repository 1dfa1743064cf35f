/** Request and response schemas of the background-job routes. */
import { z } from "@hono/zod-openapi";
import { JOB_STATUSES } from "../../../platform/db/schema.ts";
import { queryParams, wholeNumberText } from "../../../platform/http/openapi-params.ts";

export const JobSchema = z
  .object({
    id: z.string().uuid(),
    status: z.enum(JOB_STATUSES),
    message: z.string().openapi({ description: "human-readable state", example: "Ingesting rows." }),
    type: z.string().openapi({ example: "csv_ingest" }),
    created_at: z.string().openapi({ format: "date-time" }),
    updated_at: z.string().openapi({ format: "date-time" }),
    result_id: z
      .string()
      .nullable()
      .openapi({ description: "the resource the job produces (for `csv_ingest`, the upload)" }),
    error: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()),
  })
  .openapi("Job");

export const JobListSchema = z.array(JobSchema).openapi("JobList");

export const JobListQuery = queryParams({
  status: z
    .enum(JOB_STATUSES, { error: `must be one of ${JOB_STATUSES.join(", ")}` })
    .optional()
    .openapi({ param: { name: "status", in: "query" }, description: "Only jobs in this status." }),
  limit: wholeNumberText(1, 50)
    .default(10)
    .openapi({
      param: { name: "limit", in: "query" },
      description: "1..50 (default 10).",
      type: "integer",
      example: 10,
    }),
});

export type JobResponse = z.infer<typeof JobSchema>;
