/**
 * fast-check generators of hostile-but-plausible CSV files, and the reference every ingestion is
 * held to: papaparse's parse of the whole file in the dialect the API detected, typed and counted
 * the way the API defines them (empty lines skipped, a record with the wrong field count, bad quoting,
 * a NUL or a value its column cannot hold is an error row; the others are stored by row number),
 * and the scanner and parser composed as the queue runs them, to be held to that reference.
 */
import fc from "fast-check";
import Papa from "papaparse";
import { expect } from "vitest";
import { BoundaryScanner, type ChunkPlan } from "../../src/features/uploads/ingest/boundaries.ts";
import { parseChunk } from "../../src/features/uploads/ingest/chunk.ts";
import { convertValue } from "../../src/features/uploads/ingest/csv-format.ts";
import { rowObject } from "../../src/features/uploads/ingest/row-layout.ts";
import { analyseSample, type CsvLayout, CsvRejection } from "../../src/features/uploads/ingest/validate.ts";
import type { UploadColumn } from "../../src/platform/db/schema.ts";

export type NewlineMode = "lf" | "crlf" | "mixed";

export interface GeneratedCsv {
  text: string;
  delimiter: string;
  newlines: NewlineMode;
  bom: boolean;
}

const DELIMITERS = [",", ";", "\t", "|"] as const;

/** A cell's content, before quoting. Includes everything that makes CSV splitting hard. */
const cellContent = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9 ._-]{0,12}$/) },
  { weight: 2, arbitrary: fc.integer({ min: -100_000, max: 100_000 }).map(String) },
  { weight: 1, arbitrary: fc.constant("") },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 6 }) },
  {
    weight: 3,
    // The characters that matter to the splitter, mixed into text.
    arbitrary: fc
      .array(fc.constantFrom("a", "Z", " ", ",", ";", "\t", "|", '"', "\n", "\r\n", "\r", "'", "é", "😀", "%", "_"), {
        maxLength: 10,
      })
      .map((parts) => parts.join("")),
  },
);

/** Strings whose first character is not a quote can be written unquoted (if they need no quoting). */
function mustQuote(value: string, delimiter: string): boolean {
  return value.includes(delimiter) || value.includes("\n") || value.includes("\r") || value.startsWith('"');
}

function quoted(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}

/**
 * Written verbatim, unescaped: stray and unbalanced quotes, a closing quote followed by (Unicode)
 * whitespace, CR or LF before the delimiter — the inputs on which papaparse's recovery rules decide.
 */
const rawCell = fc
  .array(fc.constantFrom('"', '"', " ", "\u00a0", "\u3000", "\r", "\n", "\r\n", "x", ",", ";", "\t", "|"), {
    maxLength: 8,
  })
  .map((parts) => parts.join(""));

/** One cell as written: quoted when it must be, and at random otherwise; now and then malformed. */
const cell = (delimiter: string) =>
  fc.oneof(
    {
      weight: 20,
      arbitrary: fc
        .tuple(
          cellContent.map((v) => v.replaceAll("\u0000", "")),
          fc.boolean(),
        )
        .map(([value, quoteAnyway]) => (quoteAnyway || mustQuote(value, delimiter) ? quoted(value) : value)),
    },
    { weight: 1, arbitrary: rawCell },
  );

const headerName = fc.constantFrom("Name", "Amount", "Note", "Ünit Price (€)", "id", "When", "Flag", "x y");

/** A whole file: header, records (mostly of the header's width), stray empty lines, BOM, endings. */
export const csvFile: fc.Arbitrary<GeneratedCsv> = fc
  .record({
    delimiter: fc.constantFrom(...DELIMITERS),
    newlines: fc.constantFrom<NewlineMode>("lf", "crlf", "mixed"),
    bom: fc.boolean(),
    width: fc.integer({ min: 1, max: 5 }),
    finalNewline: fc.boolean(),
    seed: fc.integer(),
  })
  .chain((shape) =>
    fc
      .record({
        header: fc.tuple(
          ...Array.from({ length: shape.width }, (_, i) =>
            fc.tuple(headerName, fc.boolean()).map(([name, quote]) => {
              const unique = `${name} ${String.fromCharCode(97 + i)}`;
              return quote ? quoted(unique) : unique;
            }),
          ),
        ),
        records: fc.array(
          fc.oneof(
            {
              weight: 12,
              arbitrary: fc.array(cell(shape.delimiter), { minLength: shape.width, maxLength: shape.width }),
            },
            { weight: 1, arbitrary: fc.array(cell(shape.delimiter), { minLength: 1, maxLength: shape.width + 2 }) },
            { weight: 1, arbitrary: fc.constant<string[]>([]) },
          ),
          { minLength: 0, maxLength: 40 },
        ),
        endings: fc.array(fc.constantFrom("\n", "\r\n"), { minLength: 41, maxLength: 41 }),
      })
      .map(({ header, records, endings }) => {
        const ending = (i: number) =>
          shape.newlines === "lf" ? "\n" : shape.newlines === "crlf" ? "\r\n" : (endings[i % endings.length] ?? "\n");
        const lines = [header.join(shape.delimiter), ...records.map((fields) => fields.join(shape.delimiter))];
        let text = shape.bom ? "\uFEFF" : "";
        lines.forEach((line, i) => {
          text += line;
          if (i < lines.length - 1 || shape.finalNewline) text += ending(i);
        });
        return { text, delimiter: shape.delimiter, newlines: shape.newlines, bom: shape.bom };
      }),
  );

export interface ExpectedIngestion {
  /** Stored rows by row number. */
  rows: Map<number, Record<string, unknown>>;
  /** Records read (empty lines excluded), good and bad. */
  records: number;
  errorLines: number[];
}

/**
 * The reference: papaparse over the whole file (BOM removed) in the detected dialect; the first
 * record is the header. An error's `line` is the first physical line of its record, the header
 * being line 1.
 */
export function expectedIngestion(
  text: string,
  layout: { delimiter: string; newline: string; columns: UploadColumn[] },
): ExpectedIngestion {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  // Step mode reports where each record ends, so a record's first physical line is counted from
  // the text itself rather than from its (possibly trimmed) fields.
  const records: { fields: string[]; start: number; badQuotes: boolean }[] = [];
  let start = 0;
  Papa.parse<string[]>(body, {
    delimiter: layout.delimiter,
    newline: layout.newline as "\n",
    step: (result) => {
      const badQuotes = result.errors.some((error) => error.type === "Quotes");
      records.push({ fields: result.data, start, badQuotes });
      start = result.meta.cursor;
    },
  });
  const lineAt = (offset: number) => 1 + (body.slice(0, offset).match(/\n/g)?.length ?? 0);
  const out: ExpectedIngestion = { rows: new Map(), records: 0, errorLines: [] };
  for (const [i, { fields, start: offset, badQuotes }] of records.entries()) {
    if (i === 0) continue; // the header
    if (fields.length === 1 && (fields[0] === "" || fields[0] === "\r")) continue;
    out.records++;
    const rowNumber = out.records;
    if (badQuotes || fields.length !== layout.columns.length) {
      out.errorLines.push(lineAt(offset));
      continue;
    }
    const data: Record<string, unknown> = {};
    let bad = false;
    for (const [c, column] of layout.columns.entries()) {
      const raw = fields[c] ?? "";
      const converted = convertValue(raw, column.type);
      if (raw.includes("\u0000") || !converted.ok) {
        bad = true;
        break;
      }
      data[column.key] = converted.value;
    }
    if (bad) out.errorLines.push(lineAt(offset));
    else out.rows.set(rowNumber, data);
  }
  return out;
}

/** The layout the API detects for a whole file, or null when it refuses the file. */
export function layoutOf(bytes: Uint8Array): CsvLayout | null {
  try {
    return analyseSample(bytes, bytes.length, { maxColumns: 100 });
  } catch (error) {
    if (error instanceof CsvRejection) return null;
    throw error;
  }
}

/** The planner's scan, fed in buffers cut at `splits`, then each chunk parsed on its own. */
export function ingestInChunks(bytes: Uint8Array, layout: CsvLayout, chunkBytes: number, splits: number[]) {
  const scanner = new BoundaryScanner({
    offset: layout.dataOffset,
    firstLine: layout.dataLine,
    delimiter: layout.delimiter.charCodeAt(0),
    newline: layout.newline,
    chunkBytes,
    maxChunkBytes: Number.MAX_SAFE_INTEGER,
  });
  const data = bytes.subarray(layout.dataOffset);
  const cuts = [...new Set(splits.map((s) => s % (data.length + 1)))].sort((a, b) => a - b);
  const plans: ChunkPlan[] = [];
  let from = 0;
  for (const cut of [...cuts, data.length]) {
    if (cut > from) plans.push(...scanner.push(data.subarray(from, cut)));
    from = Math.max(from, cut);
  }
  plans.push(...scanner.finish());

  const rows = new Map<number, Record<string, unknown>>();
  let records = 0;
  const errorLines: number[] = [];
  let expectedStart = layout.dataOffset;
  for (const plan of plans) {
    // Chunks tile the data exactly, in order.
    expect(plan.start).toBe(expectedStart);
    expectedStart = plan.end;
    const text = new TextDecoder().decode(bytes.subarray(plan.start, plan.end));
    const parsed = parseChunk(text, layout, plan);
    records += parsed.records;
    for (const [rowNumber, values] of parsed.rows) {
      expect(rows.has(rowNumber)).toBe(false);
      // Stored in column order; as `{key: value}` it must be papaparse's record.
      rows.set(
        rowNumber,
        rowObject(
          layout.columns.map((c) => c.key),
          values,
        ),
      );
    }
    errorLines.push(...parsed.errors.map((e) => e.line));
    expect(parsed.errorRows).toBe(parsed.errors.length);
  }
  if (data.length > 0) expect(expectedStart).toBe(bytes.length);
  return { rows, records, errorLines };
}

/**
 * The property both the unit and the workerd suites hold the scanner and the parser to: `text`,
 * planned in chunks of `chunkBytes` over stream buffers cut at `splits` and parsed chunk by chunk,
 * gives papaparse's parse of the whole file (records, rows in order, error lines). A file the API
 * refuses is skipped as a precondition.
 */
export function expectChunkedLikeWhole(text: string, chunkBytes: number, splits: number[]): void {
  const bytes = new TextEncoder().encode(text);
  const layout = layoutOf(bytes);
  fc.pre(layout !== null);
  if (!layout) return;
  const expected = expectedIngestion(text, layout);
  const actual = ingestInChunks(bytes, layout, chunkBytes, splits);
  expect(actual.records).toBe(expected.records);
  expect([...actual.rows.entries()]).toEqual([...expected.rows.entries()]);
  expect(actual.errorLines).toEqual(expected.errorLines);
}

/** That property over random files, chunk sizes up to `maxChunkBytes` and up to `maxSplits` buffer cuts. */
export function chunkedLikeWhole(maxChunkBytes: number, maxSplits: number) {
  return fc.property(
    csvFile,
    fc.integer({ min: 1, max: maxChunkBytes }),
    fc.array(fc.nat(), { maxLength: maxSplits }),
    (file, chunkBytes, splits) => expectChunkedLikeWhole(file.text, chunkBytes, splits),
  );
}
