/**
 * Page-number pagination shared by every list endpoint: `page` (from 1) and `page_size`
 * (default 20, max 100 unless an endpoint allows more), answered as DRF-style
 * `{count, next, previous, results}` with `next`/`previous` as full URLs.
 */
import { z } from "@hono/zod-openapi";
import { asc, count, desc, type SQL } from "drizzle-orm";
import type { AnyPgColumn, PgSelect, PgTable } from "drizzle-orm/pg-core";
import type { Db } from "../db/client.ts";
import { queryParams, wholeNumberText } from "./openapi-params.ts";

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export interface PageParams {
  page: number;
  page_size: number;
}

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/**
 * The `page`/`page_size` query fields. Anything but a whole number in range is a 400 (through
 * the router's validation hook), never silently clamped: a client asking for page 0 has a bug.
 * Spread `.shape` into a larger query schema to add filters.
 */
export function pageQuerySchema(maxPageSize = MAX_PAGE_SIZE, defaultPageSize = DEFAULT_PAGE_SIZE) {
  // Digits only: " 10" or "1e1" is a client bug, not 10.
  return queryParams({
    page: wholeNumberText(1, 1_000_000)
      .default(1)
      .openapi({
        param: { name: "page", in: "query" },
        type: "integer",
        description: "Page number, from 1.",
        example: 1,
      }),
    page_size: wholeNumberText(1, maxPageSize)
      .default(defaultPageSize)
      .openapi({
        param: { name: "page_size", in: "query" },
        type: "integer",
        description: `Items per page, 1..${maxPageSize} (default ${defaultPageSize}).`,
        example: defaultPageSize,
      }),
  });
}

export const PageQuerySchema = pageQuerySchema();

/** What a listing reads: one page of results and how many match in all (the envelope's `count`). */
export interface Listing<T> {
  count: number;
  results: T[];
}

/** Rows that keep when they were made: the id breaks ties between rows made in the same instant, so pages never overlap. */
interface Timestamped {
  createdAt: AnyPgColumn;
  id: AnyPgColumn;
}

/** The `ORDER BY` of a listing that shows the latest rows first. */
export function newestFirst(table: Timestamped): SQL[] {
  return [desc(table.createdAt), desc(table.id)];
}

/** The `ORDER BY` of a listing that reads in the order the rows were made. */
export function oldestFirst(table: Timestamped): SQL[] {
  return [asc(table.createdAt), asc(table.id)];
}

/** SQL `LIMIT`/`OFFSET` for a page. */
export function pageWindow(params: PageParams): { limit: number; offset: number } {
  return { limit: params.page_size, offset: (params.page - 1) * params.page_size };
}

/**
 * A listing's two queries, for one `db.batch` (one round trip): how many rows of `table` match
 * `where`, and the page of those rows that `rows` (a `.$dynamic()` select from `table`) reads, in
 * `order`. Both queries take the same `where`, so `count` always counts what the pages list; the
 * order must end with a unique column, so that pages never overlap. Read the count with `countOf`.
 */
export function countedPage<Q extends PgSelect>(
  db: Db,
  table: PgTable,
  where: SQL | undefined,
  rows: Q,
  order: (SQL | AnyPgColumn)[],
  page: PageParams,
) {
  const { limit, offset } = pageWindow(page);
  return [
    db.select({ n: count() }).from(table).where(where),
    rows
      .where(where)
      .orderBy(...order)
      .limit(limit)
      .offset(offset),
  ] as const;
}

/** The number a `countedPage` count query read (a count always returns one row; the 0 only satisfies the type). */
export function countOf(total: readonly { n: number }[]): number {
  return total[0]?.n ?? 0;
}

/**
 * Builds the page envelope around what a listing read. Links keep every other query parameter of
 * the request (filters, ordering) and only change `page`, so following `next` continues the same listing.
 */
export function paginate<T>(requestUrl: string, params: PageParams, { count, results }: Listing<T>): Page<T> {
  const link = (page: number): string => {
    const url = new URL(requestUrl);
    url.searchParams.set("page", String(page));
    url.searchParams.set("page_size", String(params.page_size));
    return url.toString();
  };
  const lastPage = Math.max(1, Math.ceil(count / params.page_size));
  return {
    count,
    next: params.page < lastPage ? link(params.page + 1) : null,
    // Past the end, `previous` points at the last real page rather than at another empty one.
    previous: params.page > 1 ? link(Math.min(params.page - 1, lastPage)) : null,
    results,
  };
}

/** The OpenAPI/zod schema of a page of `item`, registered under `name`. */
export function pageSchema<T extends z.ZodType>(item: T, name: string) {
  return z
    .object({
      count: z.number().int().openapi({ example: 1 }),
      next: z.string().url().nullable().openapi({ description: "Full URL of the next page, or null." }),
      previous: z.string().url().nullable().openapi({ description: "Full URL of the previous page, or null." }),
      results: z.array(item),
    })
    .openapi(name);
}
