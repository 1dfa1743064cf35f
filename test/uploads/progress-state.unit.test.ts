import { describe, expect, it } from "vitest";
import {
  absorbTotals,
  type ChunkTotals,
  initialState,
  isTerminal,
  MAX_KEPT_ERRORS,
  mergeErrors,
  type ProgressState,
  settle,
  snapshotOf,
  TERMINAL_STATUSES,
} from "../../src/features/uploads/progress/progress-state.ts";
import type { UploadRowError } from "../../src/platform/db/schema.ts";

const state = (overrides: Partial<ProgressState> = {}): ProgressState => ({
  ...initialState({ uploadId: "u1", totalBytes: 1000, headerBytes: 10, maxErrorRatio: 0.1 }),
  ...overrides,
});

const totals = (overrides: Partial<ChunkTotals> = {}): ChunkTotals => ({
  chunksDone: 0,
  rows: 0,
  records: 0,
  errorRows: 0,
  bytes: 0,
  chunksTotal: null,
  ...overrides,
});

const errorsAt = (...lines: number[]): UploadRowError[] => lines.map((line) => ({ line, reason: `bad line ${line}` }));

describe("isTerminal", () => {
  it("holds for completed, failed, cancelled and rejected only", () => {
    expect(TERMINAL_STATUSES).toEqual(["completed", "failed", "cancelled", "rejected"]);
    for (const status of ["completed", "failed", "cancelled", "rejected"] as const)
      expect(isTerminal(status)).toBe(true);
    for (const status of ["queued", "processing"] as const) expect(isTerminal(status)).toBe(false);
  });
});

describe("initialState", () => {
  it("starts queued with nothing counted", () => {
    const init = { uploadId: "u1", totalBytes: 500, headerBytes: 20, maxErrorRatio: 0.25 };
    const nothingCounted = { chunksTotal: null, chunksDone: 0, rows: 0, records: 0, errorRows: 0, bytesDone: 0 };
    const notStarted = { startedAt: null, finishedAt: null, error: null, errors: [] };
    expect(initialState(init)).toEqual({ status: "queued", ...init, ...nothingCounted, ...notStarted });
  });
});

describe("absorbTotals", () => {
  const counted = state({ chunksTotal: 4, chunksDone: 2, rows: 20, records: 18, errorRows: 2, bytesDone: 400 });

  it("leaves the state as it is without totals", () => {
    expect(absorbTotals(counted, undefined)).toBe(counted);
  });

  it("leaves the state as it is when the totals are equal or behind (an older snapshot)", () => {
    const equal = totals({ chunksDone: 2, rows: 20, records: 18, errorRows: 2, bytes: 400, chunksTotal: 4 });
    expect(absorbTotals(counted, equal)).toBe(counted);
    const behind = totals({ chunksDone: 1, rows: 10, records: 9, errorRows: 1, bytes: 200, chunksTotal: 4 });
    expect(absorbTotals(counted, behind)).toBe(counted);
  });

  it.each([
    ["chunksDone", { chunksDone: 3 }, { chunksDone: 3 }],
    ["rows", { rows: 21 }, { rows: 21 }],
    ["records", { records: 19 }, { records: 19 }],
    ["errorRows", { errorRows: 3 }, { errorRows: 3 }],
    ["bytes", { bytes: 401 }, { bytesDone: 401 }],
  ])("takes a %s one ahead, keeping the counts it is not behind on", (_name, ahead, expected) => {
    const base = { chunksDone: 2, rows: 20, records: 18, errorRows: 2, bytes: 400, chunksTotal: 4 };
    // The other counts are behind: the state's own values stay.
    const mixed = totals({ chunksDone: 1, rows: 19, records: 17, errorRows: 1, bytes: 399, chunksTotal: 4, ...ahead });
    expect(absorbTotals(counted, totals({ ...base, ...ahead }))).toEqual({ ...counted, ...expected });
    expect(absorbTotals(counted, mixed)).toEqual({ ...counted, ...expected });
  });

  it("adopts the planned chunk count once the planner has committed it", () => {
    const unplanned = state({ chunksDone: 1, rows: 5, records: 5, bytesDone: 100 });
    expect(absorbTotals(unplanned, totals({ chunksDone: 1, rows: 5, records: 5, bytes: 100, chunksTotal: 6 }))).toEqual(
      {
        ...unplanned,
        chunksTotal: 6,
      },
    );
  });

  it("keeps a planned chunk count it already has", () => {
    expect(absorbTotals(counted, totals({ chunksDone: 3, chunksTotal: 9 })).chunksTotal).toBe(4);
  });

  it("leaves an unplanned state as it is when totals are not ahead and not planned either", () => {
    const unplanned = state({ chunksDone: 1, rows: 5, records: 5, bytesDone: 100 });
    expect(absorbTotals(unplanned, totals({ chunksDone: 1, rows: 5, records: 5, bytes: 100 }))).toBe(unplanned);
  });

  it("stays unplanned while neither side knows the chunk count", () => {
    const unplanned = state({ chunksDone: 1 });
    expect(absorbTotals(unplanned, totals({ chunksDone: 2 }))).toEqual({ ...unplanned, chunksDone: 2 });
  });
});

describe("snapshotOf", () => {
  it("reports a queued upload as 0 % of its header, with no rate or ETA", () => {
    expect(snapshotOf(state({ headerBytes: 0 }), 5000)).toEqual({
      status: "queued",
      percent: 0,
      processed_rows: 0,
      processed_bytes: 0,
      total_bytes: 1000,
      rows_per_second: null,
      eta_seconds: null,
    });
  });

  it("counts the header as processed from the start", () => {
    const snapshot = snapshotOf(state({ headerBytes: 10 }), 5000);
    expect(snapshot.processed_bytes).toBe(10);
    expect(snapshot.percent).toBe(1);
  });

  it("rounds the percentage down to a tenth, never up", () => {
    expect(snapshotOf(state({ totalBytes: 3, headerBytes: 0, bytesDone: 2 })).percent).toBe(66.6);
    expect(snapshotOf(state({ totalBytes: 3, headerBytes: 0, bytesDone: 1 })).percent).toBe(33.3);
  });

  it("never counts more bytes than the file has", () => {
    const snapshot = snapshotOf(state({ totalBytes: 100, headerBytes: 10, bytesDone: 95, status: "processing" }));
    expect(snapshot.processed_bytes).toBe(100);
    expect(snapshot.percent).toBe(100);
  });

  it("reports an empty file as 0 % until it completes", () => {
    expect(snapshotOf(state({ totalBytes: 0, headerBytes: 0 })).percent).toBe(0);
    expect(snapshotOf(state({ totalBytes: 0, headerBytes: 0, status: "completed" })).percent).toBe(100);
  });

  it("reports a completed upload as 100 % of its bytes, ETA 0", () => {
    const done = state({
      status: "completed",
      bytesDone: 900,
      headerBytes: 10,
      records: 100,
      startedAt: 1000,
      finishedAt: 3000,
    });
    expect(snapshotOf(done, 99_000)).toEqual({
      status: "completed",
      percent: 100,
      processed_rows: 100,
      processed_bytes: 1000,
      total_bytes: 1000,
      rows_per_second: 50,
      eta_seconds: 0,
    });
  });

  it("measures rates up to now while running, and estimates the rest from the byte rate", () => {
    const running = state({ status: "processing", headerBytes: 10, bytesDone: 290, records: 15, startedAt: 10_000 });
    // 4 s: 15 records → 3.75/s, rounded to 4; 290 bytes → 72.5 B/s; 1000 - 300 = 700 bytes left → 9.66 s, up to 10.
    expect(snapshotOf(running, 14_000)).toEqual({
      status: "processing",
      percent: 30,
      processed_rows: 15,
      processed_bytes: 300,
      total_bytes: 1000,
      rows_per_second: 4,
      eta_seconds: 10,
    });
  });

  it("has no rates before any time has passed, or before any record or byte is done", () => {
    const started = state({ status: "processing", startedAt: 10_000, records: 5, bytesDone: 100 });
    expect(snapshotOf(started, 10_000)).toMatchObject({ rows_per_second: null, eta_seconds: null });
    // 2 s for 100 bytes → 50 B/s; 1000 - (10 + 100) = 890 bytes left → 17.8 s, up to 18.
    const noRecords = snapshotOf(state({ status: "processing", startedAt: 10_000, bytesDone: 100 }), 12_000);
    expect(noRecords).toMatchObject({ rows_per_second: null, eta_seconds: 18 });
    const noBytes = snapshotOf(state({ status: "processing", startedAt: 10_000, records: 4 }), 12_000);
    expect(noBytes).toMatchObject({ rows_per_second: 2, eta_seconds: null });
  });

  it("gives a failed or cancelled upload ETA 0 and its own byte count", () => {
    const failed = state({ status: "failed", bytesDone: 490, startedAt: 0, finishedAt: 1000 });
    expect(snapshotOf(failed)).toMatchObject({ status: "failed", percent: 50, processed_bytes: 500, eta_seconds: 0 });
    const cancelled = state({ status: "cancelled", bytesDone: 90 });
    expect(snapshotOf(cancelled)).toMatchObject({ status: "cancelled", percent: 10, eta_seconds: 0 });
  });
});

describe("mergeErrors", () => {
  it("returns the kept list itself when nothing comes in", () => {
    const kept = errorsAt(1, 2);
    expect(mergeErrors(kept, [])).toBe(kept);
  });

  it("orders errors by line whatever order chunks finish in", () => {
    expect(mergeErrors(errorsAt(30, 40), errorsAt(35, 2, 31))).toEqual(errorsAt(2, 30, 31, 35, 40));
    expect(mergeErrors([], errorsAt(9, 3))).toEqual(errorsAt(3, 9));
  });

  it("keeps exactly the first 100 by line", () => {
    expect(MAX_KEPT_ERRORS).toBe(100);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(mergeErrors(errorsAt(...hundred.slice(0, 50)), errorsAt(...hundred.slice(50)))).toEqual(
      errorsAt(...hundred),
    );
    expect(mergeErrors(errorsAt(...hundred.slice(1)), errorsAt(101, 1))).toEqual(errorsAt(...hundred));
  });
});

describe("settle", () => {
  const allIn = state({ status: "processing", chunksTotal: 3, chunksDone: 3, records: 10, errorRows: 1 });

  it("completes when every chunk is in and the error ratio is at most the allowed one", () => {
    expect(settle(allIn, 777)).toEqual({ ...allIn, status: "completed", finishedAt: 777 });
    expect(settle({ ...allIn, errorRows: 0 }, 777).status).toBe("completed");
  });

  it("fails just above the allowed ratio, saying by how much", () => {
    expect(settle({ ...allIn, errorRows: 2 }, 777)).toEqual({
      ...allIn,
      errorRows: 2,
      status: "failed",
      finishedAt: 777,
      error: "2 of 10 records were rejected (20%), above the allowed 10%.",
    });
    const third = settle({ ...allIn, records: 3, errorRows: 1, maxErrorRatio: 0.333 }, 1);
    expect(third.error).toBe("1 of 3 records were rejected (33.3%), above the allowed 33.3%.");
  });

  it("completes an upload without records, even when no errors are allowed", () => {
    expect(settle({ ...allIn, records: 0, errorRows: 0, maxErrorRatio: 0 }, 5).status).toBe("completed");
  });

  it("waits while a chunk is missing or the chunk count is not yet planned", () => {
    const missing = { ...allIn, chunksDone: 2 };
    expect(settle(missing, 1)).toBe(missing);
    const unplanned = { ...allIn, chunksTotal: null };
    expect(settle(unplanned, 1)).toBe(unplanned);
  });

  it("leaves a finished upload as it is", () => {
    for (const status of ["completed", "failed", "cancelled", "rejected"] as const) {
      const finished = { ...allIn, status, errorRows: 9 };
      expect(settle(finished, 1)).toBe(finished);
    }
  });
});
