/**
 * The CSV upload calls of the scripts' API client, shared by the CLI uploader and the benchmarks.
 * File bytes go straight to R2 through the presigned part URLs and are streamed from disk slice by
 * slice, so a 400 MB file never sits in memory.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";
import { isTerminal } from "../../src/features/uploads/progress/progress-state.ts";
import { ApiError, ok, type Schemas, type Session, sessionClient } from "./api.ts";

export { login } from "./api.ts";
export { ApiError, isTerminal, type Session };

export type UploadDetails = Schemas["Upload"];
export type UploadStatus = UploadDetails["status"];
export type CreatedUpload = Schemas["CreatedUpload"];
export type UploadPlan = CreatedUpload["upload"];
/** What the progress route and WebSocket send. */
export type Progress = Schemas["UploadProgress"];
export type CompletedPart = Schemas["CompleteUpload"]["parts"][number];

/** Announces an upload of `sizeBytes`; the answer says where to PUT each part. */
export async function createUpload(session: Session, filename: string, sizeBytes: number): Promise<CreatedUpload> {
  const created = await ok(
    sessionClient(session).POST("/api/v1/csv-data/uploads/", { body: { filename, size_bytes: sizeBytes } }),
  );
  // A JSON announcement is answered with the part URLs; only a form upload is answered without.
  if (!("upload" in created)) throw new ApiError(201, "the announced upload came back without its part URLs");
  return created;
}

export function completeUpload(session: Session, id: string, parts: CompletedPart[]): Promise<UploadDetails> {
  return ok(
    sessionClient(session).POST("/api/v1/csv-data/uploads/{id}/complete/", {
      params: { path: { id } },
      body: { parts },
    }),
  );
}

export function cancelUpload(session: Session, id: string): Promise<UploadDetails> {
  return ok(sessionClient(session).POST("/api/v1/csv-data/uploads/{id}/cancel/", { params: { path: { id } } }));
}

export function getUpload(session: Session, id: string): Promise<UploadDetails> {
  return ok(sessionClient(session).GET("/api/v1/csv-data/uploads/{id}/", { params: { path: { id } } }));
}

export function getProgress(session: Session, id: string): Promise<Progress> {
  return ok(sessionClient(session).GET("/api/v1/csv-data/uploads/{id}/progress/", { params: { path: { id } } }));
}

/** Byte range [start, end) of one part in the file. */
export function partRange(plan: UploadPlan, partNumber: number, fileSize: number): { start: number; end: number } {
  const start = (partNumber - 1) * plan.part_size;
  return { start, end: Math.min(fileSize, start + plan.part_size) };
}

/**
 * PUTs one slice of the file to a presigned URL, streaming it from disk. node:http rather than
 * fetch: S3 wants an explicit Content-Length (fetch would send a streamed body chunked), and
 * counting bytes as the socket takes them gives a live progress figure.
 */
export function putPart(
  url: string,
  file: string,
  range: { start: number; end: number },
  onBytes: (delta: number) => void,
  signal?: AbortSignal,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const transport = target.protocol === "https:" ? https : http;
    let sent = 0;
    const req = transport.request(
      target,
      { method: "PUT", headers: { "Content-Length": String(range.end - range.start) }, signal },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const etag = response.headers.etag;
          if (response.statusCode === 200 && etag) return resolve(etag);
          onBytes(-sent);
          const body = Buffer.concat(chunks).toString("utf8").slice(0, 300);
          reject(new Error(`PUT part answered ${response.statusCode}${etag ? "" : " without an ETag"}: ${body}`));
        });
        response.on("error", (error) => {
          onBytes(-sent);
          reject(error);
        });
      },
    );
    req.on("error", (error) => {
      // The attempt is void: take its bytes back off the progress so a retry does not count twice.
      onBytes(-sent);
      reject(error);
    });
    if (range.end === range.start) {
      req.end();
      return;
    }
    const stream = createReadStream(file, { start: range.start, end: range.end - 1 });
    stream.on("data", (chunk) => {
      sent += chunk.length;
      onBytes(chunk.length);
    });
    stream.on("error", (error) => req.destroy(error));
    stream.pipe(req);
  });
}

export interface PartUploadOptions {
  /** Parts in flight at once. */
  concurrency?: number;
  /** Tries per part, the first included. */
  attempts?: number;
  /** Delay before the first retry; doubles each time. */
  backoffMs?: number;
  onBytes?: (delta: number) => void;
  onRetry?: (partNumber: number, attempt: number, error: unknown) => void;
  signal?: AbortSignal;
}

/** Uploads every part of the plan, a few at a time, retrying each with exponential backoff. */
export async function uploadParts(
  plan: UploadPlan,
  file: string,
  fileSize: number,
  options: PartUploadOptions = {},
): Promise<CompletedPart[]> {
  const concurrency = options.concurrency ?? 4;
  const attempts = options.attempts ?? 3;
  const backoffMs = options.backoffMs ?? 500;
  const onBytes = options.onBytes ?? (() => {});
  const queue = [...plan.parts];
  const done: CompletedPart[] = [];
  // One part failing for good stops the others: the upload cannot complete without it.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;

  async function uploadOne(part: { part_number: number; url: string }): Promise<void> {
    const range = partRange(plan, part.part_number, fileSize);
    for (let attempt = 1; ; attempt++) {
      try {
        const etag = await putPart(part.url, file, range, onBytes, signal);
        done.push({ part_number: part.part_number, etag });
        return;
      } catch (error) {
        if (signal.aborted) throw error;
        if (attempt >= attempts) {
          stop.abort();
          throw error;
        }
        options.onRetry?.(part.part_number, attempt, error);
        await sleep(backoffMs * 2 ** (attempt - 1));
      }
    }
  }

  async function worker(): Promise<void> {
    for (let part = queue.shift(); part; part = queue.shift()) await uploadOne(part);
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, plan.parts.length) }, worker));
  return done.sort((a, b) => a.part_number - b.part_number);
}

export interface FollowOptions {
  onProgress: (progress: Progress) => void;
  /** Reconnects after an unexpected close before falling back to polling the JSON endpoint. */
  reconnects?: number;
  pollMs?: number;
}

/** Resolves with the terminal state. The WebSocket is the live feed; polling is the fallback. */
export async function followProgress(session: Session, id: string, options: FollowOptions): Promise<Progress> {
  const wsUrl = new URL(`${session.api.replace(/\/+$/, "")}/api/v1/csv-data/uploads/${id}/progress/`);
  wsUrl.protocol = wsUrl.protocol === "https:" ? "wss:" : "ws:";
  // Browsers cannot set headers on a WebSocket, so the API takes the token in the query; so do we,
  // to exercise the same path.
  wsUrl.searchParams.set("access_token", session.token);

  let reconnects = options.reconnects ?? 3;
  for (;;) {
    const last = await watchOnce(wsUrl.toString(), options.onProgress).catch(() => null);
    if (last && isTerminal(last.status)) return last;
    if (reconnects-- <= 0) break;
    await sleep(500);
  }
  for (;;) {
    const progress = await getProgress(session, id);
    options.onProgress(progress);
    if (isTerminal(progress.status)) return progress;
    await sleep(options.pollMs ?? 1000);
  }
}

/** After the final state, how long the close handshake may take before the socket is dropped. */
const CLOSE_GRACE_MS = 500;

/**
 * One WebSocket session. Resolves as soon as the final state arrives: the server closes the socket
 * right after it, but a runtime may keep the TCP connection open for seconds after the close
 * frames (wrangler dev does, about 10 s), and nothing the caller needs comes after the final state.
 * Otherwise resolves with the last state seen when the socket closes.
 */
export function watchOnce(url: string, onProgress: (progress: Progress) => void): Promise<Progress | null> {
  return new Promise((resolve, reject) => {
    let last: Progress | null = null;
    const socket = new WebSocket(url);
    socket.on("message", (data) => {
      last = JSON.parse(data.toString()) as Progress;
      onProgress(last);
      if (!isTerminal(last.status)) return;
      resolve(last);
      socket.close(1000);
      const drop = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
      socket.once("close", () => clearTimeout(drop));
    });
    socket.on("unexpected-response", (_request, response) => {
      reject(new ApiError(response.statusCode ?? 0, `WebSocket upgrade refused (${response.statusCode})`));
      socket.terminate();
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(last));
  });
}

/**
 * The file a user named on the command line. `npm run` starts scripts in the project folder, so a
 * relative path is taken from the folder npm was called from ($INIT_CWD), as the user meant it.
 */
export function resolveUserPath(file: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return path.resolve(env.INIT_CWD ?? cwd, file);
}

/** Checks the file before anything is created on the server; the errors name the file, not a field. */
export async function checkUploadFile(file: string): Promise<{ size: number }> {
  const info = await stat(file).catch(() => null);
  if (!info) throw new Error(`${file}: no such file.`);
  if (!info.isFile()) throw new Error(`${file} is not a file.`);
  if (info.size === 0) throw new Error(`${file} is empty: there is nothing to upload.`);
  return { size: info.size };
}
