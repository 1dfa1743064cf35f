/**
 * One Durable Object per upload: the single writer of its live ingestion progress. Chunk
 * consumers report here; because a Durable Object handles one call at a time, exactly one report
 * sees "all chunks done" and settles the upload, with no race between consumers. State is kept in
 * the object's SQLite-backed storage, so eviction loses nothing; WebSockets use the Hibernation
 * API, so watchers survive eviction too.
 */
import { DurableObject } from "cloudflare:workers";
import type { UploadStatus } from "../../../platform/db/schema.ts";
import {
  absorbTotals,
  type ChunkReport,
  type ChunkTotals,
  initialState,
  isTerminal,
  mergeErrors,
  type ProgressInit,
  type ProgressSnapshot,
  type ProgressState,
  settle,
  snapshotOf,
} from "./progress-state.ts";
import type { ReconcileMessage } from "./reconcile-message.ts";

const STATE = "state";
/** The final snapshot of an upload that ended before its ingestion began (no `STATE` then). */
const ENDED_EARLY = "ended-before-ingestion";
/**
 * Set by the API (never taken from a client) on a WebSocket upgrade for an upload still awaiting
 * its file: the snapshot to send first, since the object holds no state before the file is accepted.
 */
export const AWAITING_SNAPSHOT_HEADER = "X-Upload-Awaiting-Snapshot";
/**
 * While an upload runs, its object asks the ingest queue this often to reconcile it with Postgres
 * (features/uploads/ingest/reconcile.ts): a watchdog for a settling report lost for good. Harmless when the upload
 * is merely slow: it settles only once every chunk is committed.
 */
export const WATCHDOG_MS = 60_000;
const chunkKey = (index: number) => `chunk:${index}`;

export class UploadProgress extends DurableObject<Env> {
  /** Liveness probe used by the health check. */
  async ping(): Promise<"pong"> {
    return "pong";
  }

  /** Called when the file is accepted. Idempotent: an existing state is kept. */
  async init(init: ProgressInit): Promise<ProgressState> {
    const existing = await this.load();
    if (existing) return existing;
    return this.save(initialState(init));
  }

  /**
   * Rebuilds a lost state (its storage was reset) from what Postgres knows: the upload's plan and
   * its committed chunks' totals. Does not settle; the caller's next report or `planned` does.
   * Errors kept by the lost state are not recoverable (Postgres keeps no per-chunk errors).
   */
  async restore(
    init: ProgressInit,
    plan: { startedAt: number; chunksTotal: number | null },
    totals: ChunkTotals,
  ): Promise<ProgressState> {
    const existing = await this.load();
    if (existing) return existing;
    return this.save(absorbTotals({ ...initialState(init), status: "processing", ...plan }, totals));
  }

  async markProcessing(startedAt: number): Promise<ProgressState | null> {
    const state = await this.load();
    if (state?.status !== "queued") return state;
    return this.save({ ...state, status: "processing", startedAt });
  }

  /**
   * The planner found every chunk; with zero chunks (header only) this settles at once. `totals`
   * covers chunks that finished while planning was still going on.
   */
  async planned(chunksTotal: number, totals?: ChunkTotals): Promise<ProgressState | null> {
    const state = await this.load();
    if (!state || isTerminal(state.status)) return state;
    return this.save(settle(absorbTotals({ ...state, chunksTotal }, totals), Date.now()));
  }

  /**
   * A chunk's rows are committed. The counts come from `totals`, Postgres's own sums over every
   * committed chunk taken after this chunk's commit: the largest snapshot seen is exact, so counts
   * can neither drift from the database nor stall on a lost report. The report itself contributes
   * its sample of rejected lines, once per chunk.
   */
  async chunkDone(report: ChunkReport, totals: ChunkTotals): Promise<ProgressState | null> {
    const state = await this.load();
    if (!state || isTerminal(state.status)) return state;
    let next = state;
    if (report.errors.length > 0 && !(await this.ctx.storage.get(chunkKey(report.index)))) {
      await this.ctx.storage.put(chunkKey(report.index), true);
      next = { ...state, errors: mergeErrors(state.errors, report.errors) };
    }
    next = absorbTotals(next, totals);
    if (next === state) return state;
    return this.save(settle(next, Date.now()));
  }

  /**
   * The watchdog's answer: Postgres's totals, and the status Postgres persisted. Settles when every
   * chunk is committed; adopts an end Postgres already recorded (a report of it never arrived);
   * counts the rounds in a row in which no chunk finished (`stalledRounds`).
   */
  async reconcile(
    totals: ChunkTotals,
    persisted: { status: UploadStatus; error: string | null },
  ): Promise<ProgressState | null> {
    const state = await this.load();
    if (!state || isTerminal(state.status)) return state;
    let next = settle(absorbTotals(state, totals), Date.now());
    if (!isTerminal(next.status) && isTerminal(persisted.status)) {
      next = { ...next, status: persisted.status, error: persisted.error, finishedAt: Date.now() };
    }
    const stalled = next.chunksDone === state.watchdogChunksDone;
    return this.save({
      ...next,
      watchdogChunksDone: next.chunksDone,
      stalledRounds: stalled ? (state.stalledRounds ?? 0) + 1 : 0,
    });
  }

  /** Ends the upload as failed or cancelled unless it already ended. */
  async end(
    status: Extract<UploadStatus, "failed" | "cancelled">,
    error: string | null,
  ): Promise<ProgressState | null> {
    const state = await this.load();
    if (!state || isTerminal(state.status)) return state;
    return this.save({ ...state, status, error, finishedAt: Date.now() });
  }

  async snapshot(): Promise<ProgressSnapshot | null> {
    const state = await this.load();
    return state ? snapshotOf(state) : null;
  }

  async state(): Promise<ProgressState | null> {
    return this.load();
  }

  /** Forgets everything (the upload was deleted); open sockets are closed. */
  async reset(): Promise<void> {
    for (const socket of this.ctx.getWebSockets()) socket.close(1000, "upload deleted");
    await this.ctx.storage.deleteAll();
  }

  /**
   * WebSocket upgrade: the current state at once, then every change; closed after the final state.
   * An upload awaiting its file is not over: its watcher gets the awaiting snapshot and stays,
   * and follows the ingestion from the moment the file is accepted (`init`).
   */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const state = await this.load();
    // The upload may have ended between the API's read of it and this call.
    const endedEarly = state ? undefined : await this.ctx.storage.get<ProgressSnapshot>(ENDED_EARLY);
    const awaiting = request.headers.get(AWAITING_SNAPSHOT_HEADER);
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    if (state) server.send(JSON.stringify(snapshotOf(state)));
    else if (endedEarly) server.send(JSON.stringify(endedEarly));
    else if (awaiting) server.send(awaiting);
    if (state ? isTerminal(state.status) : endedEarly || !awaiting) server.close(1000, "final state");
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * The upload ended before its ingestion began (its file rejected, or cancelled while awaiting
   * it), so this object never held a state: its watchers get that final snapshot and are closed.
   */
  async endedBeforeIngestion(snapshot: ProgressSnapshot): Promise<void> {
    if (await this.load()) return;
    // Kept for a watcher whose upgrade is already on its way here.
    await this.ctx.storage.put(ENDED_EARLY, snapshot);
    const message = JSON.stringify(snapshot);
    for (const socket of this.ctx.getWebSockets()) {
      try {
        socket.send(message);
        socket.close(1000, "final state");
      } catch {
        // A socket that went away is not an error for the writer.
      }
    }
  }

  override async webSocketMessage(socket: WebSocket): Promise<void> {
    // Any message from a watcher is answered with the current state (a cheap "refresh").
    const state = await this.load();
    if (state) socket.send(JSON.stringify(snapshotOf(state)));
  }

  override async webSocketClose(socket: WebSocket, code: number): Promise<void> {
    try {
      socket.close(code === 1005 ? 1000 : code, "closed");
    } catch {
      // Already closed by the runtime.
    }
  }

  private async load(): Promise<ProgressState | null> {
    return (await this.ctx.storage.get<ProgressState>(STATE)) ?? null;
  }

  /** Every round the upload is still running, the queue is asked to settle it from Postgres. */
  override async alarm(): Promise<void> {
    const state = await this.load();
    if (!state?.uploadId || isTerminal(state.status)) return;
    await this.env.INGEST_QUEUE.send({ kind: "reconcile", uploadId: state.uploadId } satisfies ReconcileMessage);
    await this.ctx.storage.setAlarm(Date.now() + WATCHDOG_MS);
  }

  private async save(state: ProgressState): Promise<ProgressState> {
    await this.ctx.storage.put(STATE, state);
    if (isTerminal(state.status)) await this.ctx.storage.deleteAlarm();
    else if (state.uploadId && (await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(Date.now() + WATCHDOG_MS);
    }
    this.broadcast(state);
    return state;
  }

  private broadcast(state: ProgressState): void {
    const sockets = this.ctx.getWebSockets();
    if (sockets.length === 0) return;
    const message = JSON.stringify(snapshotOf(state));
    const terminal = isTerminal(state.status);
    for (const socket of sockets) {
      try {
        socket.send(message);
        if (terminal) socket.close(1000, "final state");
      } catch {
        // A socket that went away is not an error for the writer.
      }
    }
  }
}

/** The progress object of an upload. */
export function progressOf(env: Env, uploadId: string): DurableObjectStub<UploadProgress> {
  return env.UPLOAD_PROGRESS.get(env.UPLOAD_PROGRESS.idFromName(uploadId));
}
