/**
 * What a column's B-tree holds. Index builds now key each value in its column's type (numbers as
 * `numeric`, booleans as `boolean`, strings, dates and datetimes as text) and record it with the
 * time the indexes became ready; uploads indexed before typed keys record nothing and hold jsonb
 * scalars; until its indexes are ready an upload is queried through typed keys, those its build
 * makes. Each kind is queried through the expression its own indexes cover, and both give the
 * same answers.
 */
import { type SQL, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { rowIndexStatements } from "../../src/features/uploads/ingest/index-statements.ts";
import { partitionName } from "../../src/features/uploads/ingest/partitions.ts";
import type { IndexKeys } from "../../src/features/uploads/ingest/row-layout.ts";
import { parseRowQuery } from "../../src/features/uploads/rows/csv-data.query.ts";
import { orderClause, whereClause } from "../../src/features/uploads/rows/csv-data.sql.ts";
import type { UploadColumn } from "../../src/platform/db/schema.ts";
import { eventually, whileHolding, withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import {
  deliver,
  finished,
  formUpload,
  getUpload,
  indexesReady,
  type Upload,
  uploadInProgress,
} from "../support/uploads.ts";
import { createUser, type TestUser } from "../support/users.ts";

const ROWS = 240;
const BIG = "12345678901234567890.12";
const BIGGER = "12345678901234567890.13"; // the same double as BIG: only its digits tell them apart

/** Row `i`'s fields; every seventh value of a column is empty somewhere. */
function record(i: number): string[] {
  const empty = (column: number) => (i + column) % 7 === 0;
  const amount = i === 8 ? BIG : i === 10 ? BIGGER : `${(i * 37) % 101}.${i % 10}5`;
  return [
    String(i),
    empty(1) ? "" : i % 3 === 0 ? `-${amount}` : amount,
    empty(2) ? "" : i % 2 === 0 ? "true" : "false",
    empty(3) ? "" : `2024-${String((i % 12) + 1).padStart(2, "0")}-${String((i % 28) + 1).padStart(2, "0")}`,
    empty(4) ? "" : `2025-03-04T${String(i % 24).padStart(2, "0")}:06:${String(i % 60).padStart(2, "0")}Z`,
    empty(5) ? "" : (["Lake Marsh", "North Wick", "Zoë's Rest", "a", "Ab"][i % 5] ?? ""),
  ];
}
const HEADER = ["id", "amount", "active", "day", "seen", "city"];
const CSV = `${HEADER.join(",")}\n${Array.from({ length: ROWS }, (_, i) => record(i + 1).join(",")).join("\n")}\n`;

type Page = { count?: number; results: { row_number: number; data: Record<string, unknown> }[]; next_cursor?: string };

async function rows(user: TestUser, uploadId: string, query: string): Promise<Page> {
  const response = await api(`/csv-data/uploads/${uploadId}/data/?${query}&nocache=1`, { token: user.token });
  expect(response.status).toBe(200);
  return json<Page>(response);
}

const numbersOf = (page: Page) => page.results.map((r) => r.row_number);

/** Every row of a cursor walk, `page_size` at a time. */
async function walk(user: TestUser, uploadId: string, query: string): Promise<number[]> {
  const seen: number[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const page = await rows(user, uploadId, `${query}&pagination=cursor${cursor ? `&cursor=${cursor}` : ""}`);
    seen.push(...page.results.map((r) => r.row_number));
    if (!page.next_cursor) return seen;
    cursor = page.next_cursor;
  }
  throw new Error("the cursor walk did not end");
}

/** The plan of `select … where <where> [order by <order> limit 5]` with sequential scans, sorts and hash or merge joins ruled out. */
async function planOf(where: SQL, order?: SQL): Promise<string> {
  return withDb((db) =>
    db.transaction(async (tx) => {
      await tx.execute(sql`set local enable_seqscan = off`);
      await tx.execute(sql`set local enable_sort = off`);
      // A few hundred rows: a hash of the whole partition would do as well as any index.
      await tx.execute(sql`set local enable_hashjoin = off`);
      await tx.execute(sql`set local enable_mergejoin = off`);
      const statement = order
        ? sql`explain select row_number from csv_rows where ${where} order by ${order} limit 5`
        : sql`explain select 1 from csv_rows where ${where}`;
      const result = await tx.execute<{ "QUERY PLAN": string }>(statement);
      return result.rows.map((row) => row["QUERY PLAN"]).join("\n");
    }),
  );
}

const hexOf = (uploadId: string) => partitionName(uploadId).slice("csv_rows_".length);

let user: TestUser;
let typed: Upload;
let jsonbKeyed: Upload;

beforeAll(async () => {
  user = await createUser();
  typed = await formUpload(user, CSV);
  jsonbKeyed = await formUpload(user, CSV, "older.csv");
  for (const upload of [typed, jsonbKeyed]) {
    expect(await finished(user, upload.id)).toMatchObject({ status: "completed", total_rows: ROWS });
    await indexesReady(user, upload.id);
  }
  // The second upload as an earlier version indexed it: jsonb keys, and nothing recorded about them.
  await asIndexedBeforeTypedKeys(jsonbKeyed, ROWS);
}, 90_000);

describe("column index keys", () => {
  it("keys a new upload's B-trees in each column's type", async () => {
    expect(typed.columns.map((c) => c.type)).toEqual(["integer", "number", "boolean", "date", "datetime", "string"]);
    const keys = await withDb((db) =>
      db.execute<{ index_keys: string }>(sql`select index_keys from csv_uploads where id = ${typed.id}`),
    );
    expect(keys.rows).toEqual([{ index_keys: "typed" }]);
    const hex = hexOf(typed.id);
    const definitions = await withDb((db) =>
      db.execute<{ indexname: string; key: string }>(
        sql`select indexname, regexp_replace(indexdef, '^.* USING btree \\((.*), row_number\\).*$', '\\1') as key
            from pg_indexes where tablename = ${partitionName(typed.id)} and indexname ~ ${`^cr_${hex}_[ck]\\d+$`}
            order by indexname`,
      ),
    );
    expect(definitions.rows).toEqual([
      { indexname: `cr_${hex}_k0`, key: "(((data ->> 0))::numeric)" },
      { indexname: `cr_${hex}_k1`, key: "(((data ->> 1))::numeric)" },
      { indexname: `cr_${hex}_k2`, key: "(((data ->> 2))::boolean)" },
      { indexname: `cr_${hex}_k3`, key: "((data ->> 3))" },
      { indexname: `cr_${hex}_k4`, key: "((data ->> 4))" },
      { indexname: `cr_${hex}_k5`, key: "((data ->> 5))" },
    ]);
  });

  const FILTERS: [string, number][] = [
    ["amount=-10.35", 1],
    ["filter[amount][gte]=50", 1],
    ["active=true", 2],
    ["filter[day][lt]=2024-03-01", 3],
    ["filter[seen][gt]=2025-03-04T20:00:00Z", 4],
    ["city=North Wick", 5],
    ["filter[id][in]=3,5,700", 0],
  ];

  it.each<IndexKeys>(["typed", "jsonb"])(
    "queries %s keys through the column's own index: filters and sorts",
    async (keys) => {
      const upload = keys === "typed" ? typed : jsonbKeyed;
      const index = (position: number) => `cr_${hexOf(upload.id)}_${keys === "typed" ? "k" : "c"}${position} `;
      const columns = upload.columns as UploadColumn[];
      const queried = { id: upload.id, processedRows: ROWS, indexKeys: keys };
      for (const [filter, position] of FILTERS) {
        const query = parseRowQuery(new URLSearchParams(filter), columns);
        const plan = await planOf(whereClause(queried, query.filters, null));
        expect(plan, filter).toContain(index(position));
      }
      for (const position of [1, 5]) {
        const query = parseRowQuery(new URLSearchParams(`sort_by=${HEADER[position]}`), columns);
        const plan = await planOf(whereClause(queried, [], null), orderClause(query.sort, keys));
        expect(plan).toContain(`Index Scan using ${index(position)}`);
      }
    },
  );

  it("answers every filter, sort and cursor walk alike on both kinds of keys, and as the values say", async () => {
    const queries = [
      `amount=${BIGGER}`,
      `filter[amount][gt]=${BIG}`,
      `filter[amount][lt]=${BIGGER}&sort_by=-amount&page_size=5`,
      "filter[amount][ne]=-10.35&page_size=1000",
      "filter[id][in]=3,5,700",
      `filter[amount][in]=${BIG},-10.35`,
      "active=false&page_size=1000",
      "filter[active][ne]=true&page_size=1000",
      "filter[day][gte]=2024-11-20&filter[day][lt]=2024-12-03&page_size=1000",
      "filter[seen][lte]=2025-03-04T01:06:30Z&page_size=1000",
      "filter[city][in]=a,Ab&sort_by=city&page_size=1000",
      "filter[city][gt]=Zo&page_size=1000",
      "filter[amount][is_null]=true&page_size=1000",
      "sort_by=-amount&page_size=7",
      "sort_by=seen&page=3&page_size=40",
      "sort_by=-active&filter[city][contains]=wick&page_size=1000",
    ];
    for (const query of queries) {
      const [a, b] = await Promise.all([rows(user, typed.id, query), rows(user, jsonbKeyed.id, query)]);
      expect({ count: a.count, results: a.results }, query).toEqual({ count: b.count, results: b.results });
    }

    // By the values themselves.
    const data = Array.from({ length: ROWS }, (_, i) => record(i + 1));
    const numbers = numbersOf;
    expect(numbers(await rows(user, typed.id, `amount=${BIGGER}`))).toEqual([10]);
    expect(numbers(await rows(user, typed.id, `filter[amount][gt]=${BIG}`))).toEqual([10]);
    expect(numbers(await rows(user, typed.id, `filter[amount][in]=${BIG},-10.35`))).toEqual([3, 8]);
    expect(numbers(await rows(user, typed.id, "filter[id][in]=3,5,700"))).toEqual([3, 5]);
    expect((await rows(user, typed.id, "active=false")).count).toBe(data.filter((r) => r[2] === "false").length);
    const dated = data.flatMap((r, i) => (r[3] && r[3] >= "2024-11-20" && r[3] < "2024-12-03" ? [i + 1] : []));
    expect(dated.length).toBeGreaterThan(3);
    expect(
      numbers(await rows(user, typed.id, "filter[day][gte]=2024-11-20&filter[day][lt]=2024-12-03&page_size=1000")),
    ).toEqual(dated);
    // Descending by amount, numerically (the two long numbers by their last digit), nulls last.
    const byAmount = data
      .map((r, i) => ({ row: i + 1, amount: r[1] ?? "" }))
      .sort((x, y) => {
        if (x.amount === "" || y.amount === "")
          return (x.amount === "" ? 1 : 0) - (y.amount === "" ? 1 : 0) || x.row - y.row;
        const difference = Number(y.amount) - Number(x.amount);
        if (difference !== 0) return difference;
        return x.amount === y.amount ? x.row - y.row : x.amount === BIGGER ? -1 : 1;
      })
      .map((x) => x.row);
    expect(byAmount.slice(0, 2)).toEqual([10, 8]);
    for (const upload of [typed, jsonbKeyed]) {
      expect(await walk(user, upload.id, "sort_by=-amount&page_size=13")).toEqual(byAmount);
    }
    // Ascending text: by code unit, so "Ab" before "Lake Marsh" before "a".
    const byCity = data
      .map((r, i) => ({ row: i + 1, city: r[5] ?? "" }))
      .sort((x, y) =>
        x.city === "" || y.city === ""
          ? (x.city === "" ? 1 : 0) - (y.city === "" ? 1 : 0) || x.row - y.row
          : x.city < y.city
            ? -1
            : x.city > y.city
              ? 1
              : x.row - y.row,
      )
      .map((x) => x.row);
    for (const upload of [typed, jsonbKeyed]) {
      expect(await walk(user, upload.id, "sort_by=city&page_size=17")).toEqual(byCity);
    }
  });

  it("queries a ready upload that records nothing through its jsonb B-trees", { timeout: 60_000 }, async () => {
    expect(numbersOf(await rows(user, jsonbKeyed.id, "id=3"))).toEqual([3]);
    expect(await scannedThrough(`cr_${hexOf(jsonbKeyed.id)}_c0`)).toBe(true);
  });

  it("leaves an upload indexed before typed keys as it is when its index message comes again", async () => {
    await deliver("ingest-index", [{ kind: "index", uploadId: jsonbKeyed.id }]);
    const state = await withDb((db) =>
      db.execute<{ index_keys: string | null; typed_indexes: number }>(
        sql`select index_keys, (select count(*)::int from pg_indexes where tablename = ${partitionName(jsonbKeyed.id)}
              and indexname ~ ${`^cr_${hexOf(jsonbKeyed.id)}_k`}) as typed_indexes
            from csv_uploads where id = ${jsonbKeyed.id}`,
      ),
    );
    expect(state.rows).toEqual([{ index_keys: null, typed_indexes: 0 }]);
  });
});

/** How many scans have used index `name` (statistics reach the view shortly after each query). */
async function indexScans(name: string): Promise<number> {
  return withDb(async (db) => {
    const result = await db.execute<{ scans: number }>(
      sql`select coalesce(sum(idx_scan), 0)::int as scans from pg_stat_user_indexes where indexrelname = ${name}`,
    );
    return result.rows[0]?.scans ?? 0;
  });
}

/**
 * Waits until index `name` has served a scan. A backend that goes idle reports its statistics
 * within 10 seconds (Postgres's idle interval), so this waits longer than that.
 */
async function scannedThrough(name: string): Promise<boolean> {
  return eventually(async () => ((await indexScans(name)) > 0 ? true : undefined), 30_000);
}

/** Rebuilds a ready upload's B-trees as an earlier version left them: jsonb keys, nothing recorded. */
async function asIndexedBeforeTypedKeys(upload: Upload, records: number): Promise<void> {
  await withDb(async (db) => {
    const hex = hexOf(upload.id);
    const columns = upload.columns as UploadColumn[];
    await db.execute(sql.raw(columns.map((_, p) => `drop index if exists "cr_${hex}_k${p}"`).join("; ")));
    await db.execute(sql`update csv_uploads set index_keys = null where id = ${upload.id}`);
    const { btrees } = rowIndexStatements({ id: upload.id, records, columns, indexKeys: "jsonb" });
    for (const statement of btrees) await db.execute(statement);
    await db.execute(sql.raw(`analyze "${partitionName(upload.id)}"`));
  });
}

describe("column index keys: an upload whose indexes are not ready yet", () => {
  it("is queried through the typed B-trees its build has finished, before the rest is ready", {
    timeout: 60_000,
  }, async () => {
    const owner = await createUser();
    const csv = `id,label\n${Array.from({ length: 3000 }, (_, i) => `${i + 1},l${i}`).join("\n")}\n`;
    const upload = await formUpload(owner, csv);
    expect((await finished(owner, upload.id)).status).toBe("completed");
    await indexesReady(owner, upload.id);
    // As while the build still runs (the search index's parts, ANALYZE): B-trees built, nothing recorded yet.
    await withDb((db) =>
      db.execute(sql`update csv_uploads set indexes_ready_at = null, index_keys = null where id = ${upload.id}`),
    );
    expect(numbersOf(await rows(owner, upload.id, "id=1234"))).toEqual([1234]);
    expect(await scannedThrough(`cr_${hexOf(upload.id)}_k0`)).toBe(true);
  });

  it("has a description cached before they are ready that serves queries through the typed B-trees once built", {
    timeout: 90_000,
  }, async () => {
    // Mid-ingestion (60,000 rows), so the lock below is taken before any index build starts.
    const { user: owner, upload } = await uploadInProgress(2);
    // The index build (CREATE INDEX takes SHARE) waits while this lock is held; the rows load.
    await whileHolding(
      async (tx) => {
        await tx.execute(sql`lock table ${sql.identifier(partitionName(upload.id))} in row exclusive mode`);
      },
      async () => {
        expect((await finished(owner, upload.id, 60_000)).status).toBe("completed");
        expect((await getUpload(owner, upload.id)).indexes_ready).toBe(false);
        // Read, and cached, while no index exists yet.
        expect(numbersOf(await rows(owner, upload.id, "id=1234"))).toEqual([1234]);
      },
    );
    await indexesReady(owner, upload.id, 60_000);
    expect(numbersOf(await rows(owner, upload.id, "id=2345"))).toEqual([2345]);
    expect(await scannedThrough(`cr_${hexOf(upload.id)}_k0`)).toBe(true);
  });
});
