/** The live progress of one upload, as held by its Durable Object, and the public snapshot of it. */
import type { UploadRowError, UploadStatus } from "../../../platform/db/schema.ts";
import type { ProgressResponse } from "../uploads.schemas.ts";

export const MAX_KEPT_ERRORS = 100;
export const TERMINAL_STATUSES: readonly UploadStatus[] = ["completed", "failed", "cancelled", "rejected"];
export const isTerminal = (status: UploadStatus): boolean => TERMINAL_STATUSES.includes(status);

export interface ProgressState {
  /** Lets the object's watchdog name its upload (absent in states written before it existed). */
  uploadId?: string;
  /** Chunks done at the watchdog's previous round, and how many rounds in a row saw no new one. */
  watchdogChunksDone?: number;
  stalledRounds?: number;
  status: UploadStatus;
  totalBytes: number;
  /** Bytes before the first record (BOM and header): counted as processed from the start. */
  headerBytes: number;
  maxErrorRatio: number;
  chunksTotal: number | null;
  chunksDone: number;
  rows: number;
  records: number;
  errorRows: number;
  bytesDone: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: string | null;
  errors: UploadRowError[];
}

export interface ProgressInit {
  uploadId?: string;
  totalBytes: number;
  headerBytes: number;
  maxErrorRatio: number;
}

export function initialState(init: ProgressInit): ProgressState {
  return {
    status: "queued",
    ...init,
    chunksTotal: null,
    chunksDone: 0,
    rows: 0,
    records: 0,
    errorRows: 0,
    bytesDone: 0,
    startedAt: null,
    finishedAt: null,
    error: null,
    errors: [],
  };
}

export interface ChunkReport {
  index: number;
  rows: number;
  records: number;
  errorRows: number;
  bytes: number;
  errors: UploadRowError[];
}

/** The database's totals over an upload's committed chunks (see features/uploads/ingest/chunk-totals.ts). */
export interface ChunkTotals {
  chunksDone: number;
  rows: number;
  records: number;
  errorRows: number;
  bytes: number;
  /** The planned chunk count, once the planner has committed it. */
  chunksTotal: number | null;
}

/**
 * Brings the counts up to what Postgres has committed. Snapshots taken by concurrent consumers may
 * arrive out of order, and counts only grow, so the largest of each is the latest truth.
 */
export function absorbTotals(state: ProgressState, totals: ChunkTotals | undefined): ProgressState {
  if (!totals) return state;
  if (
    (state.chunksTotal !== null || totals.chunksTotal === null) &&
    totals.chunksDone <= state.chunksDone &&
    totals.rows <= state.rows &&
    totals.records <= state.records &&
    totals.errorRows <= state.errorRows &&
    totals.bytes <= state.bytesDone
  ) {
    return state;
  }
  return {
    ...state,
    chunksTotal: state.chunksTotal ?? totals.chunksTotal,
    chunksDone: Math.max(state.chunksDone, totals.chunksDone),
    rows: Math.max(state.rows, totals.rows),
    records: Math.max(state.records, totals.records),
    errorRows: Math.max(state.errorRows, totals.errorRows),
    bytesDone: Math.max(state.bytesDone, totals.bytes),
  };
}

/** The public snapshot: what the progress route and socket answer, so the type of its schema. */
export type ProgressSnapshot = ProgressResponse;

export function snapshotOf(state: ProgressState, now = Date.now()): ProgressSnapshot {
  const terminal = isTerminal(state.status);
  const processedBytes =
    state.status === "completed" ? state.totalBytes : Math.min(state.totalBytes, state.headerBytes + state.bytesDone);
  const elapsed = state.startedAt ? ((state.finishedAt ?? now) - state.startedAt) / 1000 : 0;
  const rate = elapsed > 0 && state.records > 0 ? state.records / elapsed : null;
  const byteRate = elapsed > 0 && state.bytesDone > 0 ? state.bytesDone / elapsed : null;
  const remaining = state.totalBytes - processedBytes;
  return {
    status: state.status,
    percent:
      state.status === "completed"
        ? 100
        : state.totalBytes > 0
          ? Math.floor((processedBytes / state.totalBytes) * 1000) / 10
          : 0,
    processed_rows: state.records,
    processed_bytes: processedBytes,
    total_bytes: state.totalBytes,
    rows_per_second: rate === null ? null : Math.round(rate),
    eta_seconds: terminal ? 0 : byteRate === null ? null : Math.ceil(remaining / byteRate),
  };
}

/** Keeps the first `MAX_KEPT_ERRORS` errors by line, whatever order chunks finish in. */
export function mergeErrors(kept: UploadRowError[], incoming: UploadRowError[]): UploadRowError[] {
  if (incoming.length === 0) return kept;
  return [...kept, ...incoming].sort((a, b) => a.line - b.line).slice(0, MAX_KEPT_ERRORS);
}

/** The completion rule: every chunk in, then the error ratio decides completed or failed. */
export function settle(state: ProgressState, now: number): ProgressState {
  if (isTerminal(state.status) || state.chunksTotal === null || state.chunksDone < state.chunksTotal) return state;
  const ratio = state.records > 0 ? state.errorRows / state.records : 0;
  if (ratio > state.maxErrorRatio) {
    const percent = (value: number) => `${Math.round(value * 1000) / 10}%`;
    return {
      ...state,
      status: "failed",
      finishedAt: now,
      error: `${state.errorRows} of ${state.records} records were rejected (${percent(ratio)}), above the allowed ${percent(state.maxErrorRatio)}.`,
    };
  }
  return { ...state, status: "completed", finishedAt: now };
}
