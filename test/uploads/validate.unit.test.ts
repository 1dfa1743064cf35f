/**
 * What the head of an uploaded file decides before any row is written: how many columns it may
 * have, and which records the column types are inferred from. The sample is the first 1 MiB of the
 * file; `size` is the whole file's, so a sample shorter than it was cut mid-file.
 */
import { describe, expect, it } from "vitest";
import { analyseSample, CsvRejection } from "../../src/features/uploads/ingest/validate.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
/** The layout of `text` as the whole file (`size` omitted) or as the head of a `size`-byte file. */
const analyse = (text: string, options: { size?: number; maxColumns?: number } = {}) =>
  analyseSample(bytes(text), options.size ?? bytes(text).length, { maxColumns: options.maxColumns ?? 500 });
const rejection = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    if (error instanceof CsvRejection) return error.message;
    throw error;
  }
  throw new Error("the file was accepted");
};

describe("validation: the column limit", () => {
  const header = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`).join(",");
  const file = (n: number) => `${header(n)}\n${Array.from({ length: n }, () => "1").join(",")}\n`;

  it("accepts exactly as many columns as allowed", () => {
    expect(analyse(file(20), { maxColumns: 20 }).columns).toHaveLength(20);
  });

  it("rejects one column more, saying how many there are and how many are allowed", () => {
    expect(rejection(() => analyse(file(21), { maxColumns: 20 }))).toBe(
      "The file has 21 columns; at most 20 are allowed.",
    );
  });
});

describe("validation: which records the types are inferred from", () => {
  it("leaves out the last record of a sample cut mid-file: it may be cut too", () => {
    // `ab` is the start of a record the sample cuts; the whole column is numbers.
    const head = "n\n1\n2\n3\nab";
    expect(analyse(head, { size: 10_000 }).columns[0]?.type).toBe("integer");
  });

  it("keeps the last record of a whole file", () => {
    expect(analyse("n\n1\n2\n3\nab").columns[0]?.type).toBe("string");
  });

  it("leaves out records with another number of fields than the header", () => {
    expect(analyse("a,b\n1,2\nx\n3,4\n").columns.map((c) => c.type)).toEqual(["integer", "integer"]);
    expect(analyse("a,b\n1,2\nx,y\n3,4\n").columns.map((c) => c.type)).toEqual(["string", "string"]);
  });
});

describe("validation: a header without a line break", () => {
  it("is a header-only file when the sample is the whole file", () => {
    expect(analyse("a,b").columns.map((c) => c.key)).toEqual(["a", "b"]);
  });

  it("is refused when the file goes on past the sample", () => {
    expect(rejection(() => analyse("a,b,c", { size: 5_000_000 }))).toBe(
      "The header line is longer than 1 MiB; is this really a CSV?",
    );
  });
});

describe("validation: files refused before any row is written, each with the reason", () => {
  it.each([
    ["an empty file", "", "The file is empty."],
    ["NUL bytes", "a,b\n1,\u0000\n", "The file looks binary (it contains NUL bytes); upload a UTF-8 text CSV."],
    ["only blank space", " \n\n", "The file is empty (it has no header and no rows)."],
    ["a single line ended by bare CRs", "a,b\r1,2\r", "Lines end with a bare CR; use LF or CRLF line endings."],
    ["an empty first line (LF)", "\na,b\n1,2\n", "The file has no header: its first line is empty."],
    ["an empty first line (CRLF)", "\r\na,b\r\n1,2\r\n", "The file has no header: its first line is empty."],
    ["a header of empty names", ",,\n1,2,3\n", "The file has no header row."],
    ["a name with nothing usable", "a,***,c\n1,2,3\n", "Column 2 ('***') has no usable name."],
    [
      "two names that normalise alike",
      "First Name,first_name\n1,2\n",
      "Columns 'First Name' and 'first_name' both become 'first_name'; rename one.",
    ],
  ])("%s", (_, text, reason) => {
    expect(rejection(() => analyse(text))).toBe(reason);
  });

  it("refuses bytes that are not UTF-8, but not a character the sample cuts in half", () => {
    const invalid = new Uint8Array([...bytes("a,b\n1,"), 0xff, ...bytes("\n")]);
    expect(rejection(() => analyseSample(invalid, invalid.length, { maxColumns: 500 }))).toBe(
      "The file is not valid UTF-8 text; re-save it as UTF-8 (a BOM is fine).",
    );
    // "é" is two bytes; a sample ending after the first is cut mid-character, not invalid.
    const whole = bytes("a,b\n1,é\n2,3\n");
    const cut = whole.subarray(0, bytes("a,b\n1,").length + 1);
    expect(analyseSample(cut, whole.length, { maxColumns: 500 }).columns.map((c) => c.key)).toEqual(["a", "b"]);
  });

  it("refuses a file whose line breaks are mostly bare CRs, though an LF comes later", () => {
    expect(rejection(() => analyse("a,b\r1,2\r3,4\n"))).toBe("Lines end with a bare CR; use LF or CRLF line endings.");
  });
});

describe("validation: the layout it decides", () => {
  it("skips a byte-order mark: the data starts after it and the header", () => {
    const layout = analyse("\uFEFFid,name\n1,a\n");
    expect(layout.columns.map((c) => c.key)).toEqual(["id", "name"]);
    expect(layout.dataOffset).toBe(3 + "id,name\n".length);
    expect(layout.dataLine).toBe(2);
  });

  it("without a byte-order mark, the data starts right after the header", () => {
    expect(analyse("id,name\n1,a\n").dataOffset).toBe("id,name\n".length);
  });

  it.each([
    [",", "a,b,c\n1,2,3\n4,5,6\n"],
    [";", "a;b;c\n1;2;3\n4;5;6\n"],
    ["\t", "a\tb\tc\n1\t2\t3\n4\t5\t6\n"],
    ["|", "a|b|c\n1|2|3\n4|5|6\n"],
  ])("guesses the delimiter %j", (delimiter, text) => {
    const layout = analyse(text);
    expect(layout.delimiter).toBe(delimiter);
    expect(layout.columns.map((c) => c.key)).toEqual(["a", "b", "c"]);
  });

  it("takes the delimiter a header-only file uses most, and keeps other candidates inside names", () => {
    expect(analyse("a;b;c,d").delimiter).toBe(";");
    expect(analyse("a;b;c,d").columns.map((c) => c.name)).toEqual(["a", "b", "c,d"]);
    expect(analyse("a|b|c").delimiter).toBe("|");
    expect(analyse("single").delimiter).toBe(",");
  });

  it("reads CRLF files with CRLF, LF files with LF, and a header spanning lines in quotes", () => {
    const crlf = analyse("a,b\r\n1,2\r\n");
    expect(crlf.newline).toBe("\r\n");
    expect(crlf.columns.map((c) => c.name)).toEqual(["a", "b"]);
    expect(crlf.dataOffset).toBe("a,b\r\n".length);
    expect(analyse("a,b\n1,2\n").newline).toBe("\n");
    const quoted = analyse('"first\nname",b\n1,2\n');
    expect(quoted.columns.map((c) => c.name)).toEqual(["first\nname", "b"]);
    expect(quoted.dataLine).toBe(3);
  });

  it("infers each column's type from its own position, empty cells aside", () => {
    expect(analyse("n,s,d\n1,x,2024-01-01\n2,,2024-01-02\n").columns.map((c) => c.type)).toEqual([
      "integer",
      "string",
      "date",
    ]);
  });
});
