/**
 * Parses and validates the row-listing query string against the upload's columns. Everything a
 * client sends is checked here: unknown columns, operators or parameters are 400s naming them,
 * and filter values are converted to the column's type, so the SQL layer only ever sees known
 * column keys and typed, bound values.
 */
import type { UploadColumn } from "../../../platform/db/schema.ts";
import { ApiError } from "../../../platform/lib/errors.ts";
import { exactNumber, parseExactJson, type RawJson } from "../../../platform/lib/exact-json.ts";

export const OPERATORS = ["eq", "ne", "lt", "lte", "gt", "gte", "contains", "in", "is_null"] as const;
export type Operator = (typeof OPERATORS)[number];
export type ColumnType = UploadColumn["type"];
/** A filter or sort value in the column's type; numbers a double cannot hold stay exact (`RawJson`). */
export type TypedValue = string | number | boolean | RawJson;

export interface Filter {
  column: UploadColumn;
  /** The column's place in the upload's columns, which is where its value is stored in a row. */
  position: number;
  op: Operator;
  /** One value for most operators, several for `in`; `is_null` holds one boolean. */
  values: TypedValue[];
}

export interface Sort {
  column: UploadColumn;
  position: number;
  descending: boolean;
}

export type Pagination = "page" | "cursor";
export type StreamFormat = "ndjson" | "csv";

export interface RowQuery {
  projection: UploadColumn[] | null;
  filters: Filter[];
  search: string | null;
  sort: Sort | null;
  pagination: Pagination;
  page: number;
  pageSize: number;
  cursor: string | null;
  format: "json" | StreamFormat;
}

export const MAX_ROW_PAGE_SIZE = 1000;
/** Every list's default page size. */
export const DEFAULT_ROW_PAGE_SIZE = 20;
const MAX_IN_VALUES = 500;
const MAX_TEXT = 1000;

const RESERVED = new Set([
  "columns",
  "search",
  "sort_by",
  "pagination",
  "page",
  "page_size",
  "cursor",
  "format",
  "nocache",
]);
/** A decimal as a filter value may be written: `12`, `-0.5`, `.5`, `1.2e3`. */
const DECIMAL = /^[+-]?(?=\.?\d)\d*(\.\d+)?([eE][+-]?\d+)?$/;
const FILTER_PARAM = /^filter\[([^\]]*)\]\[([^\]]*)\]$/;

function invalid(parameter: string, message: string): ApiError {
  return ApiError.invalidParameter(parameter, message);
}

function wholeNumber(parameter: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw)) throw invalid(parameter, "must be a whole number");
  const value = Number(raw);
  if (value < min || value > max) throw invalid(parameter, `must be between ${min} and ${max}`);
  return value;
}

function strictDate(raw: string): string | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw);
  if (!match) return null;
  const [, y, m, d] = match;
  const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
  return date.toISOString().slice(0, 10) === raw ? raw : null;
}

/** Converts a filter value to the column's type, or explains why it cannot be. */
export function typedValue(parameter: string, column: UploadColumn, raw: string): TypedValue {
  if (raw.length > MAX_TEXT) throw invalid(parameter, `must be at most ${MAX_TEXT} characters`);
  if (raw.includes("\u0000")) throw invalid(parameter, "must not contain NUL characters");
  switch (column.type) {
    case "integer": {
      const value = /^[-+]?\d+$/.test(raw.trim()) ? exactNumber(raw.trim()) : undefined;
      if (value === undefined) throw invalid(parameter, `'${column.key}' holds integers; '${raw}' is not one`);
      return value;
    }
    case "number": {
      const trimmed = raw.trim();
      const value = DECIMAL.test(trimmed) ? exactNumber(trimmed) : undefined;
      if (value === undefined) throw invalid(parameter, `'${column.key}' holds numbers; '${raw}' is not one`);
      return value;
    }
    case "boolean": {
      const lower = raw.trim().toLowerCase();
      if (lower === "true") return true;
      if (lower === "false") return false;
      throw invalid(parameter, `'${column.key}' holds booleans; use true or false`);
    }
    case "date": {
      const value = strictDate(raw.trim());
      if (!value) throw invalid(parameter, `'${column.key}' holds dates; use a real date as YYYY-MM-DD`);
      return value;
    }
    case "datetime": {
      const trimmed = raw.trim();
      const datePart = strictDate(trimmed.slice(0, 10));
      const millis = Date.parse(trimmed);
      if (
        !datePart ||
        Number.isNaN(millis) ||
        !/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(trimmed)
      ) {
        throw invalid(parameter, `'${column.key}' holds date-times; use ISO 8601, e.g. 2024-05-01T12:00:00Z`);
      }
      return new Date(millis).toISOString();
    }
    default:
      return raw;
  }
}

function parseInValues(parameter: string, column: UploadColumn, raw: string): TypedValue[] {
  let items: string[];
  if (raw.trim().startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = parseExactJson(raw);
    } catch {
      throw invalid(parameter, "must be a comma-separated list or a JSON array");
    }
    if (
      !Array.isArray(parsed) ||
      parsed.some((item) => typeof item === "object" && item !== null && !JSON.isRawJSON(item))
    ) {
      throw invalid(parameter, "must be a JSON array of plain values");
    }
    items = parsed.map((item) => (JSON.isRawJSON(item) ? item.rawJSON : String(item)));
  } else {
    items = raw.split(",");
  }
  if (items.length === 0 || items.length > MAX_IN_VALUES) {
    throw invalid(parameter, `must list between 1 and ${MAX_IN_VALUES} values`);
  }
  return items.map((item) => typedValue(parameter, column, column.type === "string" ? item : item.trim()));
}

function columnByKey(columns: UploadColumn[], key: string, parameter: string): UploadColumn {
  const column = columns.find((c) => c.key === key);
  if (!column) {
    const known = columns.map((c) => c.key).join(", ");
    throw invalid(parameter, `unknown column '${key}'; this upload's columns are: ${known}`);
  }
  return column;
}

/** How other APIs spell a filter: `amount__gte`, `amount_gte`, `amount.gte`, `amount:gte`, `amount[gte]`. */
const FOREIGN_SPELLINGS = [
  (key: string, op: string) => `${key}__${op}`,
  (key: string, op: string) => `${key}_${op}`,
  (key: string, op: string) => `${key}.${op}`,
  (key: string, op: string) => `${key}:${op}`,
  (key: string, op: string) => `${key}[${op}]`,
];

/**
 * A 400 for a parameter that is neither reserved nor a column, showing the filter syntax; when the
 * name is another API's spelling of a filter on one of the columns, the exact rewrite.
 */
function unknownParameter(name: string, raw: string, columns: UploadColumn[]): ApiError {
  let hint = "Filter rows with <column>=<value> or filter[<column>][<operator>]=<value>";
  for (const column of columns) {
    const op = OPERATORS.find((o) => FOREIGN_SPELLINGS.some((spell) => spell(column.key, o) === name));
    if (op) {
      hint = `Filter rows with filter[${column.key}][${op}]=${raw}`;
      break;
    }
  }
  const advice = `${hint} (operators: ${OPERATORS.join(", ")}); this upload's columns are: ${columns.map((c) => c.key).join(", ")}`;
  return new ApiError(400, `Unknown parameter ${name}. ${advice}.`, {
    errors: [{ field: name, message: `is not a parameter. ${advice}` }],
  });
}

function single(params: URLSearchParams, name: string): string | null {
  const all = params.getAll(name);
  if (all.length > 1) throw invalid(name, "may be given only once");
  return all[0] ?? null;
}

export function parseRowQuery(params: URLSearchParams, columns: UploadColumn[]): RowQuery {
  const columnsParam = single(params, "columns");
  let projection: UploadColumn[] | null = null;
  if (columnsParam !== null) {
    const keys = columnsParam
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean);
    if (keys.length === 0) throw invalid("columns", "must name at least one column");
    projection = [...new Set(keys)].map((key) => columnByKey(columns, key, "columns"));
  }

  const filters: Filter[] = [];
  for (const [name, raw] of params) {
    const match = FILTER_PARAM.exec(name);
    if (match) {
      const [, key = "", op = ""] = match;
      const column = columnByKey(columns, key, name);
      const position = columns.indexOf(column);
      if (!(OPERATORS as readonly string[]).includes(op)) {
        throw invalid(name, `unknown operator '${op}'; use one of ${OPERATORS.join(", ")}`);
      }
      const operator = op as Operator;
      if (operator === "is_null") {
        const lower = raw.trim().toLowerCase();
        if (lower !== "true" && lower !== "false") throw invalid(name, "must be true or false");
        filters.push({ column, position, op: operator, values: [lower === "true"] });
      } else if (operator === "in") {
        filters.push({ column, position, op: operator, values: parseInValues(name, column, raw) });
      } else if (operator === "contains") {
        if (raw.length === 0) throw invalid(name, "must not be empty");
        if (raw.length > MAX_TEXT) throw invalid(name, `must be at most ${MAX_TEXT} characters`);
        filters.push({ column, position, op: operator, values: [raw] });
      } else {
        filters.push({ column, position, op: operator, values: [typedValue(name, column, raw)] });
      }
      continue;
    }
    if (RESERVED.has(name)) continue;
    if (name.startsWith("filter[")) throw invalid(name, "filters are written filter[<column>][<operator>]=<value>");
    const position = columns.findIndex((c) => c.key === name);
    const column = columns[position];
    if (!column) throw unknownParameter(name, raw, columns);
    filters.push({ column, position, op: "eq", values: [typedValue(name, column, raw)] });
  }

  const searchParam = single(params, "search");
  const search = searchParam === null || searchParam === "" ? null : searchParam;
  if (search && search.length > 200) throw invalid("search", "must be at most 200 characters");
  if (search?.includes("\u0000")) throw invalid("search", "must not contain NUL characters");

  const sortParam = single(params, "sort_by");
  let sort: Sort | null = null;
  if (sortParam !== null && sortParam !== "") {
    const descending = sortParam.startsWith("-");
    const key = descending ? sortParam.slice(1) : sortParam;
    if (key === "row_number") sort = null;
    else {
      const column = columnByKey(columns, key, "sort_by");
      sort = { column, position: columns.indexOf(column), descending };
    }
    if (key === "row_number" && descending) throw invalid("sort_by", "row order can only be ascending; omit sort_by");
  }

  const paginationParam = single(params, "pagination") ?? "page";
  if (paginationParam !== "page" && paginationParam !== "cursor") throw invalid("pagination", "must be page or cursor");

  const formatParam = single(params, "format") ?? "json";
  if (formatParam !== "json" && formatParam !== "ndjson" && formatParam !== "csv") {
    throw invalid("format", "must be json, ndjson or csv");
  }

  const pageParam = single(params, "page");
  const page = pageParam === null ? 1 : wholeNumber("page", pageParam, 1, 10_000_000);
  const sizeParam = single(params, "page_size");
  const pageSize =
    sizeParam === null ? DEFAULT_ROW_PAGE_SIZE : wholeNumber("page_size", sizeParam, 1, MAX_ROW_PAGE_SIZE);
  const cursor = single(params, "cursor");
  if (cursor !== null && paginationParam !== "cursor") throw invalid("cursor", "is only valid with pagination=cursor");
  if (pageParam !== null && paginationParam === "cursor")
    throw invalid("page", "is not used with pagination=cursor; follow next_cursor");

  const nocacheParam = single(params, "nocache");
  if (nocacheParam !== null && !["0", "1", "true", "false"].includes(nocacheParam)) {
    throw invalid("nocache", "must be 1 or 0");
  }

  return {
    projection,
    filters,
    search,
    sort,
    pagination: paginationParam,
    page,
    pageSize,
    cursor: cursor === "" ? null : cursor,
    format: formatParam,
  };
}

/** A canonical string of everything that shapes the result (not the page), for cache keys and cursor binding. */
export function queryFingerprint(query: RowQuery): string {
  return JSON.stringify({
    p: query.projection?.map((c) => c.key) ?? null,
    f: query.filters
      .map((f) => [f.column.key, f.op, f.values])
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    s: query.search,
    o: query.sort ? [query.sort.column.key, query.sort.descending] : null,
  });
}
