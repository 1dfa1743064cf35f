import { z } from "@hono/zod-openapi";
import { unstorableText } from "../../../platform/lib/validation.ts";
import { DEFAULT_ROW_PAGE_SIZE, MAX_ROW_PAGE_SIZE, OPERATORS } from "./csv-data.query.ts";

export const RowSchema = z
  .object({
    row_number: z
      .number()
      .int()
      .openapi({ description: "Position of the record in the file (1 = first after the header)." }),
    data: z.record(z.string(), z.unknown()).openapi({ description: "Typed values by column key." }),
  })
  .openapi("CsvRow");

export const RowPageSchema = z
  .object({
    count: z.number().int(),
    count_is_estimate: z.boolean().openapi({
      description:
        "`count` is exact up to 10,000 matching rows (then this is false). When more than 10,000 rows match a filter, `count` is the planner's estimate, never below 10,001, and this is true.",
    }),
    next: z.string().nullable(),
    previous: z.string().nullable(),
    results: z.array(RowSchema),
  })
  .openapi("CsvRowPage");

export const RowCursorPageSchema = z
  .object({
    results: z.array(RowSchema),
    next_cursor: z.string().nullable(),
    next: z.string().nullable(),
  })
  .openapi("CsvRowCursorPage");

const text = (description: string) => z.string().optional().openapi({ description });

export const RowQueryDocSchema = z
  .object({
    columns: text("Comma-separated column keys: projects `data`. Unknown keys → 400."),
    search: text("Case-insensitive substring over all values."),
    sort_by: text("A column key, `-` prefix for descending. Nulls last either way; ties by ascending row_number."),
    pagination: z.enum(["page", "cursor"]).optional().openapi({ description: "Default `page`." }),
    page: text("From 1 (pagination=page)."),
    page_size: text(`1..${MAX_ROW_PAGE_SIZE}, default ${DEFAULT_ROW_PAGE_SIZE}.`),
    cursor: text("`next_cursor` from the previous page (pagination=cursor). Tampered → 400."),
    format: z
      .enum(["json", "ndjson", "csv"])
      .optional()
      .openapi({ description: "`ndjson` or `csv` stream every matching row (bounded memory)." }),
    nocache: text("`1` bypasses the cache (so does `Cache-Control: no-cache`)."),
  })
  .loose()
  .superRefine((query, ctx) => {
    // An `in` list may be a JSON array, whose escapes (`"\u0000"`, `"\ud800"`) the router's
    // text check cannot see in the raw parameter; jsonb would refuse them in the query (a 500).
    for (const [name, value] of Object.entries(query)) {
      if (!name.endsWith("[in]") || typeof value !== "string" || !value.trim().startsWith("[")) continue;
      let items: unknown;
      try {
        items = JSON.parse(value);
      } catch {
        continue; // the row query parser answers malformed lists with its own 400
      }
      for (const problem of unstorableText(items))
        ctx.addIssue({ code: "custom", path: [name], message: problem.message });
    }
  })
  .openapi({
    description: `Filters: \`<column>=<value>\` (equality) or \`filter[<column>][<op>]=<value>\` with op in ${OPERATORS.join(", ")}; values compare by the column's type; \`in\` takes a comma list or a JSON array; null or missing values match only \`is_null\`.`,
  });
