/**
 * Cell typing of ingested CSV files. The converters take shortcuts for the common forms (dates
 * checked by arithmetic, UTC datetimes copied digit for digit, short decimals read directly); every
 * case here is compared with what `Date` and the exact-number rules say, on both sides of each
 * calendar and length boundary.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { convertCell, convertValue, INVALID } from "../../src/features/uploads/ingest/csv-format.ts";

/** The reference: a date `Date.UTC` round-trips (it reads years 0-99 as 1900-1999). */
function dateRoundTrips(y: number, m: number, d: number): boolean {
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");

describe("dates", () => {
  it("accepts 29 February exactly in leap years (every 4th, not every 100th, every 400th)", () => {
    expect(convertCell("2024-02-29", "date")).toBe("2024-02-29");
    expect(convertCell("2000-02-29", "date")).toBe("2000-02-29");
    expect(convertCell("2023-02-29", "date")).toBe(INVALID);
    expect(convertCell("1900-02-29", "date")).toBe(INVALID);
    expect(convertCell("2023-02-28", "date")).toBe("2023-02-28");
  });

  it("knows the last day of each month", () => {
    expect(convertCell("2026-04-30", "date")).toBe("2026-04-30");
    expect(convertCell("2026-04-31", "date")).toBe(INVALID);
    expect(convertCell("2026-12-31", "date")).toBe("2026-12-31");
    expect(convertCell("2026-12-32", "date")).toBe(INVALID);
    expect(convertCell("2026-13-01", "date")).toBe(INVALID);
    expect(convertCell("2026-00-10", "date")).toBe(INVALID);
    expect(convertCell("2026-01-00", "date")).toBe(INVALID);
    expect(convertCell("2026-01-01", "date")).toBe("2026-01-01");
  });

  it("refuses years 0-99, which Date would store as 1900-1999, and accepts year 100", () => {
    expect(convertCell("0099-12-31", "date")).toBe(INVALID);
    expect(convertCell("0100-01-01", "date")).toBe("0100-01-01");
  });

  it("agrees with Date on every generated year, month and day", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9999 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        (y, m, d) => {
          const text = `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
          expect(convertCell(text, "date")).toBe(dateRoundTrips(y, m, d) ? text : INVALID);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe("datetimes", () => {
  it("stores a UTC value with whole seconds as its own digits with milliseconds", () => {
    expect(convertCell("2025-07-04T17:10:55Z", "datetime")).toBe("2025-07-04T17:10:55.000Z");
    expect(convertCell("2025-07-04 17:10:55z", "datetime")).toBe("2025-07-04T17:10:55.000Z");
    expect(convertCell("2025-07-04T17:10:55", "datetime")).toBe("2025-07-04T17:10:55.000Z");
    expect(convertCell("2025-07-04T17:10", "datetime")).toBe("2025-07-04T17:10:00.000Z");
  });

  it("converts offsets and fractions to UTC milliseconds", () => {
    expect(convertCell("2025-07-04T17:10:55+02:00", "datetime")).toBe("2025-07-04T15:10:55.000Z");
    expect(convertCell("2025-07-04T17:10:55-0130", "datetime")).toBe("2025-07-04T18:40:55.000Z");
    expect(convertCell("2025-07-04T17:10:55.123456Z", "datetime")).toBe("2025-07-04T17:10:55.123Z");
  });

  it("refuses a time past its range, on both sides of each limit", () => {
    expect(convertCell("2025-07-04T23:59:59Z", "datetime")).toBe("2025-07-04T23:59:59.000Z");
    expect(convertCell("2025-07-04T24:00:00Z", "datetime")).toBe(INVALID);
    expect(convertCell("2025-07-04T10:60:00Z", "datetime")).toBe(INVALID);
    expect(convertCell("2025-07-04T10:00:60Z", "datetime")).toBe(INVALID);
    expect(convertCell("2025-02-29T10:00:00Z", "datetime")).toBe(INVALID);
    expect(convertCell("0099-12-31T10:00:00Z", "datetime")).toBe(INVALID);
  });

  it("agrees with Date.parse and toISOString on every generated UTC value", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 9999 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 31 }),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 59 }),
        fc.integer({ min: 0, max: 59 }),
        fc.constantFrom("Z", "z", ""),
        (y, mo, d, h, mi, s, zone) => {
          const date = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}`;
          const text = `${date}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${zone}`;
          const expected = dateRoundTrips(y, mo, d)
            ? new Date(Date.parse(`${date}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}Z`)).toISOString()
            : INVALID;
          expect(convertCell(text, "datetime")).toBe(expected);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe("numbers", () => {
  it("reads short decimals as plain numbers, 15 and 16 characters alike", () => {
    expect(convertCell("123456789012345", "integer")).toBe(123456789012345);
    expect(convertCell("1234567890123456", "integer")).toBe(1234567890123456);
    expect(convertCell("-0.00000000001", "number")).toBe(-0.00000000001);
    expect(convertCell("+5", "integer")).toBe(5);
    expect(convertCell(".5", "number")).toBe(0.5);
    expect(convertCell("0.000", "number")).toBe(0);
  });

  it("keeps digits a double cannot hold, and refuses an exponent beyond its range", () => {
    expect(JSON.stringify(convertCell("12345678901234567", "integer"))).toBe("12345678901234567");
    expect(JSON.stringify(convertCell("0.1234567890123456", "number"))).toBe("0.1234567890123456");
    expect(convertCell("1e-400", "number")).toBe(INVALID);
    expect(convertCell("1e400", "number")).toBe(INVALID);
    expect(convertCell("1e5", "number")).toBe(100000);
  });

  it("answers the reason for a value that does not fit", () => {
    expect(convertValue("12x", "integer")).toEqual({ ok: false, reason: "'12x' is not a valid integer" });
    expect(convertValue(" 12 ", "integer")).toEqual({ ok: true, value: 12 });
    expect(convertValue("  ", "integer")).toEqual({ ok: true, value: null });
  });
});
