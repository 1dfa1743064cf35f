/**
 * Column statistics as the chunk step gathers them (`parseChunk`) and as the outcome merges them:
 * each type ordered by its own rule, rejected records left out, chunks united exactly.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseChunk } from "../../src/features/uploads/ingest/chunk.ts";
import { boundValue, ChunkStats, compareDecimal, StatsMerger } from "../../src/features/uploads/ingest/column-stats.ts";
import type { UploadColumn } from "../../src/platform/db/schema.ts";

/** A column named as its key. */
const column = (key: string, type: UploadColumn["type"]): UploadColumn => ({ key, name: key, type });
/** One column of each type. */
const columns = [
  column("n", "integer"),
  column("x", "number"),
  column("d", "date"),
  column("t", "datetime"),
  column("b", "boolean"),
  column("s", "string"),
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
    expect(boundValue("number", "1.5")).toBe(1.5);
    expect(boundValue("date", "2026-01-01")).toBe("2026-01-01");
    expect(boundValue("integer", null)).toBeNull();
    expect(boundValue("boolean", false)).toBe(false);
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

/** The exact value of a decimal written as sign, integer digits, fraction digits and exponent. */
interface Decimal {
  sign: "" | "-" | "+";
  int: string;
  frac: string | null;
  exp: number | null;
  upper: boolean;
}

/** The exponent as JavaScript writes it (`1e+21`), or without the plus when `upper`. */
const decimalText = (d: Decimal) =>
  `${d.sign}${d.int}${d.frac === null ? "" : `.${d.frac}`}${
    d.exp === null ? "" : d.upper ? `E${d.exp}` : `e${d.exp < 0 ? "" : "+"}${d.exp}`
  }`;

/** The reference order, in exact integer arithmetic: -1, 0 or 1. */
function exactOrder(a: Decimal, b: Decimal): number {
  const scaled = (d: Decimal) => ({
    mantissa: BigInt(`${d.int}${d.frac ?? ""}` || "0") * (d.sign === "-" ? -1n : 1n),
    exponent: (d.exp ?? 0) - (d.frac ?? "").length,
  });
  const x = scaled(a);
  const y = scaled(b);
  const shift = x.exponent - y.exponent;
  const left = shift >= 0 ? x.mantissa * 10n ** BigInt(shift) : x.mantissa;
  const right = shift >= 0 ? y.mantissa : y.mantissa * 10n ** BigInt(-shift);
  return left < right ? -1 : left > right ? 1 : 0;
}

const digits = (max: number) => fc.string({ unit: fc.constantFrom(..."0123456789"), maxLength: max });
const decimal: fc.Arbitrary<Decimal> = fc
  .record({
    sign: fc.constantFrom<Decimal["sign"]>("", "-", "+"),
    int: digits(22),
    frac: fc.option(digits(22)),
    exp: fc.option(fc.integer({ min: -420, max: 420 })),
    upper: fc.boolean(),
  })
  .filter((d) => /\d/.test(`${d.int}${d.frac ?? ""}`));

/**
 * A second decimal near the first, where doubles tie and only the digits decide: the same value
 * written otherwise (zeros added, the point moved into the exponent), a change past the 17th
 * significant digit, the other sign, or an unrelated one.
 */
const neighbour = (d: Decimal): fc.Arbitrary<Decimal> =>
  fc.oneof(
    fc.nat(5).map((n) => ({ ...d, int: `${"0".repeat(n)}${d.int}`, frac: `${d.frac ?? ""}${"0".repeat(n)}` })),
    fc.constant({ ...d, int: `${d.int}${d.frac ?? ""}`, frac: null, exp: (d.exp ?? 0) - (d.frac ?? "").length }),
    fc
      .tuple(digits(4), fc.integer({ min: 1, max: 9 }))
      .map(([zeros, last]) => ({ ...d, frac: `${d.frac ?? ""}${"0".repeat(20)}${zeros}${last}` })),
    fc.constant({ ...d, sign: d.sign === "-" ? ("" as const) : ("-" as const) }),
    decimal,
  );

describe("compareDecimal against exact arithmetic", () => {
  it("orders any two decimals as their exact values, whatever their form", () => {
    fc.assert(
      fc.property(
        decimal.chain((a) => neighbour(a).map((b) => [a, b] as const)),
        ([a, b]) => {
          const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);
          expect(sign(compareDecimal(decimalText(a), decimalText(b)))).toBe(exactOrder(a, b));
          expect(sign(compareDecimal(decimalText(b), decimalText(a)))).toBe(exactOrder(b, a));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("orders values too small for a double by sign, digits and exponent", () => {
    expect(compareDecimal("-1e-400", "1e-400")).toBeLessThan(0);
    expect(compareDecimal("0", "1e-400")).toBeLessThan(0);
    expect(compareDecimal("1e-400", "0")).toBeGreaterThan(0);
    expect(compareDecimal("0", "-1e-400")).toBeGreaterThan(0);
    expect(compareDecimal("-0", "0.0")).toBe(0);
    expect(compareDecimal("1e-400", "1e-401")).toBeGreaterThan(0);
    expect(compareDecimal("-1e-400", "-1e-401")).toBeLessThan(0);
    expect(compareDecimal("00.001e-400", "1e-403")).toBe(0);
    expect(compareDecimal("0", "0.00e5")).toBe(0);
    // Of two signs, a non-zero value too small for a double still decides.
    expect(compareDecimal("-1e-400", "0")).toBeLessThan(0);
    expect(compareDecimal("1e-400", "-0")).toBeGreaterThan(0);
  });

  it("compares texts that Number reads but that are no decimals (a corrupt stored bound) by their double, never throwing", () => {
    for (const [a, b] of [
      ["0x10", "16"],
      ["Infinity", "1e400"],
      ["-Infinity", "-1e400"],
    ]) {
      expect(compareDecimal(a as string, b as string), `${a} ${b}`).toBe(0);
      expect(compareDecimal(b as string, a as string), `${b} ${a}`).toBe(0);
    }
    expect(compareDecimal("0x10", "17")).toBeLessThan(0);
  });
});

/**
 * Property: one chunk's bounds of a column of `type`, fed the generated stored values one by one,
 * are the first and last of those values sorted by `compare`.
 */
function expectBoundsOfSort(
  type: UploadColumn["type"],
  values: fc.Arbitrary<string[]>,
  compare: (a: string, b: string) => number,
): void {
  const columns: UploadColumn[] = [{ key: "v", name: "v", type }];
  fc.assert(
    fc.property(values, (stored) => {
      const stats = new ChunkStats(columns);
      for (const value of stored) stats.add([value]);
      const [partial] = stats.partials();
      const sorted = [...stored].sort(compare);
      expect(partial?.min).toBe(sorted[0]);
      expect(partial?.max).toBe(sorted[sorted.length - 1]);
    }),
    { numRuns: 2000 },
  );
}

describe("bounds a plain comparison would get wrong", () => {
  const datetimes = [column("t", "datetime")];
  const numbers = [column("n", "integer")];
  const flags = [column("b", "boolean")];

  /** One column's statistics over chunks parsed and merged as the outcome does. */
  function columnStats(cols: UploadColumn[], ...chunks: string[][]) {
    const merger = new StatsMerger(cols);
    let firstRow = 1;
    for (const lines of chunks) {
      const parsed = parseChunk(
        `${lines.join("\n")}\n`,
        { delimiter: ",", newline: "\n", columns: cols },
        {
          firstRow,
          firstLine: firstRow + 1,
          records: lines.length,
        },
      );
      expect(parsed.errorRows).toBe(0);
      expect(merger.add(JSON.parse(JSON.stringify(parsed.stats)))).toBe(true);
      firstRow += lines.length;
    }
    return merger.result()[0];
  }

  it("orders datetimes past year 9999 (stored with a sign) after every four-digit year", () => {
    // 23:00 at -05:00 on 9999-12-31 is 04:00 UTC in year 10000, stored as `+010000-…`.
    const late = "9999-12-31T23:00:00-05:00";
    const early = "9999-12-31T12:00:00Z";
    const expected = { nulls: 0, distinct: 2, min: "9999-12-31T12:00:00.000Z", max: "+010000-01-01T04:00:00.000Z" };
    expect(columnStats(datetimes, [late, early])).toEqual(expected);
    expect(columnStats(datetimes, [early, late])).toEqual(expected);
    // Merged from chunks, in either order.
    expect(columnStats(datetimes, [late], [early])).toEqual(expected);
    expect(columnStats(datetimes, [early], [late])).toEqual(expected);
    const later = "9999-12-31T23:30:00-05:00";
    expect(columnStats(datetimes, [late], [later], [early])).toEqual({
      ...expected,
      distinct: 3,
      max: "+010000-01-01T04:30:00.000Z",
    });
    expect(columnStats(datetimes, [later, late, early])).toMatchObject({ max: "+010000-01-01T04:30:00.000Z" });
    expect(columnStats(datetimes, [late, later, early])).toMatchObject({ max: "+010000-01-01T04:30:00.000Z" });
    // A chunk with no datetime at all leaves the bounds as they were.
    const pair = [...datetimes, column("s", "string")];
    expect(columnStats(pair, [`${early},a`], [",a"])).toEqual({
      nulls: 1,
      distinct: 1,
      min: expected.min,
      max: expected.min,
    });
  });

  it("orders integers that a double holds with those it cannot, in any order", () => {
    const big = "90071992547409931";
    const bigger = "100000000000000000001";
    for (const rows of [
      ["5", big, bigger, "-7"],
      [big, "5", "-7", bigger],
      [bigger, "5", big, "-7"],
      [big, bigger, "5", "-7"],
      // The largest so far cannot be held by a double when a plain number below it arrives.
      [bigger, big, "-7", "5"],
      [bigger, "-7", "5"],
    ]) {
      expect(columnStats(numbers, rows), rows.join()).toEqual({
        nulls: 0,
        distinct: rows.length,
        min: "-7",
        max: bigger,
      });
    }
    expect(columnStats(numbers, [big, "5"], [bigger], ["-7", big])).toEqual({
      nulls: 0,
      distinct: 4,
      min: "-7",
      max: bigger,
    });
    // Integers a double cannot hold, all apart.
    expect(columnStats(numbers, [bigger, "100000000000000000002", "100000000000000000001"])).toMatchObject({
      distinct: 2,
      min: bigger,
      max: "100000000000000000002",
    });
  });

  it("keeps the outer values whatever order they come in, for plain numbers, decimals and text", () => {
    expect(columnStats(numbers, ["5", "9", "7", "3", "4"])).toEqual({ nulls: 0, distinct: 5, min: "3", max: "9" });
    const texts = [column("s", "string")];
    expect(columnStats(texts, ["b", "d", "c", "a", "b"])).toEqual({ nulls: 0, distinct: 4, min: "a", max: "d" });
    // Decimals with more digits than a double holds, among plain ones.
    const decimals = [column("x", "number")];
    const long = "0.12345678901234567891";
    const longer = "0.12345678901234567892";
    expect(columnStats(decimals, ["0.5", long, "0.1", longer, "0.2"])).toEqual({
      nulls: 0,
      distinct: 5,
      min: "0.1",
      max: "0.5",
    });
    expect(columnStats(decimals, [longer, long])).toEqual({ nulls: 0, distinct: 2, min: long, max: longer });
    expect(columnStats(decimals, [long], [longer], [long])).toEqual({ nulls: 0, distinct: 2, min: long, max: longer });
    // Merged numerically, not as text ("9.5" sorts after "10.5" as text).
    expect(columnStats(decimals, ["10.5"], ["9.5"], ["-1.5"])).toEqual({
      nulls: 0,
      distinct: 3,
      min: "-1.5",
      max: "10.5",
    });
    // A smallest value a double cannot hold, then plain ones: the largest still moves.
    expect(columnStats(numbers, ["-90071992547409931", "5", "7", "6"])).toEqual({
      nulls: 0,
      distinct: 4,
      min: "-90071992547409931",
      max: "7",
    });
  });

  it("keeps the smallest and largest text by code units, whether their first units differ or tie", () => {
    // Few first letters, so many texts tie on their first unit and only the rest decides; some
    // non-ASCII (a surrogate pair sorts by its units, below U+E000 but above U+D7FF) and empty texts.
    const unit = fc.constantFrom("a", "b", "c", "é", "\u{1F600}", "\uE000", "Z", "0");
    const text = fc.array(unit, { maxLength: 6 }).map((units) => units.join(""));
    expectBoundsOfSort("string", fc.array(text, { minLength: 1, maxLength: 40 }), (a, b) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
  });

  it("keeps the earliest and latest datetime, four-digit years compared as text and signed ones by their instant", () => {
    // Instants near a few edges (year 0, 999/1000, 9999/10000, the epoch), so that many stored
    // texts tie on their first units and plain and signed years mix in one chunk.
    const edges = ["-000001-12-31T23:00:00Z", "0000-01-01T00:00:00Z", "0999-12-31T23:59:59Z", "1970-01-01T00:00:00Z"];
    const more = ["2024-06-01T12:00:00Z", "9999-12-31T23:00:00Z", "+010000-01-01T01:00:00Z"];
    const instant = fc
      .tuple(fc.constantFrom(...edges, ...more), fc.integer({ min: -7_200_000, max: 7_200_000 }))
      .map(([edge, offset]) => new Date(Date.parse(edge) + offset).toISOString());
    expectBoundsOfSort(
      "datetime",
      fc.array(instant, { minLength: 1, maxLength: 30 }),
      (a, b) => Date.parse(a) - Date.parse(b),
    );
  });

  it("puts false before true, whichever comes first", () => {
    expect(columnStats(flags, ["true", "false", "true"])).toEqual({ nulls: 0, distinct: 2, min: false, max: true });
    expect(columnStats(flags, ["false", "true"])).toEqual({ nulls: 0, distinct: 2, min: false, max: true });
    expect(columnStats(flags, ["false", "false"])).toEqual({ nulls: 0, distinct: 1, min: false, max: false });
    // A value equal to the smallest leaves the largest as it is.
    expect(columnStats(flags, ["true", "false", "false"])).toEqual({ nulls: 0, distinct: 2, min: false, max: true });
    expect(columnStats(flags, ["true"], ["false"], ["true"])).toEqual({ nulls: 0, distinct: 2, min: false, max: true });
    expect(columnStats(flags, ["false"], ["true"], ["false"])).toEqual({
      nulls: 0,
      distinct: 2,
      min: false,
      max: true,
    });
  });

  it("a column with no value has no bounds and no distinct value, merged or not", () => {
    const pair = [...numbers, column("s", "string")];
    expect(columnStats(pair, [",a"], [",a", ",b"])).toEqual({ nulls: 3, distinct: 0, min: null, max: null });
    expect(columnStats(pair, [",a"], ["3,a"], [",a"])).toEqual({ nulls: 2, distinct: 1, min: "3", max: "3" });
  });
});

describe("partials the merger accepts and refuses", () => {
  const one = [column("s", "string")];
  const partial = (fields: Record<string, unknown>) => [
    { nulls: 0, min: "a", max: "b", distinct: { exact: "" }, ...fields },
  ];

  it("accepts each stored form of the distinct sketch, and the bounds as stored", () => {
    const merger = new StatsMerger(one);
    // One register of rank 1 (register 0), sparse; and dense registers of zeros.
    expect(merger.add(partial({ distinct: { sparse: btoa(String.fromCharCode(0, 1)) } }))).toBe(true);
    expect(merger.add(partial({ distinct: { registers: btoa(String.fromCharCode(...new Uint8Array(65_536))) } }))).toBe(
      true,
    );
    expect(merger.add(partial({ nulls: 2, min: null, max: "c" }))).toBe(true);
    expect(merger.add(partial({ min: "0", max: null }))).toBe(true);
    expect(merger.result()).toEqual([{ nulls: 2, distinct: 1, min: "0", max: "c" }]);
  });

  it("refuses anything else, leaving the statistics as they were", () => {
    const merger = new StatsMerger(one);
    expect(merger.add(partial({}))).toBe(true);
    for (const bad of [
      [null],
      ["x"],
      partial({ nulls: 1.5 }),
      partial({ nulls: "1" }),
      partial({ nulls: -1 }),
      partial({ min: 1 }),
      partial({ max: 1 }),
      partial({ min: undefined }),
      partial({ distinct: null }),
      partial({ distinct: "exact" }),
      partial({ distinct: {} }),
      partial({ distinct: { exact: 1 } }),
      partial({ distinct: { sparse: 1 } }),
      partial({ distinct: { registers: 1 } }),
      partial({ distinct: { sparse: btoa(String.fromCharCode(0)) } }),
      partial({ distinct: { registers: btoa("short") } }),
      [...partial({}), ...partial({})],
    ]) {
      expect(merger.add(bad), JSON.stringify(bad)).toBe(false);
    }
    // JSON can omit a key or hold a list where a text belongs; neither is a sketch, nor does it throw.
    expect(merger.add([undefined])).toBe(false);
    const { distinct: _, ...noSketch } = partial({})[0] as Record<string, unknown>;
    expect(merger.add([noSketch])).toBe(false);
    const denseZeros = btoa(String.fromCharCode(...new Uint8Array(65_536)));
    expect(merger.add(partial({ distinct: { registers: denseZeros } }))).toBe(true);
    expect(merger.add(partial({ distinct: { registers: [denseZeros] } }))).toBe(false);
    expect(merger.add(partial({ distinct: { sparse: [btoa(String.fromCharCode(0, 1))] } }))).toBe(false);
    // A refused list leaves nothing behind, not even its valid first columns.
    const two = new StatsMerger([...one, ...one]);
    expect(two.add([...partial({ nulls: 5 }), ...partial({ nulls: -1 })])).toBe(false);
    expect(two.result()).toEqual([
      { nulls: 0, distinct: 0, min: null, max: null },
      { nulls: 0, distinct: 0, min: null, max: null },
    ]);
    expect(merger.result()).toEqual([{ nulls: 0, distinct: 0, min: "a", max: "b" }]);
  });
});

describe("a stored bound of another type than its column's (corrupt partials)", () => {
  const pair = [column("n", "integer"), column("b", "boolean")];
  const sketch = { exact: "" };
  it("is refused with the partials holding it, leaving the statistics as they were", () => {
    const merger = new StatsMerger(pair);
    const flag = { nulls: 0, min: false, max: true, distinct: sketch };
    expect(merger.add([{ nulls: 0, min: "5", max: "5", distinct: sketch }, flag])).toBe(true);
    // A boolean in the number column: as numbers, false (0) and true (1) would have become its bounds.
    expect(merger.add([{ nulls: 1, min: false, max: "9", distinct: sketch }, flag])).toBe(false);
    expect(merger.add([{ nulls: 1, min: "0", max: true, distinct: sketch }, flag])).toBe(false);
    // A text in the boolean column.
    expect(
      merger.add([
        { nulls: 1, min: "1", max: "2", distinct: sketch },
        { ...flag, min: "false" },
      ]),
    ).toBe(false);
    expect(
      merger.add([
        { nulls: 1, min: "1", max: "2", distinct: sketch },
        { ...flag, max: "true" },
      ]),
    ).toBe(false);
    expect(merger.result()).toEqual([
      { nulls: 0, distinct: 0, min: "5", max: "5" },
      { nulls: 0, distinct: 0, min: false, max: true },
    ]);
    // Null bounds fit every column.
    expect(
      merger.add([
        { nulls: 2, min: null, max: null, distinct: sketch },
        { ...flag, min: null },
      ]),
    ).toBe(true);
  });

  it("is answered as stored, without reading it as a number", () => {
    expect(boundValue("integer", true)).toBe(true);
    expect(boundValue("number", false)).toBe(false);
  });
});
