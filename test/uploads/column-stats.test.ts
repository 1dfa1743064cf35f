/**
 * Column statistics over HTTP: an upload's details give each column `{nulls, distinct, min, max}`
 * once it has completed, computed during ingestion over the stored rows only, merged across
 * chunks (the test Worker cuts chunks at 64 KB), exact up to 10,000 distinct values and within
 * 2 % above, and counted once when a chunk's transaction is rolled back and retried. Expected
 * values come from a plain reference over the rows the test itself knows it stored.
 */
import { and, count, eq, isNotNull, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { ChunkStats } from "../../src/features/uploads/ingest/column-stats.ts";
import { partitionName } from "../../src/features/uploads/ingest/partitions.ts";
import { mergedColumnStats } from "../../src/features/uploads/ingest/upload-stats.ts";
import { type ChunkColumnStats, csvUploadChunks } from "../../src/platform/db/schema.ts";
import { eventually, testEnv, withDb } from "../support/env.ts";
import {
  chunkCounts,
  chunkMessage,
  deliver,
  finished,
  formUpload,
  getUpload,
  processingWith,
  sampleCsv,
  storedRows,
  type Upload,
} from "../support/uploads.ts";
import { createUser } from "../support/users.ts";

interface Stats {
  nulls: number;
  distinct: number;
  min: number | string | boolean | null;
  max: number | string | boolean | null;
}

/** The statistics of each column of an upload's details, by key. */
function statsByKey(upload: Upload): Record<string, Stats | null> {
  const columns = upload.columns as (Upload["columns"][number] & { stats: Stats | null })[];
  return Object.fromEntries(columns.map((column) => [column.key, column.stats]));
}

const HEADER = "id,price,day,at,ok,label";
const N = 3000;
/**
 * Records the chunk step must reject (a bad integer, a field too many, a bad number), past the
 * rows the column types are inferred from; their other values are extremes that must not show.
 */
const REJECTED = new Set([2200, 2500, 2900]);

function dayOf(i: number): string {
  return new Date(Date.UTC(2026, 0, 1 + (i % 400))).toISOString().slice(0, 10);
}

/** Record i's cells; `null` for a cell left empty. Offsets make text order differ from time order. */
function cells(i: number): (string | null)[] {
  return [
    i % 100 === 50 ? null : String(i + 9),
    i % 7 === 3 ? null : String((i % 250) / 4),
    i % 11 === 5 ? null : dayOf(i),
    i % 9 === 4
      ? null
      : `2026-05-${String(1 + (i % 28)).padStart(2, "0")}T${String(i % 24).padStart(2, "0")}:30:00${i % 2 === 0 ? "Z" : "+05:00"}`,
    i % 13 === 6 ? null : i % 3 === 0 ? "false" : i % 3 === 1 ? "TRUE" : "true",
    i % 17 === 8 ? null : i % 5 === 0 ? `"name, ${i % 40}"` : `name-${i % 40}`,
  ];
}

function typedCsv(): string {
  const lines = [HEADER];
  for (let i = 0; i < N; i++) {
    if (i === 2500) lines.push("abc,99999,2099-01-01,2099-01-01T00:00:00Z,false,zzz");
    else if (i === 2200) lines.push("0,-99999,1900-01-01,1900-01-01T00:00:00Z,false,AAA,extra");
    else if (i === 2900) lines.push("-5,not a number,1901-01-01,,false,");
    else
      lines.push(
        cells(i)
          .map((cell) => cell ?? "")
          .join(","),
      );
  }
  return `${lines.join("\n")}\n`;
}

/** The reference: each column's statistics over the stored records, computed plainly. */
function expectedStats(): Record<string, Stats> {
  const keys = ["id", "price", "day", "at", "ok", "label"];
  const typed: ((raw: string) => number | string | boolean)[] = [
    Number,
    Number,
    (raw) => raw,
    (raw) => new Date(raw).toISOString(),
    (raw) => raw.toLowerCase() === "true",
    (raw) => raw.replace(/^"(.*)"$/, "$1"),
  ];
  const out: Record<string, Stats> = {};
  keys.forEach((key, c) => {
    const values: (number | string | boolean)[] = [];
    let nulls = 0;
    for (let i = 0; i < N; i++) {
      if (REJECTED.has(i)) continue;
      const raw = cells(i)[c];
      if (raw === null || raw === undefined) nulls++;
      else values.push((typed[c] as (raw: string) => number | string | boolean)(raw));
    }
    const sorted = [...values].sort((a, b) =>
      typeof a === "number" && typeof b === "number" ? a - b : a === b ? 0 : String(a) < String(b) ? -1 : 1,
    );
    out[key] = { nulls, distinct: new Set(values).size, min: sorted[0] ?? null, max: sorted.at(-1) ?? null };
  });
  return out;
}

describe("column statistics", () => {
  it("typed columns over several chunks: exact nulls, distinct, min and max; rejected records count nowhere", {
    timeout: 60_000,
  }, async () => {
    const user = await createUser();
    const upload = await formUpload(user, typedCsv(), "typed.csv");
    const done = await finished(user, upload.id);
    expect(done).toMatchObject({ status: "completed", total_rows: N - 3, error_rows: 3 });
    expect((await chunkCounts(upload.id)).planned).toBeGreaterThanOrEqual(3);
    expect(done.columns.map((column) => column.type)).toEqual([
      "integer",
      "number",
      "date",
      "datetime",
      "boolean",
      "string",
    ]);
    const stats = statsByKey(done);
    expect(stats).toEqual(expectedStats());
    // The reference's figures, stated: numbers compare as numbers (9 < 10 < 3008; as text "999"
    // would be the largest), datetimes by their instant, booleans false before true, and the
    // rejected records' extremes (99999, 2099, 1900, "zzz", "AAA", -5) appear nowhere.
    expect(stats.id).toEqual({ nulls: 30, distinct: N - 30 - 3, min: 9, max: 3008 });
    expect(stats.price).toMatchObject({ distinct: 250, min: 0, max: 62.25 });
    expect(stats.day).toMatchObject({ min: "2026-01-01", max: "2027-02-04" });
    // 2026-05-28T23:30:00+05:00 is the latest text but 18:30 UTC; 2026-05-27T22:30Z is not later.
    expect(stats.at).toMatchObject({ min: "2026-05-01T00:30:00.000Z", max: "2026-05-28T18:30:00.000Z" });
    expect(stats.ok).toMatchObject({ distinct: 2, min: false, max: true });
    expect(stats.label).toMatchObject({ distinct: 40, min: "name, 0", max: "name-9" });
  });

  it("a wide upload: every column's statistics in place, merged a group of columns and a page of chunks at a time", {
    timeout: 60_000,
  }, async () => {
    // 70 columns (groups of 32, 32 and 6) over more chunks than one page of a group holds.
    const width = 70;
    const rows = 2500;
    const value = (r: number, c: number): number | null => ((r + c) % (c + 3) === 0 ? null : (r * (c + 1)) % (50 + c));
    const lines = [Array.from({ length: width }, (_, c) => `c${c}`).join(",")];
    for (let r = 0; r < rows; r++) lines.push(Array.from({ length: width }, (_, c) => value(r, c) ?? "").join(","));
    const user = await createUser();
    const upload = await formUpload(user, `${lines.join("\n")}\n`, "wide.csv");
    const done = await finished(user, upload.id);
    expect(done).toMatchObject({ status: "completed", total_rows: rows });
    expect((await chunkCounts(upload.id)).planned).toBeGreaterThan(5);
    const expected: Record<string, Stats> = {};
    for (let c = 0; c < width; c++) {
      const values = Array.from({ length: rows }, (_, r) => value(r, c));
      const present = values.filter((v): v is number => v !== null);
      expected[`c${c}`] = {
        nulls: rows - present.length,
        distinct: new Set(present).size,
        min: Math.min(...present),
        max: Math.max(...present),
      };
    }
    expect(statsByKey(done)).toEqual(expected);
  });

  it("exact at 10,000 distinct values, an estimate within 2 % above", { timeout: 60_000 }, async () => {
    const user = await createUser();
    const rows = 30_000;
    const lines = ["ten_thousand,ten_thousand_one,all,constant"];
    for (let i = 0; i < rows; i++) lines.push(`${i % 10_000},k${i % 10_001},v${i},same`);
    const upload = await formUpload(user, `${lines.join("\n")}\n`, "distinct.csv");
    const done = await finished(user, upload.id);
    expect(done).toMatchObject({ status: "completed", total_rows: rows });
    expect((await chunkCounts(upload.id)).planned).toBeGreaterThan(5);
    const stats = statsByKey(done);
    expect(stats.ten_thousand).toEqual({ nulls: 0, distinct: 10_000, min: 0, max: 9999 });
    expect(stats.constant).toEqual({ nulls: 0, distinct: 1, min: "same", max: "same" });
    for (const [key, truth] of [
      ["ten_thousand_one", 10_001],
      ["all", rows],
    ] as const) {
      const distinct = stats[key]?.distinct ?? 0;
      expect(Math.abs(distinct - truth) / truth, `${key}: ${distinct} for ${truth}`).toBeLessThan(0.02);
    }
  });

  it("a chunk rolled back and retried counts once", { timeout: 100_000 }, async () => {
    const user = await createUser();
    const upload = await formUpload(user, typedCsv(), "retried.csv");
    // The second insert statement into the upload's rows (a chunk's) loses its connection: that
    // chunk's transaction, partials included, rolls back, and the queue delivers it again.
    const armed = await fetch(`${testEnv.TEST_SUPPORT_URL}/relay/faults`, {
      method: "POST",
      body: JSON.stringify({
        trigger: [`insert into "${partitionName(upload.id)}"`],
        skip: 1,
        scope: upload.id,
        outageMs: 1500,
      }),
    });
    expect(armed.status).toBe(201);
    const { id: fault } = (await armed.json()) as { id: number };
    const done = await finished(user, upload.id, 80_000);
    const state = (await (await fetch(`${testEnv.TEST_SUPPORT_URL}/relay/faults/${fault}`)).json()) as {
      fired: boolean;
    };
    expect(state.fired).toBe(true);
    expect(done.status).toBe("completed");
    expect(await storedRows(upload.id)).toEqual({ n: N - 3, distinct: N - 3 });
    expect(statsByKey(done)).toEqual(expectedStats());

    // A chunk delivered again after completion changes nothing either.
    await deliver("ingest-chunks", [await chunkMessage(upload.id, 1)]);
    expect(statsByKey(await getUpload(user, upload.id))).toEqual(expectedStats());
    // Merged once, the chunks' partials are cleared: they would only take space.
    const kept = await withDb((db) =>
      db
        .select({ n: count() })
        .from(csvUploadChunks)
        .where(and(eq(csvUploadChunks.uploadId, upload.id), isNotNull(csvUploadChunks.stats))),
    );
    expect(kept[0]?.n).toBe(0);
  });

  it("a chunk's partials are stored uncompressed: they do not compress, and trying costs each chunk's transaction", async () => {
    const storage = await withDb((db) =>
      db.execute<{ attstorage: string }>(
        sql`select attstorage from pg_attribute where attrelid = 'csv_upload_chunks'::regclass and attname = 'stats'`,
      ),
    );
    // 'e' (external): out of line, never compressed; the default for jsonb, 'x', tries pglz first.
    expect(storage.rows.map((row) => row.attstorage)).toEqual(["e"]);
  });

  it("no statistics (null) when a chunk's partials are missing or do not fit the columns", {
    timeout: 60_000,
  }, async () => {
    const user = await createUser();
    const upload = await formUpload(user, "a,b\n1,x\n2,y\n", "fit.csv");
    const done = await finished(user, upload.id);
    const columns = done.columns.map(({ key, name, type }) => ({ key, name, type }));
    const gathered = new ChunkStats(columns);
    gathered.add([1, "x"]);
    gathered.add([2, "y"]);
    const partials = gathered.partials();
    const mergedWith = (stats: unknown) =>
      withDb(async (db) => {
        await db
          .update(csvUploadChunks)
          .set({ stats: stats as ChunkColumnStats[] | null })
          .where(eq(csvUploadChunks.uploadId, upload.id));
        return mergedColumnStats(db, upload.id, columns);
      });
    expect(await mergedWith(partials)).toEqual([
      { nulls: 0, distinct: 2, min: "1", max: "2" },
      { nulls: 0, distinct: 2, min: "x", max: "y" },
    ]);
    // One partial too many or too few, none at all, or not an array: no statistics rather than wrong ones.
    expect(await mergedWith([...partials, partials[0]])).toBeNull();
    expect(await mergedWith(partials.slice(0, 1))).toBeNull();
    expect(await mergedWith(null)).toBeNull();
    expect(await mergedWith({ 0: partials[0], 1: partials[1] })).toBeNull();
  });

  it("null until the upload has completed, and for a failed upload", { timeout: 60_000 }, async () => {
    const user = await createUser();
    const upload = await formUpload(user, sampleCsv(60_000));
    await processingWith(user, upload.id, 2);
    const during = await getUpload(user, upload.id);
    expect(during.status).toBe("processing");
    expect(during.columns.length).toBe(4);
    expect(Object.values(statsByKey(during))).toEqual([null, null, null, null]);

    // A chunk dead-lettered: the upload fails, and keeps no statistics (its rows are dropped).
    await deliver("ingest-dlq", [await chunkMessage(upload.id, 1)]);
    const failed = await eventually(async () => {
      const now = await getUpload(user, upload.id);
      return now.status === "failed" ? now : undefined;
    });
    expect(Object.values(statsByKey(failed))).toEqual([null, null, null, null]);
  });
});
