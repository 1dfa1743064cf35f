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
import { rowObject } from "../../src/features/uploads/ingest/row-layout.ts";
import { withDb } from "../support/env.ts";
import { encode, finished, formUpload } from "../support/uploads.ts";
import { createUser } from "../support/users.ts";
import {
  chunkedLikeWhole,
  csvFile,
  expectChunkedLikeWhole,
  expectedIngestion,
  layoutOf,
} from "./csv-property-fixtures.ts";

describe("ingestion property: chunked ingestion equals papaparse on the whole file", () => {
  it("for random files, chunk sizes and stream buffer splits", () => {
    fc.assert(chunkedLikeWhole(400, 12), { numRuns: 2000 });
  });

  it("with a chunk boundary after every single record", () => {
    fc.assert(
      fc.property(csvFile, (file) => {
        // chunkBytes 1: every record ends a chunk; buffers of one byte: every position is a split.
        const everyByte = Array.from({ length: encode(file.text).length }, (_, i) => i);
        expectChunkedLikeWhole(file.text, 1, everyByte);
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
