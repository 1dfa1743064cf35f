/**
 * The chunk boundary scanner held to papaparse on short, hostile inputs: every mix of quotes,
 * delimiters, CR, LF and (Unicode) whitespace, in LF and CRLF files, read in one buffer or in
 * buffers cut anywhere. Each chunk must hold the records papaparse finds in it, those must add up
 * to papaparse's records of the whole file, and each chunk must start on the line its first byte
 * is on, since the rows' numbers and the error lines users see come from there.
 */
import fc from "fast-check";
import Papa from "papaparse";
import { describe, expect, it } from "vitest";
import { BoundaryScanner, type ChunkPlan } from "../../src/features/uploads/ingest/boundaries.ts";

type Newline = "\n" | "\r\n";

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Chunks of one record each (chunk size 1), the stream pushed in buffers cut at `splits`. */
function plans(data: string, newline: Newline, splits: number[] = []): ChunkPlan[] {
  const scanner = new BoundaryScanner({
    offset: 0,
    firstLine: 2,
    delimiter: ",".charCodeAt(0),
    newline,
    chunkBytes: 1,
    maxChunkBytes: Number.MAX_SAFE_INTEGER,
  });
  const bytes = encode(data);
  const out: ChunkPlan[] = [];
  let from = 0;
  for (const cut of [...splits.filter((at) => at <= bytes.length).sort((a, b) => a - b), bytes.length]) {
    out.push(...scanner.push(bytes.subarray(from, cut)));
    from = cut;
  }
  return [...out, ...scanner.finish()];
}

/** papaparse's records of `text`, empty lines (`""` or a lone CR) skipped as the chunk parser skips them. */
function papaparseRecords(text: string, newline: Newline): number {
  const parsed = Papa.parse<string[]>(text, { delimiter: ",", newline: newline as "\n" });
  return parsed.data.filter((fields) => !(fields.length === 1 && (fields[0] === "" || fields[0] === "\r"))).length;
}

// `©` and `€` start with the same UTF-8 lead bytes as the Unicode spaces (0xc2, 0xe2) but are not spaces.
const piece = fc.constantFrom(
  '"',
  '"',
  '""',
  ",",
  "\n",
  "\r",
  "\r\n",
  " ",
  "\t",
  "a",
  "b",
  "\u00a0",
  "\u3000",
  "é",
  "©",
  "€",
);
const data = fc.array(piece, { maxLength: 14 }).map((parts) => parts.join(""));
const newline = fc.constantFrom<Newline>("\n", "\r\n");

function checkAgainstPapaparse(text: string, nl: Newline, splits: number[]) {
  const bytes = encode(text);
  const found = plans(text, nl, splits);
  expect(found.reduce((sum, plan) => sum + plan.records, 0)).toBe(papaparseRecords(text, nl));
  let row = 1;
  let at = 0;
  for (const [index, plan] of found.entries()) {
    expect(plan).toMatchObject({ index, start: at, firstRow: row });
    const before = decode(bytes.subarray(0, plan.start));
    expect(plan.firstLine).toBe(2 + before.split("\n").length - 1);
    expect(plan.records).toBe(papaparseRecords(decode(bytes.subarray(plan.start, plan.end)), nl));
    row += plan.records;
    at = plan.end;
  }
  expect(at).toBe(bytes.length);
}

describe("BoundaryScanner against papaparse", () => {
  it("counts each chunk's records and lines as papaparse reads them, in one buffer", () => {
    fc.assert(
      fc.property(data, newline, (text, nl) => checkAgainstPapaparse(text, nl, [])),
      { numRuns: 4000 },
    );
  });

  it("decides the same wherever the stream's buffers are cut", () => {
    fc.assert(
      fc.property(data, newline, fc.array(fc.nat(40), { maxLength: 4 }), (text, nl, splits) => {
        const whole = plans(text, nl);
        expect(plans(text, nl, splits)).toEqual(whole);
      }),
      { numRuns: 3000 },
    );
  });
});

describe("a file cut inside a character", () => {
  // Only the first bytes of a file are checked to be UTF-8; a chunk decodes the rest leniently, so
  // a file whose last character is cut short reaches the parser as a replacement character.
  it("still counts its last record when the cut character follows a quote", () => {
    for (const tail of [[0xe3], [0xe3, 0x80], [0xc2]]) {
      for (const nl of ["\n", "\r\n"] as const) {
        const bytes = new Uint8Array([...encode(`a${nl}""`), ...tail]);
        const scanner = new BoundaryScanner({
          offset: 0,
          firstLine: 2,
          delimiter: ",".charCodeAt(0),
          newline: nl,
          chunkBytes: 1_000_000,
          maxChunkBytes: Number.MAX_SAFE_INTEGER,
        });
        const found = [...scanner.push(bytes), ...scanner.finish()];
        const text = new TextDecoder().decode(bytes);
        expect(
          found.reduce((sum, plan) => sum + plan.records, 0),
          JSON.stringify(text),
        ).toBe(papaparseRecords(text, nl));
        expect(papaparseRecords(text, nl)).toBe(2);
      }
    }
  });
});
