import { z } from "@hono/zod-openapi";
import { nocacheParam as nocache, queryParams } from "../../platform/http/openapi-params.ts";
import { parseIsoDate } from "../tasks/dates.ts";

const day = (name: string, description: string) =>
  z
    .string()
    .refine((text) => parseIsoDate(text) !== null, "must be a date as YYYY-MM-DD, on the calendar")
    .optional()
    .openapi({ param: { name, in: "query" }, description, example: "2030-01-31" });

export const ReportQuerySchema = queryParams({ nocache });

export const PerDayQuerySchema = queryParams({
  from: day("from", "First day, inclusive (default: 29 days before `to`)."),
  to: day("to", "Last day, inclusive (default: today, UTC)."),
  nocache,
});

export const StatusReportSchema = z
  .object({
    total_tasks: z.number().int(),
    completed_tasks: z.number().int(),
    incomplete_tasks: z.number().int(),
  })
  .openapi("TaskStatusReport");

export const OverdueReportSchema = z
  .object({
    results: z.array(
      z.object({
        id: z.number().int(),
        title: z.string(),
        due_date: z.string().openapi({ format: "date-time" }),
        days_overdue: z.number().int(),
        assignees: z.array(z.number().int()),
      }),
    ),
  })
  .openapi("OverdueReport");

export const PerDayReportSchema = z
  .object({ results: z.array(z.object({ date: z.string().openapi({ format: "date" }), count: z.number().int() })) })
  .openapi("PerDayReport");
