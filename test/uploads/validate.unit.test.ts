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
