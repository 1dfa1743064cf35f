import { describe, expect, it } from "vitest";
import { csvCell, csvRow, toCsv } from "../../src/platform/lib/csv.ts";

describe("csvCell", () => {
  const FORMULA_LEAD = "guards text starting with a formula lead";
  const QUOTED = "quotes a cell holding a comma, quote or line break";

  it("writes null and undefined as an empty cell", () => {
    expect(csvCell(null)).toBe("");
    expect(csvCell(undefined)).toBe("");
  });

  it("writes numbers as numbers, a negative one without the formula guard", () => {
    expect(csvCell(0)).toBe("0");
    expect(csvCell(42)).toBe("42");
    expect(csvCell(-5)).toBe("-5");
    expect(csvCell(1.5)).toBe("1.5");
  });

  it("writes a number that is not finite as an empty cell", () => {
    expect(csvCell(Number.NaN)).toBe("");
    expect(csvCell(Number.POSITIVE_INFINITY)).toBe("");
    expect(csvCell(Number.NEGATIVE_INFINITY)).toBe("");
  });

  it("writes booleans as true and false", () => {
    expect(csvCell(true)).toBe("true");
    expect(csvCell(false)).toBe("false");
  });

  it("writes a date as its ISO instant", () => {
    expect(csvCell(new Date("2026-12-06T10:20:30.456Z"))).toBe("2026-12-06T10:20:30.456Z");
  });

  it("leaves plain text as it is", () => {
    expect(csvCell("plain text")).toBe("plain text");
    expect(csvCell("")).toBe("");
  });

  it.each([
    [FORMULA_LEAD, "=SUM(A1)", "'=SUM(A1)"],
    [FORMULA_LEAD, "+1", "'+1"],
    [FORMULA_LEAD, "-1", "'-1"],
    [FORMULA_LEAD, "@cmd", "'@cmd"],
    [FORMULA_LEAD, "\tx", "'\tx"],
    [QUOTED, "a,b", '"a,b"'],
    [QUOTED, "a\rb", '"a\rb"'],
    [QUOTED, "a\nb", '"a\nb"'],
    [QUOTED, "a\r\nb", '"a\r\nb"'],
    [QUOTED, 'say "hi"', '"say ""hi"""'],
    [QUOTED, '"', '""""'],
  ])("%s: %j", (_rule, input, written) => {
    expect(csvCell(input)).toBe(written);
  });

  it("guards a leading carriage return, and quotes it because it is a line break", () => {
    expect(csvCell("\rx")).toBe('"\'\rx"');
  });

  it("guards only a leading formula character, not one inside the text", () => {
    expect(csvCell("a=b")).toBe("a=b");
    expect(csvCell("a+b-c@d")).toBe("a+b-c@d");
    expect(csvCell("a\tb")).toBe("a\tb");
  });

  it("guards and quotes a formula holding a comma", () => {
    expect(csvCell('=HYPERLINK("x",1)')).toBe(`"'=HYPERLINK(""x"",1)"`);
  });
});

describe("csvRow", () => {
  it("joins cells with commas and ends the record with CRLF", () => {
    expect(csvRow(["a", 1, null, true, "b,c"])).toBe('a,1,,true,"b,c"\r\n');
  });

  it("writes an empty record as a bare CRLF", () => {
    expect(csvRow([])).toBe("\r\n");
  });
});

describe("toCsv", () => {
  it("writes the header record, then each row", () => {
    expect(
      toCsv(
        ["name", "n"],
        [
          ["x", 1],
          ["=y", -2],
        ],
      ),
    ).toBe("name,n\r\nx,1\r\n'=y,-2\r\n");
  });

  it("writes only the header when there are no rows, escaping it like any record", () => {
    expect(toCsv(["a,b", "=c"], [])).toBe('"a,b",\'=c\r\n');
  });
});
