/**
 * Column statistics as the chunk step gathers them (`parseChunk`) and as the outcome merges them:
 * each type ordered by its own rule, rejected records left out, chunks united exactly.
 */
import { describe, expect, it } from "vitest";
import { parseChunk } from "../../src/features/uploads/ingest/chunk.ts";
import { boundValue, compareDecimal, StatsMerger } from "../../src/features/uploads/ingest/column-stats.ts";
import type { UploadColumn } from "../../src/platform/db/schema.ts";

const columns: UploadColumn[] = [
  { key: "n", name: "n", type: "integer" },
  { key: "x", name: "x", type: "number" },
  { key: "d", name: "d", type: "date" },
  { key: "t", name: "t", type: "datetime" },
  { key: "b", name: "b", type: "boolean" },
  { key: "s", name: "s", type: "string" },
];
const layout = { delimiter: ",", newline: "\n", columns };

function statsOf(...chunks: string[]) {
  const merger = new StatsMerger(columns);
  let firstRow = 1;
  for (const text of chunks) {
    const records = text.split("\n").filter((line) => line !== "").length;
    const parsed = parseChunk(text, layout, { firstRow, firstLine: firstRow + 1, records });
    // Through JSON, as the partials are stored.
    expect(merger.add(JSON.parse(JSON.stringify(parsed.stats)))).toBe(true);
    firstRow += records;
  }
  return merger.result();
}

describe("one chunk", () => {
  it("orders each type by its rule and counts empty cells and distinct values", () => {
    const stats = statsOf(
      [
        "9,9.5,2026-01-09,2026-01-09T10:00:00Z,true,b",
        "10,10.25,2025-12-31,2026-01-09T09:00:00+02:00,false,a",
        "10,-1,2026-01-10,,true,B",
        ",100,,2025-06-01 00:00,,",
      ].join("\n"),
    );
    expect(stats).toEqual([
      { nulls: 1, distinct: 2, min: "9", max: "10" },
      { nulls: 0, distinct: 4, min: "-1", max: "100" },
      { nulls: 1, distinct: 3, min: "2025-12-31", max: "2026-01-10" },
      { nulls: 1, distinct: 3, min: "2025-06-01T00:00:00.000Z", max: "2026-01-09T10:00:00.000Z" },
      { nulls: 1, distinct: 2, min: false, max: true },
      { nulls: 1, distinct: 3, min: "B", max: "b" },
    ]);
  });

  it("leaves rejected records out of every statistic", () => {
    const stats = statsOf(
      ["1,1,2026-01-01,2026-01-01T00:00:00Z,true,a", "1000,x,2027-01-01,,false,zzz", "2,2"].join("\n"),
    );
    expect(stats[0]).toEqual({ nulls: 0, distinct: 1, min: "1", max: "1" });
    expect(stats[4]).toEqual({ nulls: 0, distinct: 1, min: true, max: true });
    expect(stats[5]).toEqual({ nulls: 0, distinct: 1, min: "a", max: "a" });
  });

  it("keeps integers a double cannot hold exact, in order and apart", () => {
    const row = (n: string) => `${n},1,,,,`;
    const stats = statsOf([row("90071992547409931"), row("90071992547409933"), row("90071992547409932")].join("\n"));
    expect(stats[0]).toEqual({ nulls: 0, distinct: 3, min: "90071992547409931", max: "90071992547409933" });
    expect(boundValue("integer", "90071992547409933")).toEqual(JSON.rawJSON("90071992547409933"));
    expect(boundValue("integer", "10")).toBe(10);
    expect(boundValue("string", "10")).toBe("10");
  });
});

describe("chunks merged", () => {
  it("sums empty cells, unites distinct values and keeps the outer bounds", () => {
    const first = ["5,1.5,2026-02-01,2026-02-01T00:00:00Z,true,m", ",,,,,"].join("\n");
    const second = ["50,0.5,2026-01-01,2026-03-01T00:00:00Z,true,n", "5,1.5,2026-02-01,,false,"].join("\n");
    expect(statsOf(first, second)).toEqual([
      { nulls: 1, distinct: 2, min: "5", max: "50" },
      { nulls: 1, distinct: 2, min: "0.5", max: "1.5" },
      { nulls: 1, distinct: 2, min: "2026-01-01", max: "2026-02-01" },
      { nulls: 2, distinct: 2, min: "2026-02-01T00:00:00.000Z", max: "2026-03-01T00:00:00.000Z" },
      { nulls: 1, distinct: 2, min: false, max: true },
      { nulls: 2, distinct: 2, min: "m", max: "n" },
    ]);
  });

  it("refuses partials that do not fit the columns", () => {
    const merger = new StatsMerger(columns);
    expect(merger.add(null)).toBe(false);
    expect(merger.add([])).toBe(false);
    expect(merger.add(columns.map(() => ({ nulls: -1, min: null, max: null, distinct: { exact: "" } })))).toBe(false);
    expect(merger.add(columns.map(() => ({ nulls: 0, min: 1, max: null, distinct: { exact: "" } })))).toBe(false);
    expect(merger.add(columns.map(() => ({ nulls: 0, min: null, max: null, distinct: { exact: "!" } })))).toBe(false);
    expect(merger.add(columns.map(() => ({ nulls: 0, min: null, max: null, distinct: { exact: "" } })))).toBe(true);
  });
});

describe("compareDecimal", () => {
  it("orders numerically, then by exact digits where doubles tie", () => {
    expect(compareDecimal("9", "10")).toBeLessThan(0);
    expect(compareDecimal("-10", "-9")).toBeLessThan(0);
    expect(compareDecimal("1e3", "999")).toBeGreaterThan(0);
    expect(compareDecimal("1.50", "1.5")).toBe(0);
    expect(compareDecimal("0.10000000000000000001", "0.1")).toBeGreaterThan(0);
    expect(compareDecimal("-0.10000000000000000001", "-0.1")).toBeLessThan(0);
    expect(compareDecimal("12345678901234567891", "12345678901234567890")).toBeGreaterThan(0);
    expect(compareDecimal("1234567890123456789.1e1", "12345678901234567890")).toBeGreaterThan(0);
  });
});
