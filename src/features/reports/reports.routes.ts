import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { accepts } from "hono/accepts";
import { type CachedBody, cachedResponse } from "../../platform/cache/http.ts";
import type { AppEnv } from "../../platform/context/types.ts";
import { createRouter } from "../../platform/http/openapi.ts";
import { IfNoneMatchHeaders } from "../../platform/http/openapi-params.ts";
import { errorResponses, etagHeader, notModifiedResponse } from "../../platform/http/openapi-responses.ts";
import { routesTagged } from "../../platform/http/openapi-route.ts";
import { toCsv } from "../../platform/lib/csv.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { isoDay, parseIsoDate } from "../tasks/dates.ts";
import {
  OverdueReportSchema,
  PerDayQuerySchema,
  PerDayReportSchema,
  ReportQuerySchema,
  StatusReportSchema,
} from "./reports.schemas.ts";
import { countsPerDay, overdueTasks, statusCounts } from "./reports.service.ts";

const route = routesTagged("Reports");
const MAX_DAYS = 366;
const DAY_MS = 86_400_000;

/**
 * What every report route answers: the report as CSV or JSON by content negotiation (406 when it
 * can give neither), 304 while the caller's copy is current.
 */
const reportResponses = <T extends z.ZodType>(schema: T, description: string) => ({
  200: {
    description: `${description} CSV by default; JSON with \`Accept: application/json\`. Header \`X-Cache\`: HIT, MISS or BYPASS.`,
    content: { "text/csv": { schema: z.string() }, "application/json": { schema } },
    headers: etagHeader,
  },
  ...notModifiedResponse,
  ...errorResponses(400, 401, 406, 429),
});

const OFFERED = ["text/csv", "application/json"] as const;
type Format = "csv" | "json";

interface AcceptRange {
  type: string;
  q: number;
}

/** How closely a media range names a type: exactly (3), by its main type (2), as the any-type wildcard (1); 0 = not at all. */
function specificity(range: string, type: string): number {
  if (range === type) return 3;
  if (range === "*/*" || range === "*") return 1;
  return range.endsWith("/*") && type.startsWith(range.slice(0, -1)) ? 2 : 0;
}

/**
 * RFC 9110's choice: each offered type gets the quality of the most specific range naming it;
 * the highest non-zero quality wins, a tie going to the range listed first, then to CSV. "" when
 * nothing offered is acceptable.
 */
function bestOffered(ranges: AcceptRange[]): string {
  let best: { type: string; q: number; at: number } | null = null;
  for (const type of OFFERED) {
    let match: { q: number; at: number; level: number } | null = null;
    for (const [at, range] of ranges.entries()) {
      const level = specificity(range.type.toLowerCase(), type);
      if (level > 0 && (!match || level > match.level)) match = { q: range.q, at, level };
    }
    if (match && match.q > 0 && (!best || match.q > best.q || (match.q === best.q && match.at < best.at))) {
      best = { type, q: match.q, at: match.at };
    }
  }
  return best?.type ?? "";
}

/**
 * The report's format by `Accept` (quality values and wildcards honoured): CSV when the header is
 * missing or only a wildcard fits, JSON when it is preferred; anything else asked for alone (say
 * `application/xml`) is a 406 naming what is offered, rather than a CSV the client cannot read.
 */
function reportFormat(c: Context<AppEnv>): Format {
  const chosen = accepts(c, { header: "Accept", supports: [...OFFERED], default: "text/csv", match: bestOffered });
  if (chosen === "text/csv") return "csv";
  if (chosen === "application/json") return "json";
  throw ApiError.notAcceptable(
    `This report is offered as ${OFFERED.join(" or ")}; the Accept header asks for neither (send one of them, or */*).`,
  );
}

/**
 * A report as CSV or JSON, cached. `T` is the JSON body's type, which each route takes from the
 * schema it documents, so the JSON form cannot drift from the OpenAPI document.
 */
function report<T>(
  c: Context<AppEnv>,
  scope: string,
  params: unknown,
  filename: string,
  format: "csv" | "json",
  build: () => Promise<{ json: T; header: string[]; rows: (string | number)[][] }>,
): Promise<Response> {
  if (format === "csv") c.header("Content-Disposition", `attachment; filename="${filename}"`);
  c.header("Vary", "Accept");
  return cachedResponse(c, {
    scope: `reports:${scope}`,
    params: { params, format },
    ttlSeconds: c.var.config.REPORT_CACHE_TTL_SECONDS,
    load: async (): Promise<CachedBody> => {
      const data = await build();
      return format === "json"
        ? { body: JSON.stringify(data.json), contentType: "application/json" }
        : { body: toCsv(data.header, data.rows), contentType: "text/csv" };
    },
  });
}

async function statusReport(c: Context<AppEnv>, format: "csv" | "json"): Promise<Response> {
  return report<z.infer<typeof StatusReportSchema>>(c, "task-status", {}, "tasks.csv", format, async () => {
    const counts = await statusCounts(c.var.db(), c.var.user);
    return {
      json: counts,
      header: ["Total tasks", "Completed Task", "Incompleted Task"],
      rows: [[counts.total_tasks, counts.completed_tasks, counts.incomplete_tasks]],
    };
  });
}

function dayRange(query: { from?: string; to?: string }): { from: string; to: string } {
  const to = query.to ?? isoDay(new Date());
  const toDate = parseIsoDate(to);
  const from = query.from ?? isoDay(new Date((toDate?.getTime() ?? Date.now()) - 29 * DAY_MS));
  const fromDate = parseIsoDate(from);
  if (!toDate || !fromDate) throw ApiError.invalidParameter("from", "must be a date as YYYY-MM-DD");
  if (fromDate > toDate) throw ApiError.invalidParameter("from", "must not be after 'to'");
  if ((toDate.getTime() - fromDate.getTime()) / DAY_MS + 1 > MAX_DAYS) {
    throw ApiError.invalidParameter("from", `the range may span at most ${MAX_DAYS} days`);
  }
  return { from, to };
}

const legacyRoute = route.get(
  "/user/tasks/get_task_status_report",
  "getLegacyTaskStatusReport",
  "Task status report (CSV)",
  {
    description:
      "A CSV whose header is exactly `Total tasks,Completed Task,Incompleted Task` (clients parse it by name, spelling included) and the counts over the tasks you can see, as `tasks.csv`. Cached 15 minutes; fresh on the next read after any change.",
    request: { query: ReportQuerySchema, headers: IfNoneMatchHeaders },
    responses: {
      200: { description: "The CSV.", content: { "text/csv": { schema: z.string() } }, headers: etagHeader },
      ...notModifiedResponse,
      ...errorResponses(400, 401, 429),
    },
  },
);

const statusRoute = route.get("/reports/task-status", "getTaskStatusReport", "Task status counts", {
  request: { query: ReportQuerySchema, headers: IfNoneMatchHeaders },
  responses: reportResponses(StatusReportSchema, "Counts."),
});

const overdueRoute = route.get("/reports/overdue", "getOverdueReport", "Overdue tasks", {
  description:
    "Visible tasks past due and not done; `days_overdue` in whole days, rounded down. Most overdue first; tasks due at the same instant in ascending id order.",
  request: { query: ReportQuerySchema, headers: IfNoneMatchHeaders },
  responses: reportResponses(OverdueReportSchema, "Rows."),
});

const perDayRoute = (kind: "completed" | "opened") =>
  route.get(
    `/reports/${kind}-per-day`,
    kind === "completed" ? "getCompletedPerDayReport" : "getOpenedPerDayReport",
    kind === "completed" ? "Tasks completed per day" : "Tasks opened per day",
    {
      description:
        "One row per UTC day from `from` to `to` (both inclusive, at most 366 days), zeros included. Default: the last 30 days.",
      request: { query: PerDayQuerySchema, headers: IfNoneMatchHeaders },
      responses: reportResponses(PerDayReportSchema, "Rows."),
    },
  );

function perDayHandler(kind: "completed" | "opened") {
  return (c: Context<AppEnv>, query: { from?: string; to?: string }) => {
    const range = dayRange(query);
    return report<z.infer<typeof PerDayReportSchema>>(
      c,
      `${kind}-per-day`,
      range,
      `${kind}-per-day.csv`,
      reportFormat(c),
      async () => {
        const rows = await countsPerDay(c.var.db(), c.var.user, kind, range.from, range.to);
        return { json: { results: rows }, header: ["date", "count"], rows: rows.map((row) => [row.date, row.count]) };
      },
    );
  };
}

const completedPerDay = perDayHandler("completed");
const openedPerDay = perDayHandler("opened");

export const reportsRoutes = createRouter()
  .openapi(statusRoute, async (c) => await statusReport(c, reportFormat(c)))
  .openapi(overdueRoute, async (c) => {
    const format = reportFormat(c);
    return await report<z.infer<typeof OverdueReportSchema>>(c, "overdue", {}, "overdue.csv", format, async () => {
      const rows = await overdueTasks(c.var.db(), c.var.user);
      return {
        json: { results: rows },
        header: ["id", "title", "due_date", "days_overdue", "assignees"],
        rows: rows.map((row) => [row.id, row.title, row.due_date, row.days_overdue, row.assignees.join(" ")]),
      };
    });
  })
  .openapi(perDayRoute("completed"), async (c) => await completedPerDay(c, c.req.valid("query")))
  .openapi(perDayRoute("opened"), async (c) => await openedPerDay(c, c.req.valid("query")));

export const legacyReportRoutes = createRouter().openapi(legacyRoute, async (c) => await statusReport(c, "csv"));
