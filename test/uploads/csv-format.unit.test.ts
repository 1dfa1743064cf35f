/**
 * Cell typing of ingested CSV files. The converters take shortcuts for the common forms (dates
 * checked by arithmetic, UTC datetimes copied digit for digit, short decimals read directly); every
 * case here is compared with what `Date` and the exact-number rules say, on both sides of each
 * calendar and length boundary.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  capKeys,
  convertCell,
  convertValue,
  INVALID,
  inferType,
  invalidReason,
  MAX_KEY_LENGTH,
  normaliseHeader,
} from "../../src/features/uploads/ingest/csv-format.ts";

/** The reference: a date `Date.UTC` round-trips (it reads years 0-99 as 1900-1999). */
function dateRoundTrips(y: number, m: number, d: number): boolean {
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");

describe("dates", () => {
  it("accepts 29 February exactly in leap years (every 4th, not every 100th, every 400th)", () => {
    for (const day of ["2024-02-29", "2000-02-29", "2023-02-28"]) expect(convertCell(day, "date"), day).toBe(day);
    for (const day of ["2023-02-29", "1900-02-29"]) expect(convertCell(day, "date"), day).toBe(INVALID);
  });

  it("knows the last day of each month", () => {
    for (const day of ["2026-04-30", "2026-12-31", "2026-01-01"]) expect(convertCell(day, "date"), day).toBe(day);
    for (const day of ["2026-04-31", "2026-12-32", "2026-13-01", "2026-00-10", "2026-01-00"]) {
      expect(convertCell(day, "date"), day).toBe(INVALID);
    }
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
    const pastRange = ["2025-07-04T24:00:00Z", "2025-07-04T10:60:00Z", "2025-07-04T10:00:60Z"];
    for (const text of [...pastRange, "2025-02-29T10:00:00Z", "0099-12-31T10:00:00Z"]) {
      expect(convertCell(text, "datetime"), text).toBe(INVALID);
    }
  });

  it("agrees with Date.parse and toISOString on every generated UTC value", () => {
    const moment = fc.record({
      y: fc.integer({ min: 100, max: 9999 }),
      mo: fc.integer({ min: 1, max: 12 }),
      d: fc.integer({ min: 1, max: 31 }),
      h: fc.integer({ min: 0, max: 23 }),
      mi: fc.integer({ min: 0, max: 59 }),
      s: fc.integer({ min: 0, max: 59 }),
      zone: fc.constantFrom("Z", "z", ""),
    });
    fc.assert(
      fc.property(moment, ({ y, mo, d, h, mi, s, zone }) => {
        const date = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}`;
        const text = `${date}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${zone}`;
        const expected = dateRoundTrips(y, mo, d)
          ? new Date(Date.parse(`${date}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}Z`)).toISOString()
          : INVALID;
        expect(convertCell(text, "datetime")).toBe(expected);
      }),
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

describe("booleans and strings", () => {
  it("reads true and false in any case, and nothing else", () => {
    expect(convertCell("TRUE", "boolean")).toBe(true);
    expect(convertCell(" False ", "boolean")).toBe(false);
    for (const text of ["yes", "truex", "xfalse"]) expect(convertCell(text, "boolean"), text).toBe(INVALID);
  });

  it("keeps a string cell as written, spaces included; only an empty one is null", () => {
    expect(convertCell(" a ", "string")).toBe(" a ");
    expect(convertCell(" ", "string")).toBe(" ");
    expect(convertCell("", "string")).toBeNull();
  });
});

describe("datetimes with a fraction or an offset", () => {
  it("goes through Date for them, and refuses an offset Date cannot read", () => {
    expect(convertCell("2025-07-04T17:10:55.5z", "datetime")).toBe("2025-07-04T17:10:55.500Z");
    expect(convertCell("2025-07-04 17:10+0530", "datetime")).toBe("2025-07-04T11:40:00.000Z");
    expect(convertCell("2025-07-04T17:10:55+99:99", "datetime")).toBe(INVALID);
  });

  it("refuses an invalid day or time before reading the offset", () => {
    for (const text of [
      "2025-02-30T10:00:00+01:00",
      "2025-07-04T24:00:00+01:00",
      "2025-07-04T23:60:00+01:00",
      "2025-07-04T23:59:60+01:00",
    ]) {
      expect(convertCell(text, "datetime"), text).toBe(INVALID);
    }
    expect(convertCell("2025-07-04T23:59:59+01:00", "datetime")).toBe("2025-07-04T22:59:59.000Z");
  });
});

describe("numbers that are not", () => {
  it("refuses signs and points without digits, leading zeros and a trailing point", () => {
    for (const text of [".", "-", "+", "e5", "1.", "01.5"]) expect(convertCell(text, "number"), text).toBe(INVALID);
    for (const text of ["007", "1.5", "1e3", "- 1"]) expect(convertCell(text, "integer"), text).toBe(INVALID);
    expect(convertCell("+.5", "number")).toBe(0.5);
  });
});

describe("invalidReason", () => {
  it("quotes the value, cut to 40 characters with an ellipsis", () => {
    expect(invalidReason("x".repeat(40), "date")).toBe(`'${"x".repeat(40)}' is not a valid date`);
    expect(invalidReason("x".repeat(41), "date")).toBe(`'${"x".repeat(40)}…' is not a valid date`);
  });
});

describe("normaliseHeader", () => {
  it.each([
    ["Unit Price (€)", "unit_price"],
    ["Crème Brûlée", "creme_brulee"],
    ["camelCase", "camel_case"],
    ["userID2", "user_id2"],
    ["a9B", "a9_b"],
    ["ID", "id"],
    ["ＡＢＣ", "abc"],
    ["__lead--trail__", "lead_trail"],
    ["a  b", "a_b"],
    ["%%%", ""],
  ])("%j → %j", (header, key) => {
    expect(normaliseHeader(header)).toBe(key);
  });
});

describe("capKeys", () => {
  const long = (prefix: string, length: number) => prefix.padEnd(length, "x");

  it("keeps keys that fit, up to exactly the limit", () => {
    const fits = long("a", MAX_KEY_LENGTH);
    expect(capKeys(["id", fits])).toEqual(["id", fits]);
    expect(MAX_KEY_LENGTH).toBe(63);
  });

  it("cuts a longer key to the limit, dropping the underscores the cut leaves at its end", () => {
    expect(capKeys([long("b", 64)])).toEqual([long("b", 63)]);
    expect(capKeys([`${"c".repeat(60)}___${"d".repeat(10)}`])).toEqual(["c".repeat(60)]);
  });

  it("gives a cut that collides the first free suffix, within the limit, and never takes a kept key's name", () => {
    const kept = long("e", 63);
    // The long keys come first: a key that fits keeps its name even when it is listed later.
    const keys = capKeys([long("e", 70), long("e", 71), kept]);
    expect(keys).toEqual([`${long("e", 61)}_2`, `${long("e", 61)}_3`, kept]);
    for (const key of keys) expect(key.length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
  });

  it("shortens the cut further for a longer suffix", () => {
    const keys = capKeys(Array.from({ length: 10 }, (_, i) => long("f", 64 + i)));
    expect(keys[0]).toBe(long("f", 63));
    expect(keys[8]).toBe(`${long("f", 61)}_9`);
    expect(keys[9]).toBe(`${long("f", 60)}_10`);
  });
});

describe("inferType", () => {
  it.each([
    [[], "string"],
    [["", " "], "string"],
    [[" 1 ", "", "-2"], "integer"],
    [["1", "2.5"], "number"],
    [["1e5"], "number"],
    [["true", "FALSE"], "boolean"],
    [["2024-01-01", "2024-02-29"], "date"],
    [["2024-01-01T10:00", "2024-01-01 11:00:00Z"], "datetime"],
    [["2024-01-01", "2024-01-01T10:00"], "string"],
    [["1", "x"], "string"],
    [["x", "1"], "string"],
  ])("%j → %s", (values, type) => {
    expect(inferType(values)).toBe(type);
  });
});

describe("anchors and exponents", () => {
  it("reads signed and multi-digit exponents", () => {
    expect(convertCell("1e+5", "number")).toBe(100000);
    expect(convertCell("1e-5", "number")).toBe(0.00001);
    expect(convertCell("1e10", "number")).toBe(1e10);
  });

  it("refuses a date or datetime with anything before or after it", () => {
    expect(convertCell("x2024-01-01", "date")).toBe(INVALID);
    expect(convertCell("x2024-01-01T10:00", "datetime")).toBe(INVALID);
    expect(convertCell("2024-01-01T10:00Zx", "datetime")).toBe(INVALID);
  });

  it("drops only the underscores a cut leaves at the end of a key, not those inside it", () => {
    expect(capKeys([`ab_${"c".repeat(70)}`])).toEqual([`ab_${"c".repeat(60)}`]);
  });
});
