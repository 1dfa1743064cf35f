/**
 * Row listing over an upload's ingested rows: page, cursor (keyset) and streamed output.
 * Every query is scoped to the caller's own upload; counts of an unfiltered listing come from the
 * row count stored at ingestion, filtered counts are exact up to `EXACT_COUNT_LIMIT` matching rows
 * and beyond it the planner's estimate, never below `EXACT_COUNT_LIMIT + 1` (flagged
 * `count_is_estimate`), so "more than the limit" is always true.
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import type { Db } from "../../../platform/db/client.ts";
import { csvUploads, type UploadColumn, type UploadStatus } from "../../../platform/db/schema.ts";
import { csvRow } from "../../../platform/lib/csv.ts";
import { ApiError } from "../../../platform/lib/errors.ts";
import { parseExactJson } from "../../../platform/lib/exact-json.ts";
import { errorFields, log } from "../../../platform/lib/log.ts";
import { type IndexKeys, queriedKeys, rowObject } from "../ingest/row-layout.ts";
import { decodeCursor, encodeCursor, fingerprintHash } from "./csv-data.cursor.ts";
import { queryFingerprint, type RowQuery, type TypedValue } from "./csv-data.query.ts";
import {
  afterPosition,
  cappedCountStatement,
  type KeysetPosition,
  pageRowsStatement,
  whereClause,
} from "./csv-data.sql.ts";

export const EXACT_COUNT_LIMIT = 10_000;
const STREAM_BATCH = 2_000;

export interface QueryableUpload {
  id: string;
  filename: string;
  status: UploadStatus;
  columns: UploadColumn[];
  totalRows: number;
  processedRows: number;
  dataVersion: number;
  /** What its column B-trees hold, or will hold once built (`queriedKeys`). */
  indexKeys: IndexKeys;
}

export interface RowResult {
  row_number: number;
  data: Record<string, unknown>;
}

export async function loadUploadForQuery(db: Db, ownerId: number, uploadId: string): Promise<QueryableUpload> {
  const [upload] = await db
    .select({
      id: csvUploads.id,
      filename: csvUploads.filename,
      status: csvUploads.status,
      columns: csvUploads.columns,
      totalRows: csvUploads.totalRows,
      processedRows: csvUploads.processedRows,
      dataVersion: csvUploads.dataVersion,
      indexesReadyAt: csvUploads.indexesReadyAt,
      indexKeys: csvUploads.indexKeys,
    })
    .from(csvUploads)
    .where(and(eq(csvUploads.id, uploadId), eq(csvUploads.ownerId, ownerId)))
    .limit(1);
  if (!upload) throw ApiError.notFound("Upload");
  const { indexesReadyAt, indexKeys, ...described } = upload;
  return { ...described, indexKeys: queriedKeys(indexKeys, indexesReadyAt) };
}

/**
 * `data` (the stored array of values) and `sort_value` arrive as jsonb text: the driver's own
 * JSON.parse would round big numbers.
 */
type RawRow = {
  row_number: string | number;
  data: string;
  sort_value?: string | null;
};

function rowData(upload: QueryableUpload, row: RawRow): Record<string, unknown> {
  const values = parseExactJson(row.data);
  return rowObject(
    upload.columns.map((column) => column.key),
    Array.isArray(values) ? values : [],
  );
}

function project(query: RowQuery, data: Record<string, unknown>): Record<string, unknown> {
  if (!query.projection) return data;
  const projected: Record<string, unknown> = {};
  for (const column of query.projection) projected[column.key] = data[column.key] ?? null;
  return projected;
}

function toResult(upload: QueryableUpload, query: RowQuery, row: RawRow): RowResult {
  return { row_number: Number(row.row_number), data: project(query, rowData(upload, row)) };
}

/** The page's rows, as a statement a batch can hold (csv-data.sql.ts says how each kind of page is read). */
function rowsStatement(db: Db, upload: QueryableUpload, query: RowQuery, after: SQL | null, limit: number, offset = 0) {
  return db.execute<RawRow>(pageRowsStatement(upload, query, after, limit, offset));
}

async function selectRows(
  db: Db,
  upload: QueryableUpload,
  query: RowQuery,
  extra: SQL | null,
  limit: number,
  offset = 0,
) {
  return (await rowsStatement(db, upload, query, extra, limit, offset)).rows;
}

export interface CountResult {
  count: number;
  estimated: boolean;
}

type PlanRow = { "QUERY PLAN": [{ Plan: { "Plan Rows": number } }] };

/**
 * A page and its count in ONE round trip: the rows, the planner's estimate of the matches and an
 * exact count capped at `EXACT_COUNT_LIMIT + 1` travel as one batch. Up to the limit the count is
 * exact, whatever the estimate says; past it the estimate is reported, raised to the limit + 1
 * when the planner guesses lower (`count_is_estimate`). The capped count reads at most 10,001
 * index entries; asking for the estimate first would cost every filtered page a second round
 * trip to the database region instead.
 */
export async function listPage(db: Db, upload: QueryableUpload, query: RowQuery) {
  const offset = (query.page - 1) * query.pageSize;
  const rows = rowsStatement(db, upload, query, null, query.pageSize, offset);
  if (query.filters.length === 0 && !query.search) {
    const page = await rows;
    return {
      count: { count: upload.totalRows, estimated: false } satisfies CountResult,
      results: page.rows.map((row) => toResult(upload, query, row)),
    };
  }
  const estimated = whereClause(upload, query.filters, query.search, "estimate");
  const [page, plan, exact] = await db.batch([
    rows,
    db.execute<PlanRow>(sql`explain (format json) select 1 from csv_rows where ${estimated}`),
    db.execute<{ n: string | number }>(cappedCountStatement(upload, query, EXACT_COUNT_LIMIT + 1)),
  ]);
  const estimate = Number(plan.rows[0]?.["QUERY PLAN"]?.[0]?.Plan?.["Plan Rows"] ?? 0);
  const n = Number(exact.rows[0]?.n ?? 0);
  const count: CountResult =
    n <= EXACT_COUNT_LIMIT ? { count: n, estimated: false } : { count: Math.max(estimate, n), estimated: true };
  return { count, results: page.rows.map((row) => toResult(upload, query, row)) };
}

/**
 * Fetches the rows after `position`. An ascending sort reads the non-null values through the
 * (value, row_number) index first and the null tail second, so both halves are index range scans.
 */
async function rowsAfter(
  db: Db,
  upload: QueryableUpload,
  query: RowQuery,
  position: KeysetPosition | null,
  limit: number,
) {
  if (!position) return selectRows(db, upload, query, null, limit);
  const rows: RawRow[] = [];
  for (const segment of afterPosition(query.sort, position, upload.indexKeys)) {
    rows.push(...(await selectRows(db, upload, query, segment, limit - rows.length)));
    if (rows.length === limit) break;
  }
  return rows;
}

function positionOf(query: RowQuery, row: RawRow): KeysetPosition {
  const value = query.sort && row.sort_value != null ? (parseExactJson(row.sort_value) as TypedValue) : null;
  return { value, rowNumber: Number(row.row_number) };
}

export async function listCursorPage(db: Db, secret: string, upload: QueryableUpload, query: RowQuery) {
  const binding = {
    upload: upload.id,
    version: upload.dataVersion,
    query: await fingerprintHash(queryFingerprint(query)),
  };
  const position = query.cursor ? await decodeCursor(secret, query.cursor, binding) : null;
  // One extra row tells whether there is a next page without a count.
  const rows = await rowsAfter(db, upload, query, position, query.pageSize + 1);
  const page = rows.slice(0, query.pageSize);
  const last = page[page.length - 1];
  const nextCursor =
    rows.length > query.pageSize && last
      ? await encodeCursor(secret, { ...binding, ...positionOf(query, last) })
      : null;
  return { results: page.map((row) => toResult(upload, query, row)), nextCursor };
}

function csvValue(value: unknown): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  if (JSON.isRawJSON(value)) return value.rawJSON;
  return JSON.stringify(value);
}

/**
 * Every matching row, streamed: rows are read in keyset batches as the client consumes them, so
 * memory stays bounded whatever the result size. Each batch is one HTTP query, so the stream holds
 * no connection between batches.
 */
export function streamRows(db: Db, upload: QueryableUpload, query: RowQuery): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const columns = query.projection ?? upload.columns;
  let position: KeysetPosition | null = null;
  let headerSent = false;
  let finished = false;
  const finish = () => {
    finished = true;
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          let text = "";
          if (query.format === "csv" && !headerSent) {
            text += csvRow(["row_number", ...columns.map((c) => c.name)]);
            headerSent = true;
          }
          const rows: RawRow[] = await rowsAfter(db, upload, query, position, STREAM_BATCH);
          for (const row of rows) {
            const result = toResult(upload, query, row);
            text +=
              query.format === "csv"
                ? csvRow([result.row_number, ...columns.map((c) => csvValue(result.data[c.key]))])
                : `${JSON.stringify(result)}\n`;
          }
          if (text) controller.enqueue(encoder.encode(text));
          const last = rows[rows.length - 1];
          if (rows.length < STREAM_BATCH || !last) {
            controller.close();
            finish();
            return;
          }
          position = positionOf(query, last);
        } catch (error) {
          log("error", "row stream failed", errorFields(error));
          controller.error(error);
          finish();
        }
      },
      async cancel() {
        if (!finished) finish();
      },
    },
    { highWaterMark: 1 },
  );
}
