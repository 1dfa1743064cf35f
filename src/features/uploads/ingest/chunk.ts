/**
 * The chunk step: reads one byte range from R2, parses it with papaparse (from text, never raw
 * bytes), types each record, and inserts the good ones in one transaction that also marks the
 * chunk done. A redelivered chunk finds its marker set and inserts nothing: the marker's UPDATE
 * (`WHERE done_at IS NULL`) waits for a concurrent delivery's transaction and then matches nothing,
 * so two deliveries never both insert. The primary key on (upload_id, row_number) is the second
 * guard: a duplicate would fail the transaction (and be retried into the marker), never be stored.
 * Plain inserts, without `ON CONFLICT`, skip the speculative-insertion work per row. Row numbers
 * come from the planner, so they follow the file's order whatever order chunks run in.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import Papa from "papaparse";
import type { PoolDb } from "../../../platform/db/client.ts";
import {
  type ChunkColumnStats,
  csvUploadChunks,
  csvUploads,
  type UploadColumn,
  type UploadRowError,
} from "../../../platform/db/schema.ts";
import { type ChunkReport, MAX_KEPT_ERRORS } from "../progress/progress-state.ts";
import { BoundaryScanner } from "./boundaries.ts";
import type { ChunkBudget } from "./chunk-budget.ts";
import { ChunkStats } from "./column-stats.ts";
import { convertCell, INVALID, invalidReason } from "./csv-format.ts";
import type { ChunkMessage } from "./messages.ts";
import { partitionName } from "./partitions.ts";

/** Rows per INSERT: two array parameters each, so no bind-parameter limit applies. */
const INSERT_BATCH = 5000;

export interface ParsedChunk {
  /** `[row number, values in column order]`, the stored layout (row-layout.ts). */
  rows: [number, unknown[]][];
  records: number;
  errorRows: number;
  errors: UploadRowError[];
  /** Column statistics partials over `rows` alone (column-stats.ts). */
  stats: ChunkColumnStats[];
}

/** Pure: turns a chunk's text into typed rows and counted errors. */
export function parseChunk(
  text: string,
  layout: { delimiter: string; newline: string; columns: UploadColumn[] },
  position: { firstRow: number; firstLine: number; records: number },
): ParsedChunk {
  const parsed = Papa.parse<string[]>(text, { delimiter: layout.delimiter, newline: layout.newline as "\n" });
  const badQuotes = new Set<number>();
  for (const error of parsed.errors) if (error.type === "Quotes" && error.row !== undefined) badQuotes.add(error.row);
  const out: Omit<ParsedChunk, "stats"> = { rows: [], records: 0, errorRows: 0, errors: [] };
  // Errors are kept by record index; their lines are found only when there are any.
  const failed: { record: number; reason: string }[] = [];
  const fail = (record: number, reason: string) => {
    out.errorRows++;
    if (failed.length < MAX_KEPT_ERRORS) failed.push({ record, reason });
  };
  const { columns } = layout;
  const stats = new ChunkStats(columns);
  // One scan of the chunk instead of one per cell: NUL almost never occurs.
  const mayHoldNul = text.includes("\u0000");
  for (const [i, fields] of parsed.data.entries()) {
    if (fields.length === 1 && (fields[0] === "" || fields[0] === "\r")) continue;
    if (out.records >= position.records) {
      // The planner and the parser disagree on where records end (malformed quoting); a row
      // number beyond the planned range could collide with the next chunk's, so it is an error.
      // It was still read: counted among the records, so the error ratio sees it (a chunk of
      // nothing but such records is 100 % rejected, never 0 of 0).
      fail(i, "malformed quoting: the record's end could not be determined");
      out.records++;
      continue;
    }
    const rowNumber = position.firstRow + out.records;
    out.records++;
    if (badQuotes.has(i)) {
      fail(i, "malformed quoting");
      continue;
    }
    if (fields.length !== columns.length) {
      fail(i, `expected ${columns.length} fields, found ${fields.length}`);
      continue;
    }
    const data: unknown[] = new Array(columns.length);
    let reason: string | undefined;
    for (let c = 0; c < columns.length; c++) {
      const column = columns[c] as UploadColumn;
      const raw = fields[c] as string; // one field per column, checked above
      // jsonb rejects NUL; such a record is counted as an error rather than silently altered.
      if (mayHoldNul && raw.includes("\u0000")) {
        reason = `column '${column.key}': contains a NUL character`;
        break;
      }
      const value = convertCell(raw, column.type);
      if (value === INVALID) {
        reason = `column '${column.key}': ${invalidReason(raw, column.type)}`;
        break;
      }
      data[c] = value;
    }
    if (reason) fail(i, reason);
    else {
      // Only once the whole record is stored: a rejected record counts in no statistic.
      stats.add(data);
      out.rows.push([rowNumber, data]);
    }
  }
  if (failed.length > 0) {
    const lines = recordLines(text, layout, position.firstLine);
    out.errors = failed.map(({ record, reason }) => ({ line: lines[record] ?? position.firstLine, reason }));
  }
  return { ...out, stats: stats.partials() };
}

/**
 * The first physical line of each record papaparse returns for `text` (empty lines included), from
 * the same scanner the planner cuts chunks with: counting line breaks inside the parsed fields
 * would miss the ones papaparse drops (a bare LF between a closing quote and the delimiter).
 */
function recordLines(text: string, layout: { delimiter: string; newline: string }, firstLine: number): number[] {
  const scanner = new BoundaryScanner({
    offset: 0,
    firstLine,
    delimiter: layout.delimiter.charCodeAt(0),
    newline: layout.newline as "\n" | "\r\n", // the scanner only asks whether it is CRLF
    chunkBytes: 1,
    maxChunkBytes: Number.MAX_SAFE_INTEGER,
  });
  const plans = [...scanner.push(new TextEncoder().encode(text)), ...scanner.finish()];
  return plans.map((plan) => plan.firstLine);
}

export type ChunkOutcome = { kind: "skipped" } | { kind: "done"; report: ChunkReport };

/**
 * Reads, parses and commits one chunk. Its heavy part (from the range read to the commit) runs
 * within the batch's `budget`, weighed by the chunk's cells, so wide files' chunks run fewer at once.
 */
export async function ingestChunk(
  db: PoolDb,
  env: Env,
  message: ChunkMessage,
  budget: ChunkBudget,
): Promise<ChunkOutcome> {
  const [upload] = await db
    .select({
      status: csvUploads.status,
      r2Key: csvUploads.r2Key,
      delimiter: csvUploads.delimiter,
      newline: csvUploads.newline,
      columns: csvUploads.columns,
    })
    .from(csvUploads)
    .where(eq(csvUploads.id, message.uploadId));
  if (upload?.status !== "processing") return { kind: "skipped" };

  const [chunk] = await db
    .select()
    .from(csvUploadChunks)
    .where(and(eq(csvUploadChunks.uploadId, message.uploadId), eq(csvUploadChunks.chunkIndex, message.index)));
  if (!chunk) throw new Error(`chunk ${message.index} of the upload is not planned`);
  // Already committed by an earlier delivery: report what it stored, its errors included, so a
  // delivery that died between commit and report loses nothing.
  if (chunk.doneAt) return { kind: "done", report: reportOf(message, chunk) };

  const cells = message.records * upload.columns.length;
  const { committed, report } = await budget.run(cells, async () => {
    const parsed = await readChunk(env, upload, message);
    // Only the counts leave the budget: the parsed rows are dropped with this scope.
    return { committed: await commitChunk(db, message, parsed), report: reportOf(message, storedCounts(parsed)) };
  });
  if (!committed) {
    const [again] = await db
      .select()
      .from(csvUploadChunks)
      .where(and(eq(csvUploadChunks.uploadId, message.uploadId), eq(csvUploadChunks.chunkIndex, message.index)));
    return again?.doneAt ? { kind: "done", report: reportOf(message, again) } : { kind: "skipped" };
  }
  return { kind: "done", report };
}

/** The chunk's byte range, read from R2 in one piece and parsed. */
async function readChunk(
  env: Env,
  upload: { r2Key: string; delimiter: string | null; newline: string | null; columns: UploadColumn[] },
  message: ChunkMessage,
): Promise<ParsedChunk> {
  const object = await env.FILES.get(upload.r2Key, {
    range: { offset: message.start, length: message.end - message.start },
  });
  if (!object) throw new Error("The uploaded file is missing from storage.");
  // One range read decoded at once: chunks start and end at LF, never inside a character.
  const text = new TextDecoder().decode(await object.arrayBuffer());
  return parseChunk(
    text,
    { delimiter: upload.delimiter ?? ",", newline: upload.newline ?? "\n", columns: upload.columns },
    message,
  );
}

/**
 * Inserts the parsed rows and marks the chunk done, with its counts, errors and statistics
 * partials, in one transaction. False when the upload is no longer processing or another delivery
 * of the chunk committed first: then nothing is written.
 */
async function commitChunk(db: PoolDb, message: ChunkMessage, parsed: ParsedChunk): Promise<boolean> {
  const table = sql.identifier(partitionName(message.uploadId));
  return db.transaction(async (tx) => {
    // FOR SHARE: a concurrent cancel or delete (which update this row) waits for this chunk, or
    // this chunk sees their result and writes nothing.
    const [current] = await tx
      .select({ status: csvUploads.status })
      .from(csvUploads)
      .where(eq(csvUploads.id, message.uploadId))
      .for("share");
    if (current?.status !== "processing") return false;
    const marked = await tx
      .update(csvUploadChunks)
      .set({
        doneAt: new Date(),
        ...storedCounts(parsed),
        // Set, never added to: a chunk that commits again (after a rollback) writes the same partials.
        stats: parsed.stats,
      })
      .where(
        and(
          eq(csvUploadChunks.uploadId, message.uploadId),
          eq(csvUploadChunks.chunkIndex, message.index),
          isNull(csvUploadChunks.doneAt),
        ),
      )
      .returning({ index: csvUploadChunks.chunkIndex });
    // Another delivery of this chunk committed first: its rows are in, ours are not needed.
    if (marked.length === 0) return false;
    for (let i = 0; i < parsed.rows.length; i += INSERT_BATCH) {
      const batch = parsed.rows.slice(i, i + INSERT_BATCH);
      const numbers = `{${batch.map(([rowNumber]) => rowNumber).join(",")}}`;
      const values = JSON.stringify(batch.map(([, data]) => data));
      // ROWS FROM zips the row numbers with the parsed array's elements; the payload is parsed to
      // jsonb once, and each element is stored as it is.
      await tx.execute(sql`
        insert into ${table} (upload_id, row_number, data)
        select ${message.uploadId}::uuid, r.row_number, r.data
        from rows from (unnest(${numbers}::bigint[]), jsonb_array_elements(${values}::jsonb)) as r(row_number, data)`);
    }
    return true;
  });
}

/** What the chunk's done marker records of a parsed chunk, and what its report is made from. */
function storedCounts(parsed: ParsedChunk) {
  return {
    rowsInserted: parsed.rows.length,
    recordsRead: parsed.records,
    errorRows: parsed.errorRows,
    errors: parsed.errors,
  };
}

function reportOf(
  message: ChunkMessage,
  chunk: {
    rowsInserted: number | null;
    recordsRead: number | null;
    errorRows: number | null;
    errors: UploadRowError[];
  },
): ChunkReport {
  return {
    index: message.index,
    rows: chunk.rowsInserted ?? 0,
    records: chunk.recordsRead ?? 0,
    errorRows: chunk.errorRows ?? 0,
    bytes: message.end - message.start,
    errors: chunk.errors,
  };
}
