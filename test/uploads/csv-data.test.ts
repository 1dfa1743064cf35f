import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { type SQL, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { SEARCH_INDEX_PARTS, searchIndexBounds } from "../../src/features/uploads/ingest/search-index.ts";
import worker from "../../src/index.ts";
import { csvUploads, type UploadColumn } from "../../src/platform/db/schema.ts";
import { bumpCacheVersions } from "../../src/platform/edge-state/user-state.client.ts";
import { eventually, testEnv, withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import { createUser, type TestUser } from "../support/users.ts";

const COLUMNS: UploadColumn[] = [
  { key: "id", name: "ID", type: "integer" },
  { key: "name", name: "Full Name", type: "string" },
  { key: "amount", name: "Amount", type: "number" },
  { key: "active", name: "Active?", type: "boolean" },
  { key: "joined", name: "Joined", type: "date" },
  { key: "seen_at", name: "Seen At", type: "datetime" },
];

interface Row {
  row_number: number;
  data: Record<string, unknown>;
}

/**
 * Names that a CSV export must quote or escape, and that a `contains` filter must take literally:
 * one case per character the writer or the filter treats specially.
 */
const SPECIAL_NAMES: Record<number, string> = {
  5: "=SUM(A1:A9)",
  6: '50% off_sale, "quoted"',
  8: "line\rbreak",
  9: "line\nbreak",
  10: "+1 555 0100",
  11: "-5 degrees",
  12: "@mention",
  13: "\tindented",
  14: "\rreturn first",
  16: "C:\\temp\\50%",
};

/** 40 rows; row 7 and 33 were "rejected" (gaps); amounts repeat so ties exist; some values are null. */
function makeRows(): Row[] {
  const rows: Row[] = [];
  for (let n = 1; n <= 42; n++) {
    if (n === 7 || n === 33) continue;
    rows.push({
      row_number: n,
      data: {
        id: n,
        name: SPECIAL_NAMES[n] ?? `Person ${String.fromCharCode(65 + (n % 26))}${n}`,
        amount: n % 5 === 0 ? null : (n % 7) * 1.5 + (n % 3 === 0 ? 10 : 0),
        active: n % 2 === 0,
        joined: `2024-0${1 + (n % 9)}-1${n % 10}`,
        seen_at: n % 4 === 0 ? null : `2024-03-${String(1 + (n % 28)).padStart(2, "0")}T1${n % 10}:00:00.000Z`,
      },
    });
  }
  return rows;
}

async function createUpload(ownerId: number, rows: Row[]): Promise<string> {
  return withDb(async (db) => {
    const [upload] = await db
      .insert(csvUploads)
      .values({
        ownerId,
        filename: "people.csv",
        sizeBytes: 1234,
        r2Key: `test/${crypto.randomUUID()}`,
        status: "completed",
        columns: COLUMNS,
        totalRows: rows.length,
        processedRows: rows.length + 2,
        errorRows: 2,
      })
      .returning({ id: csvUploads.id });
    const id = upload!.id;
    const partition = `csv_rows_${id.replaceAll("-", "")}`;
    await db.execute(sql.raw(`create table if not exists ${partition} partition of csv_rows for values in ('${id}')`));
    // Stored as ingestion stores them: each row the array of its values in column order.
    const stored = rows.map((row) => ({ ...row, data: COLUMNS.map((column) => row.data[column.key] ?? null) }));
    await db.execute(
      sql`insert into csv_rows (upload_id, row_number, data) select ${id}::uuid, (r->>'row_number')::bigint, r->'data' from jsonb_array_elements(${JSON.stringify(stored)}::jsonb) r`,
    );
    return id;
  });
}

let owner: TestUser;
let other: TestUser;
let uploadId: string;
const rows = makeRows();

const data = (path: string, user = owner) => api(`/csv-data/uploads/${uploadId}/data/${path}`, { token: user.token });
const results = async (path: string) => {
  const response = await data(path);
  expect(response.status, await response.clone().text()).toBe(200);
  return (await json<{ results: Row[] }>(response)).results;
};
/** The body of the 400 that `path` must be answered with. */
const refused = async <T>(path: string): Promise<T> => {
  const response = await data(path);
  expect(response.status, path).toBe(400);
  return json<T>(response);
};

beforeAll(async () => {
  owner = await createUser();
  other = await createUser();
  uploadId = await createUpload(owner.id, rows);
});

/** Reference semantics of `search`: some value's text contains the term, case-insensitively. */
function valuesInclude(row: Row, term: string): boolean {
  return Object.values(row.data).some(
    (value) => value !== null && String(value).toLowerCase().includes(term.toLowerCase()),
  );
}

/** Reference semantics: JS filter + sort over the fixture, nulls last, ties by row number. */
function expected(filter: (r: Row) => boolean, sortKey?: string, descending = false): number[] {
  const matching = rows.filter(filter);
  if (sortKey) {
    matching.sort((a, b) => {
      const av = a.data[sortKey] as number | string | null;
      const bv = b.data[sortKey] as number | string | null;
      if (av === null && bv === null) return a.row_number - b.row_number;
      if (av === null) return 1;
      if (bv === null) return -1;
      if (av === bv) return a.row_number - b.row_number;
      return (av < bv ? -1 : 1) * (descending ? -1 : 1);
    });
  }
  return matching.map((r) => r.row_number);
}

describe("row listing: pages", () => {
  it("lists rows in file order with count, links and gaps for rejected records", async () => {
    const response = await data("?page_size=10");
    expect(response.status).toBe(200);
    expect(response.headers.get("X-Cache")).toMatch(/MISS|HIT/);
    const body = await json<{
      count: number;
      count_is_estimate: boolean;
      next: string;
      previous: null;
      results: Row[];
    }>(response);
    expect(body.count).toBe(40);
    expect(body.count_is_estimate).toBe(false);
    expect(body.previous).toBeNull();
    expect(new URL(body.next).searchParams.get("page")).toBe("2");
    expect(body.results.map((r) => r.row_number)).toEqual([1, 2, 3, 4, 5, 6, 8, 9, 10, 11]);
    expect(body.results[0]?.data).toEqual(rows[0]?.data);
  });

  it("pages 20 rows without page_size, in page and cursor mode", async () => {
    const body = await json<{ count: number; next: string; results: Row[] }>(await data(""));
    expect(body.results).toHaveLength(20);
    expect(body.count).toBe(40);
    const second = await json<{ next: string | null; results: Row[] }>(await api(body.next, { token: owner.token }));
    expect(second.results).toHaveLength(20);
    expect(second.next).toBeNull();
    const cursor = await json<{ results: Row[]; next_cursor: string | null }>(await data("?pagination=cursor"));
    expect(cursor.results).toHaveLength(20);
    expect(cursor.next_cursor).not.toBeNull();
  });

  it("answers an empty page past the end and 400 for bad page parameters", async () => {
    expect(await results("?page=99&page_size=10")).toEqual([]);
    for (const [query, field] of [
      ["?page=0", "page"],
      ["?page=abc", "page"],
      ["?page_size=1001", "page_size"],
      ["?page_size=0", "page_size"],
      ["?pagination=sideways", "pagination"],
      ["?format=xml", "format"],
    ] as const) {
      const body = await refused<{ detail: string; errors: { field: string }[] }>(query);
      expect(body.errors[0]?.field).toBe(field);
    }
  });

  it("projects columns and rejects unknown columns, operators and parameters by name", async () => {
    const page = await results("?columns=name,amount&page_size=2");
    expect(Object.keys(page[0]?.data ?? {})).toEqual(["name", "amount"]);
    for (const query of [
      "?columns=nope",
      "?filter[nope][eq]=1",
      "?filter[amount][like]=1",
      "?nope=1",
      "?sort_by=-nope",
    ]) {
      expect((await refused<{ detail: string }>(query)).detail).toMatch(/nope|like/);
    }
  });
});

/**
 * A completed upload of 10,050 rows whose `data` is `row(i)` for row i, written straight into its
 * partition: ingesting them through the API would cost far more.
 */
async function completedUploadOf(filename: string, columns: UploadColumn[], row: (i: SQL) => SQL): Promise<string> {
  return withDb(async (db) => {
    const [upload] = await db
      .insert(csvUploads)
      .values({
        ownerId: owner.id,
        filename,
        sizeBytes: 100_000,
        r2Key: `test/${crypto.randomUUID()}`,
        status: "completed",
        columns,
        totalRows: 10_050,
        processedRows: 10_050,
      })
      .returning({ id: csvUploads.id });
    const id = upload!.id;
    await db.execute(
      sql.raw(`create table csv_rows_${id.replaceAll("-", "")} partition of csv_rows for values in ('${id}')`),
    );
    await db.execute(
      sql`insert into csv_rows (upload_id, row_number, data) select ${id}::uuid, i, ${row(sql`i`)} from generate_series(1, 10050) i`,
    );
    return id;
  });
}

describe("row listing: counts are exact up to 10,000 matching rows", () => {
  let bigId: string;
  beforeAll(async () => {
    bigId = await completedUploadOf(
      "big.csv",
      [{ key: "n", name: "n", type: "integer" }],
      (i) => sql`jsonb_build_array(${i})`,
    );
  });
  const count = async (query: string) => {
    const response = await api(`/csv-data/uploads/${bigId}/data/${query}&page_size=1`, { token: owner.token });
    expect(response.status).toBe(200);
    return json<{ count: number; count_is_estimate: boolean }>(response);
  };

  it("counts 10,000 matching rows exactly", async () => {
    expect(await count("?filter[n][lte]=10000")).toMatchObject({ count: 10_000, count_is_estimate: false });
    expect(await count("?filter[n][gt]=50")).toMatchObject({ count: 10_000, count_is_estimate: false });
  });

  it("flags the count of 10,001 or more matching rows as an estimate, never below 10,001", async () => {
    for (const query of ["?filter[n][lte]=10001", "?filter[n][gte]=1", "?filter[n][is_null]=false"]) {
      const body = await count(query);
      expect(body.count_is_estimate, query).toBe(true);
      expect(body.count, query).toBeGreaterThanOrEqual(10_001);
    }
  });

  it("keeps a small filtered count exact and an unfiltered count exact at any size", async () => {
    expect(await count("?filter[n][lt]=4")).toMatchObject({ count: 3, count_is_estimate: false });
    expect(await count("?page=1")).toMatchObject({ count: 10_050, count_is_estimate: false });
  });
});

describe("row listing: substring counts add up over the search index's parts", () => {
  // 10,050 rows `{n, t}`: the search index's parts meet after row 5,025. `t` is "alpha" everywhere
  // but rows 5,026–5,075 ("beta"), and row 5,026 is "beta alpha": 10,001 rows hold "alpha", and
  // the row on each side of the boundary (5,025 and 5,026) is one of them.
  let id: string;
  beforeAll(async () => {
    id = await completedUploadOf(
      "parts.csv",
      [
        { key: "n", name: "n", type: "integer" },
        { key: "t", name: "t", type: "string" },
      ],
      (i) =>
        sql`jsonb_build_array(${i}, case when ${i} = 5026 then 'beta alpha' when ${i} between 5026 and 5075 then 'beta' else 'alpha' end)`,
    );
  });
  const count = async (query: string) => {
    const response = await api(`/csv-data/uploads/${id}/data/${query}&page_size=1`, { token: owner.token });
    expect(response.status, query).toBe(200);
    return json<{ count: number; count_is_estimate: boolean }>(response);
  };

  it("the parts meet where the test says", () => {
    expect(searchIndexBounds(10_050)).toEqual([5_025]);
  });

  it("counts 10,000 matches exactly when they lie on both sides of the boundary", async () => {
    for (const query of ["?search=alpha&filter[n][ne]=5026", "?filter[t][contains]=ALPHA&filter[n][ne]=5026"]) {
      expect(await count(query), query).toEqual(expect.objectContaining({ count: 10_000, count_is_estimate: false }));
    }
    // Only the rows of the first part (1–5,025), and only those of the second (5,026 and 5,076 on).
    expect(await count("?search=alpha&filter[n][lte]=5025")).toMatchObject({ count: 5_025, count_is_estimate: false });
    expect(await count("?search=alpha&filter[n][gt]=5025")).toMatchObject({ count: 4_976, count_is_estimate: false });
  });

  it("flags 10,001 substring matches as an estimate, never below 10,001", async () => {
    for (const query of ["?search=alpha", "?filter[t][contains]=lph"]) {
      const body = await count(query);
      expect(body.count_is_estimate, query).toBe(true);
      expect(body.count, query).toBeGreaterThanOrEqual(10_001);
    }
  });

  it("counts a few matches in the middle exactly", async () => {
    expect(await count("?search=beta")).toMatchObject({ count: 50, count_is_estimate: false });
    expect(await count("?filter[t][contains]=beta%20al")).toMatchObject({ count: 1, count_is_estimate: false });
  });
});

describe("row listing: the filter syntax is explained", () => {
  it("answers another API's filter spelling with the exact rewrite, which works", async () => {
    for (const [query, rewrite] of [
      ["?amount__gte=4000", "filter[amount][gte]=4000"],
      ["?amount[lte]=3", "filter[amount][lte]=3"],
      ["?id_in=1,2", "filter[id][in]=1,2"],
    ] as const) {
      const body = await refused<{ detail: string; errors: { field: string; message: string }[] }>(query);
      const name = query.slice(1).split("=")[0];
      expect(body.detail).toContain(`Unknown parameter ${name}. Filter rows with ${rewrite}`);
      expect(body.errors[0]?.field).toBe(name);
      expect((await data(`?${rewrite}`)).status).toBe(200);
    }
  });

  it("shows the general form and the columns for any other unknown parameter", async () => {
    const response = await data("?colour=red");
    expect(response.status).toBe(400);
    const { detail } = await json<{ detail: string }>(response);
    expect(detail).toContain("Unknown parameter colour.");
    expect(detail).toContain("filter[<column>][<operator>]=<value>");
    expect(detail).toContain("eq, ne, lt, lte, gt, gte, contains, in, is_null");
    expect(detail).toContain("id, name, amount");
  });

  it("is documented with examples in the OpenAPI document", async () => {
    const doc = await json<{ paths: Record<string, { get?: { description?: string } }> }>(
      await api("http://api.test/api/v1/openapi.json"),
    );
    const description = doc.paths["/api/v1/csv-data/uploads/{id}/data/"]?.get?.description ?? "";
    for (const text of ["filter[<column>][<operator>]=<value>", "`<column>=<value>`", "?filter[amount][gte]=4000"]) {
      expect(description).toContain(text);
    }
    for (const op of ["eq", "ne", "lt", "lte", "gt", "gte", "contains", "in", "is_null"]) {
      expect(description).toContain(`\`${op}\``);
    }
  });
});

describe("row listing: filters compare by type", () => {
  const cases: [string, (r: Row) => boolean][] = [
    ["?id=12", (r) => r.data.id === 12],
    ["?filter[amount][gt]=9", (r) => typeof r.data.amount === "number" && r.data.amount > 9],
    ["?filter[amount][lte]=4.5", (r) => typeof r.data.amount === "number" && r.data.amount <= 4.5],
    ["?filter[amount][ne]=3", (r) => typeof r.data.amount === "number" && r.data.amount !== 3],
    ["?filter[id][gte]=30&filter[id][lt]=35", (r) => (r.data.id as number) >= 30 && (r.data.id as number) < 35],
    ["?filter[joined][gte]=2024-05-01", (r) => (r.data.joined as string) >= "2024-05-01"],
    [
      "?filter[seen_at][lt]=2024-03-10T00:00:00Z",
      (r) => r.data.seen_at !== null && (r.data.seen_at as string) < "2024-03-10",
    ],
    ["?active=true", (r) => r.data.active === true],
    ["?filter[name][contains]=person a", (r) => String(r.data.name).toLowerCase().includes("person a")],
    ["?filter[name][contains]=50%25 off_", (r) => String(r.data.name).includes("50% off_")],
    // `%` and `_` are the pattern language's wildcards; as text they match only themselves.
    ["?filter[name][contains]=%25", (r) => String(r.data.name).includes("%")],
    ["?filter[name][contains]=_", (r) => String(r.data.name).includes("_")],
    ["?filter[name][contains]=%5C", (r) => String(r.data.name).includes("\\")],
    ["?filter[id][in]=1,2,3,99", (r) => [1, 2, 3].includes(r.data.id as number)],
    [
      '?filter[name][in]=["50% off_sale, \\"quoted\\"","Person B1"]',
      (r) => r.data.name === "Person B1" || r.data.id === 6,
    ],
    // A datetime filter is read in any offset and compared in UTC: 14:00 at +01:00 is row 13's 13:00Z.
    ["?filter[seen_at][eq]=2024-03-14T14:00:00%2B01:00", (r) => r.data.seen_at === "2024-03-14T13:00:00.000Z"],
    // An integer may carry its sign; a boolean any case.
    ["?filter[id][eq]=%2B5", (r) => r.data.id === 5],
    ["?active=TRUE", (r) => r.data.active === true],
    // Listed numbers are trimmed; listed strings are taken as written, spaces included.
    ["?filter[amount][in]=3, 4.5", (r) => r.data.amount === 3 || r.data.amount === 4.5],
    ["?filter[name][in]=Person B1, Person C2", (r) => r.data.name === "Person B1"],
    ["?filter[amount][is_null]=true", (r) => r.data.amount === null],
    ["?filter[seen_at][is_null]=false", (r) => r.data.seen_at !== null],
    ["?search=PERSON Z", (r) => String(r.data.name).toLowerCase().includes("person z")],
    ['?search="quoted"', (r) => r.data.id === 6],
    // Search matches values only, never the text around them in the stored row (`[9, "line\nbreak",
    // null, false, …]`): not the `null` of an empty cell, a separator, a bracket or an escape.
    ...[
      "1.5",
      "TRUE",
      "2024-03-1",
      "person b",
      "NUL",
      "ul",
      "null",
      "%201",
      ", f",
      "]",
      "[",
      "nbreak",
      "tindented",
    ].map((term): [string, (r: Row) => boolean] => [
      `?search=${term}`,
      (r) => valuesInclude(r, decodeURIComponent(term)),
    ]),
  ];
  for (const [query, predicate] of cases) {
    it(`${query}`, async () => {
      const response = await data(`${query}&page_size=1000`);
      expect(response.status, await response.clone().text()).toBe(200);
      const body = await json<{ count: number; results: Row[] }>(response);
      const want = expected(predicate);
      expect(body.results.map((r) => r.row_number)).toEqual(want);
      expect(body.count).toBe(want.length);
    });
  }

  it("pages a search: page 2 holds the 6th to 10th matches", async () => {
    const want = expected((r) => valuesInclude(r, "person")).slice(5, 10);
    expect(want).toHaveLength(5);
    expect((await results("?search=person&page=2&page_size=5")).map((r) => r.row_number)).toEqual(want);
    expect((await results("?filter[name][contains]=person&page=2&page_size=5")).map((r) => r.row_number)).toEqual(want);
  });

  it("finds by search and `contains` the row on the boundary between the search index's parts", async () => {
    // The parts split the upload's row numbers (42 read): the last row of the first part.
    const [boundary] = searchIndexBounds(42);
    const row = rows.find((r) => r.row_number === boundary);
    const name = String(row?.data.name);
    expect(name).toMatch(/^Person /);
    const term = name.slice("Person ".length);
    expect((await results(`?search=${term}`)).map((r) => r.row_number)).toEqual([boundary]);
    expect((await results(`?filter[name][contains]=${term}`)).map((r) => r.row_number)).toEqual([boundary]);
  });

  it("rejects values that do not fit the column's type, naming the parameter", async () => {
    for (const query of [
      "?id=abc",
      "?filter[amount][gt]=lots",
      "?filter[joined][gte]=2024-02-31",
      "?filter[seen_at][lt]=yesterday",
      "?active=maybe",
      "?filter[amount][is_null]=perhaps",
    ]) {
      expect((await refused<{ errors: { field: string }[] }>(query)).errors[0]?.field).toBe(
        decodeURIComponent(query.slice(1).split("=")[0] ?? ""),
      );
    }
  });

  it("keeps SQL out of reach: quotes, semicolons and keywords are just text", async () => {
    const response = await data("?filter[name][contains]=';drop table csv_rows;--&search=' or 1=1 --");
    expect(response.status).toBe(200);
    expect((await json<{ count: number }>(response)).count).toBe(0);
    expect(await results("?page_size=1")).toHaveLength(1);
  });
});

describe("row listing: every limit of the query string, on both sides", () => {
  const count = async (path: string) => {
    const response = await data(path);
    expect(response.status, `${path.slice(0, 80)}: ${await response.clone().text()}`).toBe(200);
    return (await json<{ count: number }>(response)).count;
  };
  const refusedField = async (path: string) =>
    (await refused<{ errors: { field: string; message: string }[] }>(path)).errors[0];

  it("takes an `in` list of up to 500 values, not 501", async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => i + 1).join(",");
    expect(await count(`?filter[id][in]=${ids(500)}`)).toBe(rows.length);
    expect(await refusedField(`?filter[id][in]=${ids(501)}`)).toMatchObject({
      field: "filter[id][in]",
      message: "must list between 1 and 500 values",
    });
  });

  it("takes a filter value of up to 1,000 characters, not 1,001", async () => {
    expect(await count(`?name=${"x".repeat(1000)}`)).toBe(0);
    expect(await refusedField(`?name=${"x".repeat(1001)}`)).toMatchObject({
      field: "name",
      message: "must be at most 1000 characters",
    });
    expect(await count(`?filter[name][contains]=${"x".repeat(1000)}`)).toBe(0);
    expect(await refusedField(`?filter[name][contains]=${"x".repeat(1001)}`)).toMatchObject({
      field: "filter[name][contains]",
    });
    expect(await refusedField("?filter[name][contains]=")).toMatchObject({
      field: "filter[name][contains]",
      message: "must not be empty",
    });
    expect(await refusedField("?name=a%00b")).toMatchObject({
      field: "name",
      message: "must not contain NUL characters",
    });
  });

  it("takes a search of up to 200 characters, not 201", async () => {
    expect(await count(`?search=${"x".repeat(200)}`)).toBe(0);
    expect(await refusedField(`?search=${"x".repeat(201)}`)).toMatchObject({ field: "search" });
  });

  it("takes page numbers up to 10,000,000, not beyond", async () => {
    expect(await results("?page=10000000")).toEqual([]);
    expect(await refusedField("?page=10000001")).toMatchObject({ field: "page" });
  });

  it("refuses a datetime whose date does not exist, even where the clock would roll it over", async () => {
    expect(await refusedField("?filter[seen_at][lt]=2024-02-30T00:00:00Z")).toMatchObject({
      field: "filter[seen_at][lt]",
    });
  });

  it("sorts by row number only ascending, the file's own order", async () => {
    const ordered = await results("?sort_by=row_number&page_size=1000");
    expect(ordered.map((r) => r.row_number)).toEqual(rows.map((r) => r.row_number));
    expect(await refusedField("?sort_by=-row_number")).toMatchObject({ field: "sort_by" });
  });

  it("takes each parameter once", async () => {
    expect(await refusedField("?search=a&search=b")).toMatchObject({ field: "search" });
    expect(await refusedField("?page=1&page=2")).toMatchObject({ field: "page" });
  });

  it("names a column listed twice in `columns` once, in JSON and in CSV", async () => {
    const page = await results("?columns=name,name&page_size=1");
    expect(Object.keys(page[0]?.data ?? {})).toEqual(["name"]);
    const csv = await data("?columns=name,name&format=csv&filter[id][eq]=1");
    expect(await csv.text()).toBe("row_number,Full Name\r\n1,Person B1\r\n");
  });
});

describe("row listing: sorting", () => {
  for (const [sortBy, key, descending] of [
    ["amount", "amount", false],
    ["-amount", "amount", true],
    ["joined", "joined", false],
    ["-seen_at", "seen_at", true],
    ["name", "name", false],
  ] as const) {
    it(`sort_by=${sortBy} orders the whole result, nulls last, ties by row number`, async () => {
      const all = await results(`?sort_by=${sortBy}&page_size=1000`);
      expect(all.map((r) => r.row_number)).toEqual(expected(() => true, key, descending));
      // Page 2 continues page 1 over the whole ordering, not within a page.
      const second = await results(`?sort_by=${sortBy}&page_size=7&page=2`);
      expect(second.map((r) => r.row_number)).toEqual(expected(() => true, key, descending).slice(7, 14));
    });
  }
});

describe("row listing: cursors", () => {
  async function walk(query: string, pageSize = 6): Promise<number[]> {
    const seen: number[] = [];
    let url: string | null = `/csv-data/uploads/${uploadId}/data/?pagination=cursor&page_size=${pageSize}${query}`;
    for (let guard = 0; url && guard < 50; guard++) {
      const response: Response = await api(url, { token: owner.token });
      expect(response.status).toBe(200);
      const body = await json<{ results: Row[]; next: string | null; next_cursor: string | null }>(response);
      expect(body).not.toHaveProperty("count");
      seen.push(...body.results.map((r) => r.row_number));
      expect(body.next === null).toBe(body.next_cursor === null);
      url = body.next;
    }
    return seen;
  }

  it("walks every row exactly once, in order", async () => {
    expect(await walk("")).toEqual(expected(() => true));
  });

  it("walks a sorted, filtered listing exactly once, nulls last", async () => {
    expect(await walk("&sort_by=amount")).toEqual(expected(() => true, "amount"));
    expect(await walk("&sort_by=-seen_at")).toEqual(expected(() => true, "seen_at", true));
    expect(await walk("&sort_by=joined&active=false")).toEqual(expected((r) => r.data.active === false, "joined"));
  });

  it("walks values that tie across page boundaries exactly once, in both directions", async () => {
    // Amounts repeat (and some are null), so with these page sizes tie groups straddle pages.
    for (const pageSize of [2, 3, 4, 5]) {
      expect(await walk("&sort_by=-amount", pageSize), `page_size ${pageSize}`).toEqual(
        expected(() => true, "amount", true),
      );
      expect(await walk("&sort_by=amount", pageSize), `page_size ${pageSize}`).toEqual(expected(() => true, "amount"));
    }
  });

  it("says there is no next page on a last page exactly as full as the page size", async () => {
    type CursorPage = { results: Row[]; next: string | null; next_cursor: string | null };
    expect(rows.length % 20).toBe(0);
    const first = await json<CursorPage>(await data("?pagination=cursor&page_size=20"));
    expect(first.results).toHaveLength(20);
    expect(first.next_cursor).not.toBeNull();
    const last = await json<CursorPage>(await api(first.next ?? "", { token: owner.token }));
    expect(last.results.map((r) => r.row_number)).toEqual(rows.slice(20).map((r) => r.row_number));
    expect(last.next_cursor).toBeNull();
    expect(last.next).toBeNull();
  });

  it("refuses a cursor kept across a re-ingestion of the upload", async () => {
    const reingested = await createUpload(owner.id, rows);
    const path = `/csv-data/uploads/${reingested}/data/?pagination=cursor&page_size=5`;
    const first = await json<{ next_cursor: string }>(await api(path, { token: owner.token }));
    const next = `${path}&cursor=${encodeURIComponent(first.next_cursor)}`;
    expect((await api(next, { token: owner.token })).status).toBe(200);
    // A re-ingestion replaces the rows, moves the upload's data version on and, as every change
    // to an upload does, replaces its owner's `uploads` cache version.
    await withDb((db) =>
      db.execute(sql`update csv_uploads set data_version = data_version + 1 where id = ${reingested}`),
    );
    await bumpCacheVersions(testEnv, [owner.id], ["uploads"]);
    const stale = await api(next, { token: owner.token });
    expect(stale.status).toBe(400);
    expect(await json(stale)).toMatchObject({
      errors: [{ field: "cursor", message: "The upload's rows changed since this cursor was issued; start again." }],
    });
  });

  it("rejects a tampered cursor or one from another query with 400", async () => {
    const first = await json<{ next_cursor: string }>(await data("?pagination=cursor&page_size=5"));
    const [body, signature] = first.next_cursor.split(".");
    const forged = `${btoa(JSON.stringify({ upload: uploadId, version: 1, query: "x", value: null, rowNumber: 1 })).replace(/=+$/, "")}.${signature}`;
    for (const cursor of [forged, `${body}.AAAA`, "garbage", first.next_cursor.slice(0, -2)]) {
      const response = await data(`?pagination=cursor&cursor=${encodeURIComponent(cursor)}`);
      expect(response.status).toBe(400);
      expect((await json<{ errors: { field: string }[] }>(response)).errors[0]?.field).toBe("cursor");
    }
    const otherQuery = await data(`?pagination=cursor&sort_by=amount&cursor=${encodeURIComponent(first.next_cursor)}`);
    expect(otherQuery.status).toBe(400);
  });
});

describe("row listing: streaming", () => {
  it("streams every matching row as NDJSON", async () => {
    const response = await data("?format=ndjson&filter[id][gt]=10");
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/application\/x-ndjson/);
    const lines = (await response.text())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Row);
    expect(lines.map((r) => r.row_number)).toEqual(expected((r) => (r.data.id as number) > 10));
  });

  it("streams every row past a full batch of 2,000, and stops at exactly 2,000", async () => {
    const many: Row[] = Array.from({ length: 2001 }, (_, i) => ({
      row_number: i + 1,
      data: { id: i + 1, name: `n${i + 1}`, amount: null, active: i < 2000, joined: null, seen_at: null },
    }));
    const big = await createUpload(owner.id, many);
    const lines = async (query: string) => {
      const response = await api(`/csv-data/uploads/${big}/data/?format=ndjson${query}`, { token: owner.token });
      expect(response.status).toBe(200);
      return (await response.text())
        .trim()
        .split("\n")
        .map((line) => (JSON.parse(line) as Row).row_number);
    };
    expect(await lines("")).toEqual(many.map((r) => r.row_number));
    expect(await lines("&active=true")).toEqual(many.slice(0, 2000).map((r) => r.row_number));
  });

  it("streams CSV with original names, RFC 4180 quoting and formula escaping", async () => {
    const response = await data("?format=csv&columns=id,name&filter[id][lte]=15&filter[id][gte]=4");
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/text\/csv/);
    const text = await response.text();
    expect(text).toBe(
      [
        "row_number,ID,Full Name",
        "4,4,Person E4",
        "5,5,'=SUM(A1:A9)",
        '6,6,"50% off_sale, ""quoted"""',
        // A lone carriage return or line feed inside a cell needs quotes, or it ends the record.
        '8,8,"line\rbreak"',
        '9,9,"line\nbreak"',
        // Cells a spreadsheet would run as a formula get a leading apostrophe.
        "10,10,'+1 555 0100",
        "11,11,'-5 degrees",
        "12,12,'@mention",
        "13,13,'\tindented",
        `14,14,"'\rreturn first"`,
        "15,15,Person P15",
        "",
      ].join("\r\n"),
    );
  });
});

describe("row listing: caching and access", () => {
  it("serves MISS then HIT, and BYPASS with nocache=1 or Cache-Control: no-cache or no-store", async () => {
    const query = `?filter[id][lt]=20&sort_by=-amount&page_size=3&page=2&r=${Date.now()}`.replace(/&r=\d+$/, "");
    const fresh = `${query}&filter[id][gt]=${Math.floor(Math.random() * 1000) - 2000}`;
    const first = await data(fresh);
    expect(first.headers.get("X-Cache")).toBe("MISS");
    const firstBody = await first.json();
    const second = await data(fresh);
    expect(second.headers.get("X-Cache")).toBe("HIT");
    expect(await second.json()).toEqual(firstBody);
    expect((await data(`${fresh}&nocache=1`)).headers.get("X-Cache")).toBe("BYPASS");
    // The same Cache-Control rule as every other cached route: no-cache or no-store, as a directive.
    const directives: [string, string][] = [
      ["no-cache", "BYPASS"],
      ["max-age=0, no-store", "BYPASS"],
      ["no-transform", "HIT"],
    ];
    for (const [cacheControl, status] of directives) {
      const header = await api(`/csv-data/uploads/${uploadId}/data/${fresh}`, {
        token: owner.token,
        headers: { "Cache-Control": cacheControl },
      });
      expect(header.headers.get("X-Cache"), cacheControl).toBe(status);
    }
  });

  it("never serves another user's upload, cached or not", async () => {
    expect((await data("?page_size=3")).status).toBe(200);
    const response = await data("?page_size=3", other);
    expect(response.status).toBe(404);
    expect((await json<{ detail: string }>(response)).detail).toBe("Upload not found.");
  });

  it("stops serving cached pages once the upload is deleted", async () => {
    const id = await createUpload(owner.id, rows.slice(0, 5));
    const path = `/csv-data/uploads/${id}/data/`;
    expect((await api(path, { token: owner.token })).headers.get("X-Cache")).toBe("MISS");
    expect((await api(path, { token: owner.token })).headers.get("X-Cache")).toBe("HIT");
    expect((await api(`/csv-data/uploads/${id}/`, { method: "DELETE", token: owner.token })).status).toBe(204);
    expect((await api(path, { token: owner.token })).status).toBe(404);
  });

  it("stops serving cached pages once the upload is deleted through the legacy /delete/ path too", async () => {
    const id = await createUpload(owner.id, rows.slice(0, 5));
    const path = `/csv-data/uploads/${id}/data/`;
    expect((await api(path, { token: owner.token })).headers.get("X-Cache")).toBe("MISS");
    expect((await api(path, { token: owner.token })).headers.get("X-Cache")).toBe("HIT");
    expect((await api(`/csv-data/uploads/${id}/delete/`, { method: "DELETE", token: owner.token })).status).toBe(204);
    expect((await api(path, { token: owner.token })).status).toBe(404);
  });

  it("requires authentication", async () => {
    const response = await api(`/csv-data/uploads/${uploadId}/data/`);
    expect(response.status).toBe(401);
  });
});

describe("row listing: index repair", () => {
  it("the scheduled sweep builds the indexes of a completed upload whose build never ran", async () => {
    const id = await createUpload(owner.id, rows.slice(0, 10));
    await withDb((db) =>
      db.execute(sql`update csv_uploads set completed_at = now() - interval '10 minutes' where id = ${id}::uuid`),
    );
    const partition = `csv_rows_${id.replaceAll("-", "")}`;
    const count = async () =>
      Number(
        (
          await withDb((db) =>
            db.execute<{ n: string }>(sql`select count(*) as n from pg_indexes where tablename = ${partition}`),
          )
        ).rows[0]?.n,
      );
    expect(await count()).toBe(1);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "*/10 * * * *" }), testEnv, ctx);
    await waitOnExecutionContext(ctx);
    // Primary key + one B-tree per column + the trigram index's parts, built by the real index queue.
    const expected = 1 + COLUMNS.length + SEARCH_INDEX_PARTS;
    expect(await eventually(async () => ((await count()) === expected ? true : undefined), 20_000)).toBe(true);
    expect(await results(`?page_size=3`)).toHaveLength(3);
  });
});
