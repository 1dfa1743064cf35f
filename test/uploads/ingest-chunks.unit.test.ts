/**
 * The chunk boundary scanner (the planner's cut) and the chunk parser, in plain Node: where chunks
 * end, what each records about its rows and lines, and that parsing the chunks one by one gives
 * papaparse's parse of the whole file. The workerd suite checks the same over the real pipeline.
 */
import fc from "fast-check";
import Papa from "papaparse";
import { describe, expect, it } from "vitest";
import {
  BoundaryScanner,
  type ChunkPlan,
  RunawayRecordError,
  type ScannerOptions,
} from "../../src/features/uploads/ingest/boundaries.ts";
import { parseChunk } from "../../src/features/uploads/ingest/chunk.ts";
import { initialState, settle } from "../../src/features/uploads/progress/progress-state.ts";
import type { UploadColumn } from "../../src/platform/db/schema.ts";
import { chunkedLikeWhole } from "./csv-property-fixtures.ts";

const encode = (text: string) => new TextEncoder().encode(text);

/** Scans `data` (the bytes after the header) in one buffer, or in buffers cut at `splits`. */
function scan(data: string, options: Partial<ScannerOptions> = {}, splits: number[] = []): ChunkPlan[] {
  const scanner = new BoundaryScanner({
    offset: 0,
    firstLine: 2,
    delimiter: ",".charCodeAt(0),
    newline: "\n",
    chunkBytes: 1,
    maxChunkBytes: Number.MAX_SAFE_INTEGER,
    ...options,
  });
  const bytes = encode(data);
  const plans: ChunkPlan[] = [];
  let from = 0;
  for (const cut of [...splits, bytes.length]) {
    plans.push(...scanner.push(bytes.subarray(from, cut)));
    from = cut;
  }
  return [...plans, ...scanner.finish()];
}

/** Each chunk as [text, records, first row, first line]. */
function chunks(data: string, options: Partial<ScannerOptions> = {}, splits: number[] = []) {
  const bytes = encode(data);
  return scan(data, options, splits).map((plan, index) => {
    expect(plan.index).toBe(index);
    return [
      new TextDecoder().decode(bytes.subarray(plan.start, plan.end)),
      plan.records,
      plan.firstRow,
      plan.firstLine,
    ];
  });
}

/** Records the scanner counts in `data` (comma-delimited, LF), however it cuts them. */
function records(data: string): number {
  return scan(data, { chunkBytes: 1_000_000 }).reduce((sum, plan) => sum + plan.records, 0);
}

/** The reference: papaparse's records of `data`, empty lines (`""` or a lone CR) skipped. */
function papaparseRecords(data: string): number {
  const parsed = Papa.parse<string[]>(data, { delimiter: ",", newline: "\n" });
  return parsed.data.filter((fields) => !(fields.length === 1 && (fields[0] === "" || fields[0] === "\r"))).length;
}

describe("BoundaryScanner", () => {
  it("cuts after every record when chunks are one byte, numbering rows and lines", () => {
    expect(chunks("a,b\nc,d\ne,f")).toEqual([
      ["a,b\n", 1, 1, 2],
      ["c,d\n", 1, 2, 3],
      ["e,f", 1, 3, 4],
    ]);
  });

  it("cuts at the first record end at or past the chunk size, not before", () => {
    // Records of 4 bytes: a chunk of 8 bytes holds exactly two; of 9, three.
    expect(chunks("1,1\n2,2\n3,3\n4,4\n", { chunkBytes: 8 })).toEqual([
      ["1,1\n2,2\n", 2, 1, 2],
      ["3,3\n4,4\n", 2, 3, 4],
    ]);
    expect(chunks("1,1\n2,2\n3,3\n4,4\n", { chunkBytes: 9 })).toEqual([
      ["1,1\n2,2\n3,3\n", 3, 1, 2],
      ["4,4\n", 1, 4, 5],
    ]);
    expect(chunks("1,1\n2,2\n3,3\n4,4\n", { chunkBytes: 7 })[0]).toEqual(["1,1\n2,2\n", 2, 1, 2]);
  });

  it("ends with no chunk when nothing follows the last cut, and one for an unterminated record", () => {
    expect(chunks("")).toEqual([]);
    expect(chunks("a,b\n")).toEqual([["a,b\n", 1, 1, 2]]);
    expect(chunks("a,b\nc", { chunkBytes: 100 })).toEqual([["a,b\nc", 2, 1, 2]]);
  });

  it("keeps line breaks and delimiters inside quotes in their record, counting the lines", () => {
    expect(chunks('"x\ny",1\n"p,""q""\n\n",2\nz,3\n')).toEqual([
      ['"x\ny",1\n', 1, 1, 2],
      ['"p,""q""\n\n",2\n', 1, 2, 4],
      ["z,3\n", 1, 3, 7],
    ]);
  });

  it("opens quotes only at a field's start", () => {
    expect(chunks('a"b,c\n"d\ne",f\n')).toEqual([
      ['a"b,c\n', 1, 1, 2],
      ['"d\ne",f\n', 1, 2, 3],
    ]);
  });

  it("does not count empty lines (nor a lone CR, nor an empty quoted field) as records", () => {
    expect(chunks('a\n\n""\n\r\nb\n', { chunkBytes: 100 })).toEqual([['a\n\n""\n\r\nb\n', 2, 1, 2]]);
    // A record whose only field holds one byte is a record.
    expect(chunks("x\n", { chunkBytes: 100 })).toEqual([["x\n", 1, 1, 2]]);
    // A lone delimiter makes two empty fields: a record.
    expect(chunks(",\n", { chunkBytes: 100 })).toEqual([[",\n", 1, 1, 2]]);
  });

  it("in a CRLF file, ends records at CRLF only: a bare LF is data", () => {
    expect(chunks("a,b\r\nc\nd,e\r\nf,g", { newline: "\r\n" })).toEqual([
      ["a,b\r\n", 1, 1, 2],
      ["c\nd,e\r\n", 1, 2, 3],
      ["f,g", 1, 3, 5],
    ]);
    // A CRLF record whose only content is a CR is an empty line; with two CRs it is a record.
    expect(chunks("a\r\n\r\nb\r\n", { newline: "\r\n", chunkBytes: 100 })[0]).toEqual(["a\r\n\r\nb\r\n", 2, 1, 2]);
    expect(chunks("\r\r\n", { newline: "\r\n", chunkBytes: 100 })[0]).toEqual(["\r\r\n", 0, 1, 2]);
    expect(chunks("\r\r\r\n", { newline: "\r\n", chunkBytes: 100 })[0]).toEqual(["\r\r\r\n", 1, 1, 2]);
  });

  it("closes a quoted field only when whitespace then a delimiter or the line end follow", () => {
    // `"a" ,b`: closed (a space, then the delimiter): two fields, one record.
    expect(chunks('"a" ,b\nc\n')).toEqual([
      ['"a" ,b\n', 1, 1, 2],
      ["c\n", 1, 2, 3],
    ]);
    // `"a"x`: the quote is literal, the field stays open across the LF.
    expect(chunks('"a"x\nb"\nc\n')).toEqual([
      ['"a"x\nb"\n', 1, 1, 2],
      ["c\n", 1, 2, 4],
    ]);
    // Unicode spaces count as whitespace (NBSP, ideographic space); other multi-byte text does not.
    expect(chunks('"a"\u00a0\u3000\nb\n')).toEqual([
      ['"a"\u00a0\u3000\n', 1, 1, 2],
      ["b\n", 1, 2, 3],
    ]);
    expect(chunks('"a"é\nb"\nc\n')).toEqual([
      ['"a"é\nb"\n', 1, 1, 2],
      ["c\n", 1, 2, 4],
    ]);
    // In a CRLF file a quote closes before CRLF, but not before a bare LF.
    expect(chunks('"a" \r\nb\r\n', { newline: "\r\n" })).toEqual([
      ['"a" \r\n', 1, 1, 2],
      ["b\r\n", 1, 2, 3],
    ]);
    expect(chunks('"a"\nb\r\n', { newline: "\r\n", chunkBytes: 100 })).toEqual([['"a"\nb\r\n', 1, 1, 2]]);
  });

  it("closes a quoted field before each Unicode space JavaScript's trim removes, as papaparse does", () => {
    const spaces = ["\u00a0", "\u1680", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff"].concat(
      Array.from({ length: 11 }, (_, i) => String.fromCharCode(0x2000 + i)),
    );
    for (const space of spaces) {
      const data = `"a"${space},b\nc,d\n`;
      // Closed: two records, one a line; left open, the quote would swallow the first LF.
      expect(chunks(data), JSON.stringify(space)).toEqual([
        [`"a"${space},b\n`, 1, 1, 2],
        ["c,d\n", 1, 2, 3],
      ]);
      expect(records(data), JSON.stringify(space)).toBe(papaparseRecords(data));
    }
  });

  it("counts a final quoted field that ends in a quote and whitespace as a record, as papaparse does", () => {
    for (const data of ['a\n"" ', 'a\n""\u3000', 'a\n"" \u00a0']) {
      expect(records(data), JSON.stringify(data)).toBe(papaparseRecords(data));
      expect(records(data), JSON.stringify(data)).toBe(2);
    }
  });

  it("remembers a CR across an empty buffer: the LF after it still ends the record in a CRLF file", () => {
    const data = "a,b\r\nc,d\r\ne,f\r\n";
    const cr = data.indexOf("\r\nc") + 1;
    // Splits at the same place twice push an empty buffer between the CR and its LF.
    expect(scan(data, { newline: "\r\n" }, [cr, cr]).map((plan) => plan.records)).toEqual([1, 1, 1]);
  });

  it("decides the same wherever the stream's buffers are cut", () => {
    const data = '"a"\u00a0,"b""c"\r\n"x\ny" \u3000\r\nz,\u00a0"w"\r\n\r\nlast';
    const whole = chunks(data, { newline: "\r\n" });
    const length = encode(data).length;
    for (let at = 1; at < length; at++) {
      expect(chunks(data, { newline: "\r\n" }, [at]), `split at ${at}`).toEqual(whole);
    }
    expect(
      chunks(
        data,
        { newline: "\r\n" },
        Array.from({ length: length - 1 }, (_, i) => i + 1),
      ),
    ).toEqual(whole);
  });

  it("starts at the given offset and line", () => {
    const scanner = new BoundaryScanner({
      offset: 10,
      firstLine: 3,
      delimiter: ";".charCodeAt(0),
      newline: "\n",
      chunkBytes: 1,
      maxChunkBytes: 1_000,
    });
    expect(scanner.push(encode("a;b\n"))).toEqual([
      { index: 0, start: 10, end: 14, firstRow: 1, firstLine: 3, records: 1 },
    ]);
    expect(scanner.push(encode("c;d"))).toEqual([]);
    expect(scanner.finish()).toEqual([{ index: 1, start: 14, end: 17, firstRow: 2, firstLine: 4, records: 1 }]);
  });

  it("refuses a record longer than the largest chunk (a runaway quote), naming where it starts", () => {
    const options = { chunkBytes: 1, maxChunkBytes: 8 };
    // After the first record's chunk, an open record of exactly the largest chunk is still fine.
    expect(() => scan('a\n"bcdefgh', options)).not.toThrow();
    let caught: unknown;
    try {
      scan('a\n"bcdefghi', options);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RunawayRecordError);
    expect(caught).toMatchObject({
      line: 3,
      message: "A record starting near line 3 never ends (an unbalanced quote?).",
    });
  });
});

const columns = (...specs: [string, UploadColumn["type"]][]): UploadColumn[] =>
  specs.map(([key, type]) => ({ key, name: key, type }) as UploadColumn);

describe("parseChunk", () => {
  const layout = { delimiter: ",", newline: "\n", columns: columns(["name", "string"], ["n", "integer"]) };

  it("types each record and numbers it from the chunk's first row, skipping empty lines", () => {
    const { stats, ...parsed } = parseChunk("a,1\n\nb,2\n", layout, { firstRow: 5, firstLine: 9, records: 2 });
    expect(stats).toHaveLength(2);
    expect(parsed).toEqual({
      rows: [
        [5, ["a", 1]],
        [6, ["b", 2]],
      ],
      records: 2,
      errorRows: 0,
      errors: [],
    });
  });

  it("counts a bad record as an error on its physical line, keeping the good ones", () => {
    const text = 'a,1\n"x\ny",2,3\nb,zz\nc\u0000,4\nd,5\n';
    const parsed = parseChunk(text, layout, { firstRow: 1, firstLine: 10, records: 5 });
    expect(parsed.rows).toEqual([
      [1, ["a", 1]],
      [5, ["d", 5]],
    ]);
    expect(parsed.records).toBe(5);
    expect(parsed.errorRows).toBe(3);
    expect(parsed.errors.map((e) => e.line)).toEqual([11, 13, 14]);
    expect(parsed.errors[0]?.reason).toBe("expected 2 fields, found 3");
    expect(parsed.errors[1]?.reason).toMatch(/^column 'n': /);
    expect(parsed.errors[2]?.reason).toBe("column 'name': contains a NUL character");
  });

  it("skips a line holding only a CR in an LF file, as papaparse's empty line", () => {
    const parsed = parseChunk("a,1\n\r\nb,2\n", layout, { firstRow: 1, firstLine: 2, records: 2 });
    expect(parsed.rows.map(([row]) => row)).toEqual([1, 2]);
    expect(parsed.errorRows).toBe(0);
  });

  it("counts every bad record but keeps the first 100 of them, by line", () => {
    const text = Array.from({ length: 101 }, (_, i) => `r${i}\n`).join("");
    const parsed = parseChunk(text, layout, { firstRow: 1, firstLine: 2, records: 101 });
    expect(parsed.records).toBe(101);
    expect(parsed.errorRows).toBe(101);
    expect(parsed.errors).toHaveLength(100);
    expect(parsed.errors[0]).toEqual({ line: 2, reason: "expected 2 fields, found 1" });
    expect(parsed.errors[99]?.line).toBe(101);
  });

  it("reports malformed quoting", () => {
    const parsed = parseChunk('"a"b,1\n', layout, { firstRow: 1, firstLine: 2, records: 1 });
    expect(parsed.rows).toEqual([]);
    expect(parsed.errors).toEqual([{ line: 2, reason: "malformed quoting" }]);
  });

  it("finds an error's line with the file's own line ending: in a CRLF file a bare LF does not end a record", () => {
    const crlf = { ...layout, newline: "\r\n" };
    // The first record is `a\nb,1` (one record over two lines); the bad one, `x`, starts on line 4.
    const parsed = parseChunk("a\nb,1\r\nx\r\n", crlf, { firstRow: 1, firstLine: 2, records: 2 });
    expect(parsed.rows).toEqual([[1, ["a\nb", 1]]]);
    expect(parsed.errors).toEqual([{ line: 4, reason: "expected 2 fields, found 1" }]);
  });

  it("makes records past the planned count errors, so no row number reaches the next chunk's", () => {
    const parsed = parseChunk("a,1\nb,2\nc,3\n", layout, { firstRow: 7, firstLine: 2, records: 2 });
    expect(parsed.rows.map(([row]) => row)).toEqual([7, 8]);
    // Read, so counted as a record (processed), and rejected.
    expect(parsed.records).toBe(3);
    expect(parsed.errorRows).toBe(1);
    expect(parsed.errors).toEqual([{ line: 4, reason: "malformed quoting: the record's end could not be determined" }]);
  });

  it("a chunk whose only records lie past the plan is wholly rejected, and its upload fails", () => {
    const parsed = parseChunk("a,1\nb,2\n", layout, { firstRow: 1, firstLine: 2, records: 0 });
    expect(parsed.rows).toEqual([]);
    expect(parsed.records).toBe(2);
    expect(parsed.errorRows).toBe(2);
    const state = settle(
      {
        ...initialState({ totalBytes: 8, headerBytes: 0, maxErrorRatio: 0.1 }),
        status: "processing",
        chunksTotal: 1,
        chunksDone: 1,
        records: parsed.records,
        errorRows: parsed.errorRows,
      },
      1,
    );
    expect(state.status).toBe("failed");
    expect(state.error).toBe("2 of 2 records were rejected (100%), above the allowed 10%.");
  });
});

describe("scanner and parser together", () => {
  it("parse random files chunk by chunk exactly as papaparse parses them whole", () => {
    fc.assert(chunkedLikeWhole(200, 6), { numRuns: 100 });
  }, 60_000);
});
