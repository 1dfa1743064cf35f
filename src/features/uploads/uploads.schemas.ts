/** Request and response schemas of the CSV upload routes. */
import { z } from "@hono/zod-openapi";
import { UPLOAD_STATUSES } from "../../platform/db/schema.ts";
import type { StatValue } from "./ingest/column-stats.ts";

export const CreateUploadSchema = z
  .object({
    filename: z.string().trim().min(1).max(255).openapi({ example: "sales-2026.csv" }),
    size_bytes: z
      .number()
      .int("must be a whole number")
      .min(1, "must be at least 1 byte; an empty file has nothing to upload")
      .openapi({ example: 419430400 }),
  })
  .strict()
  .openapi("CreateUpload");

export const UploadFormSchema = z.object({
  file: z
    .custom<File>((value) => value instanceof File, { message: "a file is required" })
    .openapi({ type: "string", format: "binary" }),
});

export const CompleteUploadSchema = z
  .object({
    parts: z
      .array(
        z
          .object({
            part_number: z.number().int().min(1).max(10_000),
            etag: z.string().min(1).max(200),
          })
          .strict(),
      )
      .min(1)
      .max(10_000),
  })
  // Unknown keys are a client's mistake to hear about, as on every other JSON route.
  .strict()
  .openapi("CompleteUpload");

/** A bound in its column's type; a number a double cannot hold is written digit for digit. */
const StatValueSchema = z
  .custom<StatValue | null>(
    (value) =>
      value === null ||
      typeof value === "number" ||
      typeof value === "string" ||
      typeof value === "boolean" ||
      JSON.isRawJSON(value),
  )
  .openapi({
    type: ["number", "string", "boolean", "null"],
    description:
      "in the column's type: numbers compare numerically, dates and datetimes chronologically (`false` before `true` for booleans), strings by their text; null when the column has no value",
  });

const ColumnStatsSchema = z
  .object({
    nulls: z.number().int().openapi({ description: "stored rows whose cell in this column is empty" }),
    distinct: z.number().int().openapi({
      description:
        "distinct non-empty values: exact up to 10,000, above that a HyperLogLog estimate within 2 % (typically within 0.5 %)",
    }),
    min: StatValueSchema,
    max: StatValueSchema,
  })
  .openapi("ColumnStats");

const ColumnSchema = z.object({
  key: z.string().openapi({
    description:
      "snake_case key used in `data` and in filters; at most 63 characters (longer names are shortened and kept unique with a `_2`, `_3`, … suffix; the original stays in `name`)",
    example: "unit_price",
  }),
  name: z.string().openapi({ description: "the header as written in the file", example: "Unit Price" }),
  type: z.enum(["integer", "number", "boolean", "date", "datetime", "string"]).openapi({
    description:
      "`integer` holds integers of any size and `number` keeps every significant digit: values a double cannot hold come back digit for digit",
  }),
  stats: ColumnStatsSchema.nullable().openapi({
    description:
      "the column's statistics over the stored rows (rejected records count nowhere), computed during ingestion; null until the upload has completed, and null for a failed, cancelled or rejected upload (its rows are not kept)",
  }),
});

export const UploadSchema = z
  .object({
    id: z.string().uuid(),
    filename: z.string(),
    size_bytes: z.number().int(),
    status: z.enum(UPLOAD_STATUSES),
    total_rows: z.number().int().openapi({ description: "rows stored" }),
    processed_rows: z.number().int().openapi({ description: "records read, bad ones included" }),
    error_rows: z.number().int().openapi({ description: "records rejected" }),
    errors: z
      .array(z.object({ line: z.number().int(), reason: z.string() }))
      .openapi({ description: "the first 100 rejected records by line (the header is line 1)" }),
    columns: z.array(ColumnSchema),
    delimiter: z.string().nullable(),
    error: z.string().nullable(),
    job: z.string().uuid().nullable(),
    created_at: z.string().openapi({ format: "date-time" }),
    started_at: z.string().nullable().openapi({ format: "date-time" }),
    completed_at: z.string().nullable().openapi({ format: "date-time" }),
    indexes_ready: z.boolean().openapi({
      description:
        "the completed upload's query indexes are built; until then its rows answer every query correctly, only slower",
    }),
  })
  .openapi("Upload");

export const UploadPlanSchema = z.object({
  part_size: z.number().int().openapi({ description: "every part is this size but the last" }),
  parts: z.array(z.object({ part_number: z.number().int(), url: z.string().url() })),
  expires_at: z.string().openapi({ format: "date-time" }),
});

export const CreatedUploadSchema = UploadSchema.extend({ upload: UploadPlanSchema }).openapi("CreatedUpload");

export const UploadListSchema = z
  .object({
    count: z.number().int(),
    next: z.string().nullable(),
    previous: z.string().nullable(),
    results: z.array(UploadSchema),
  })
  .openapi("UploadList");

export const ProgressSchema = z
  .object({
    status: z.enum(UPLOAD_STATUSES),
    percent: z.number(),
    processed_rows: z.number().int(),
    processed_bytes: z.number().int(),
    total_bytes: z.number().int(),
    rows_per_second: z.number().nullable(),
    eta_seconds: z.number().nullable(),
  })
  .openapi("UploadProgress");

export type UploadResponse = z.infer<typeof UploadSchema>;
export type ProgressResponse = z.infer<typeof ProgressSchema>;
