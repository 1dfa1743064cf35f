/**
 * Property: whatever the CSV (random quoting, embedded delimiters, quotes and line breaks, BOMs,
 * CRLF/LF mixes) and wherever the chunk boundaries and stream buffers fall, the ingested rows
 * equal papaparse's parse of the whole file.
 *
 * Two levels: the planner's scanner and the chunk parser composed exactly as the queue runs them,
 * with every chunk size and buffer split fast-check can find (hundreds of files); and the real
 * pipeline (upload → R2 → queue → Postgres) on files big enough to span several chunks.
 */
import { sql } from "drizzle-orm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BoundaryScanner, type ChunkPlan } from "../../src/features/uploads/ingest/boundaries.ts";
import { parseChunk } from "../../src/features/uploads/ingest/chunk.ts";
import { rowObject } from "../../src/features/uploads/ingest/row-layout.ts";
import { analyseSample, type CsvLayout, CsvRejection } from "../../src/features/uploads/ingest/validate.ts";
import { withDb } from "../support/env.ts";
import { encode, finished, formUpload } from "../support/uploads.ts";
import { createUser } from "../support/users.ts";
import { csvFile, expectedIngestion } from "./csv-property-fixtures.ts";

function layoutOf(bytes: Uint8Array): CsvLayout | null {
  try {
    return analyseSample(bytes, bytes.length, { maxColumns: 100 });
  } catch (error) {
    if (error instanceof CsvRejection) return null;
    throw error;
  }
}

/** The planner's scan, fed in buffers cut at `splits`, then each chunk parsed on its own. */
function ingestInChunks(bytes: Uint8Array, layout: CsvLayout, chunkBytes: number, splits: number[]) {
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

describe("ingestion property: chunked ingestion equals papaparse on the whole file", () => {
  it("for random files, chunk sizes and stream buffer splits", () => {
    fc.assert(
      fc.property(
        csvFile,
        fc.integer({ min: 1, max: 400 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (file, chunkBytes, splits) => {
          const bytes = encode(file.text);
          const layout = layoutOf(bytes);
          fc.pre(layout !== null);
          if (!layout) return;
          const expected = expectedIngestion(file.text, layout);
          const actual = ingestInChunks(bytes, layout, chunkBytes, splits);
          expect(actual.records).toBe(expected.records);
          expect([...actual.rows.entries()]).toEqual([...expected.rows.entries()]);
          expect(actual.errorLines).toEqual(expected.errorLines);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("with a chunk boundary after every single record", () => {
    fc.assert(
      fc.property(csvFile, (file) => {
        const bytes = encode(file.text);
        const layout = layoutOf(bytes);
        fc.pre(layout !== null);
        if (!layout) return;
        const expected = expectedIngestion(file.text, layout);
        // chunkBytes 1: every record ends a chunk; buffers of one byte: every position is a split.
        const everyByte = Array.from({ length: bytes.length }, (_, i) => i);
        const actual = ingestInChunks(bytes, layout, 1, everyByte);
        expect(actual.records).toBe(expected.records);
        expect([...actual.rows.entries()]).toEqual([...expected.rows.entries()]);
        expect(actual.errorLines).toEqual(expected.errorLines);
      }),
      { numRuns: 300 },
    );
  });
});

/** Grows a generated file past several 64 KiB chunks by repeating its records. */
function spanningChunks(text: string, minBytes: number): string {
  const body = text.replace(/^\uFEFF/, "");
  const lf = body.indexOf("\n");
  if (lf === -1) return text;
  let grown = text.endsWith("\n") ? text : `${text}\n`;
  const records = `${body.slice(lf + 1).replace(/\r?\n?$/, "")}\n`;
  if (records.trim() === "") return text;
  while (grown.length < minBytes) grown += records;
  return grown;
}

describe("ingestion property: the real pipeline", () => {
  it("stores exactly papaparse's records of the whole file, across several chunks", { timeout: 240_000 }, async () => {
    const user = await createUser();
    await fc.assert(
      fc.asyncProperty(csvFile, async (file) => {
        const text = spanningChunks(file.text, 200_000);
        const bytes = encode(text);
        const layout = layoutOf(bytes);
        fc.pre(layout !== null);
        if (!layout) return;
        const expected = expectedIngestion(text, layout);
        fc.pre(expected.records > 0);
        const upload = await formUpload(user, text, "property.csv");
        const done = await finished(user, upload.id, 60_000);
        const errors = expected.errorLines.length;
        if (errors / expected.records > 0.1) {
          // Above the allowed error ratio (wrangler.toml): failed, and no row is kept.
          expect(done).toMatchObject({ status: "failed", total_rows: 0, error_rows: errors });
          return;
        }
        expect(done).toMatchObject({
          status: "completed",
          delimiter: layout.delimiter,
          total_rows: expected.rows.size,
          processed_rows: expected.records,
          error_rows: errors,
        });
        expect(done.errors.map((e) => e.line)).toEqual(expected.errorLines.slice(0, 100));
        const stored = await withDb((db) =>
          db.execute<{ row_number: string; data: unknown[] }>(
            sql`select row_number, data from csv_rows where upload_id = ${upload.id} order by row_number`,
          ),
        );
        const keys = layout.columns.map((c) => c.key);
        const actual = new Map(stored.rows.map((r) => [Number(r.row_number), rowObject(keys, r.data)]));
        expect([...actual.entries()]).toEqual([...expected.rows.entries()]);
      }),
      { numRuns: 6 },
    );
  });
});
