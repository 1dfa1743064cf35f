import type { Context } from "hono";
import { wantsBypass } from "../../../platform/cache/http.ts";
import type { AppEnv } from "../../../platform/context/types.ts";
import { createRouter } from "../../../platform/http/openapi.ts";
import { IfNoneMatchHeaders, UuidIdParam } from "../../../platform/http/openapi-params.ts";
import { errorResponses, etagHeader, notModifiedResponse } from "../../../platform/http/openapi-responses.ts";
import { routesTagged } from "../../../platform/http/openapi-route.ts";
import { paginate } from "../../../platform/http/pagination.ts";
import { readCached, rowsCacheKey, uploadCacheKey, writeCached } from "./csv-data.cache.ts";
import { parseRowQuery } from "./csv-data.query.ts";
import { RowCursorPageSchema, RowPageSchema, RowQueryDocSchema } from "./csv-data.schemas.ts";
import { listCursorPage, listPage, loadUploadForQuery, type QueryableUpload, streamRows } from "./csv-data.service.ts";

const route = routesTagged("CSV data");

const listRowsRoute = route.get(
  "/csv-data/uploads/{id}/data",
  "listUploadRows",
  "List, filter, sort and page an upload's rows",
  {
    description:
      'Page pagination answers `CsvRowPage`; `pagination=cursor` answers `CsvRowCursorPage` (keyset: the same speed at any depth); `format=ndjson|csv` streams every matching row. JSON pages are cached in KV (`X-Cache`).\n\n**Filtering.** `filter[<column>][<operator>]=<value>`, or `<column>=<value>` for equality, with a column `key` from the upload\'s `columns`. Operators: `eq`, `ne`, `lt`, `lte`, `gt`, `gte` (compared by the column\'s type: numbers numerically, dates and datetimes chronologically), `contains` (case-insensitive substring), `in` (a comma-separated list, or a JSON array for values with commas) and `is_null` (`true` or `false`). Null or missing values match no operator but `is_null`. Several filters combine with AND. Examples: `?filter[amount][gte]=4000`, `?filter[amount][gte]=100&filter[amount][lt]=500&sort_by=-amount`, `?country=NO`, `?filter[status][in]=open,pending`, `?filter[name][in]=["Smith, J","Lee"]`, `?filter[email][contains]=@example.com`, `?filter[closed_at][is_null]=true`, `?filter[joined][lt]=2024-01-01`. An unknown parameter (such as `amount__gte=4000`), column or operator → 400 naming it and showing the right form.\n\nNumbers are exact: an `integer` column holds integers of any size and a `number` column keeps every significant digit. A value a double cannot hold (an integer beyond 2^53 − 1, or more than 15 significant digits) appears in JSON, NDJSON and CSV digit for digit as in the file (parse such JSON with a big-number-aware parser), and filters and `sort_by` compare it exactly.',
    request: { params: UuidIdParam, query: RowQueryDocSchema, headers: IfNoneMatchHeaders },
    responses: {
      200: {
        description: "A page of rows (with an `ETag`), or the streamed rows (`Cache-Control: no-store`, no `ETag`).",
        headers: etagHeader,
        content: {
          "application/json": { schema: RowPageSchema.or(RowCursorPageSchema) },
          "application/x-ndjson": { schema: { type: "string" } },
          "text/csv": { schema: { type: "string" } },
        },
      },
      ...notModifiedResponse,
      ...errorResponses(400, 401, 404, 429, 503),
    },
  },
);

/**
 * The caller's upload, from KV when its description is cached under the caller's current
 * `uploads` version (only completed uploads, which change only by deletion), else from Postgres.
 */
async function queryableUpload(c: Context<AppEnv>, id: string): Promise<QueryableUpload> {
  const user = c.var.user;
  const key = uploadCacheKey(user.id, user.cacheVersions?.uploads, id);
  if (key) {
    const cached = await readCached<QueryableUpload>(c.env.CACHE, key);
    if (cached.status === "HIT") return cached.value;
  }
  const upload = await loadUploadForQuery(c.var.db(), user.id, id);
  if (key && upload.status === "completed") {
    c.executionCtx.waitUntil(writeCached(c.env.CACHE, key, upload, c.var.config.CACHE_TTL_SECONDS));
  }
  return upload;
}

export const csvDataRoutes = createRouter().openapi(listRowsRoute, async (c) => {
  const { id } = c.req.valid("param");
  const upload = await queryableUpload(c, id);
  const url = new URL(c.req.url);
  const query = parseRowQuery(url.searchParams, upload.columns);
  const config = c.var.config;

  if (query.format !== "json") {
    // Each batch of the stream is one HTTP query; nothing to close when it ends.
    const stream = streamRows(c.var.db(), upload, query);
    c.header("X-Cache", "BYPASS");
    // `no-store` also keeps the entity-tag middleware from buffering a whole export to hash it.
    c.header("Cache-Control", "private, no-store");
    if (query.format === "csv") {
      c.header("Content-Type", "text/csv; charset=utf-8");
      c.header("Content-Disposition", `attachment; filename="rows-${upload.id}.csv"`);
    } else {
      c.header("Content-Type", "application/x-ndjson; charset=utf-8");
    }
    return c.body(stream, 200);
  }

  const bypass = wantsBypass(c);
  const key = await rowsCacheKey(upload, query);
  let cacheStatus: "MISS" | "BYPASS" = bypass ? "BYPASS" : "MISS";
  if (!bypass) {
    const cached = await readCached<Record<string, unknown>>(c.env.CACHE, key);
    if (cached.status === "HIT") {
      c.header("X-Cache", "HIT");
      return c.json(cached.value, 200);
    }
    cacheStatus = cached.status;
  }

  let body: Record<string, unknown>;
  if (query.pagination === "cursor") {
    const page = await listCursorPage(c.var.db(), config.JWT_SECRET, upload, query);
    let next: string | null = null;
    if (page.nextCursor) {
      const nextUrl = new URL(url);
      nextUrl.searchParams.set("cursor", page.nextCursor);
      next = nextUrl.toString();
    }
    body = { results: page.results, next_cursor: page.nextCursor, next };
  } else {
    const page = await listPage(c.var.db(), upload, query);
    const pageParams = { page: query.page, page_size: query.pageSize };
    const envelope = paginate(c.req.url, pageParams, { count: page.count.count, results: page.results });
    body = {
      count: envelope.count,
      count_is_estimate: page.count.estimated,
      next: envelope.next,
      previous: envelope.previous,
      results: envelope.results,
    };
  }
  c.header("X-Cache", cacheStatus);
  if (cacheStatus === "MISS") c.executionCtx.waitUntil(writeCached(c.env.CACHE, key, body, config.CACHE_TTL_SECONDS));
  return c.json(body, 200);
});
