/**
 * Browser side of a CSV upload: create the upload, PUT each slice of the file straight to R2
 * through its presigned URL (the bytes never pass through the Worker), complete it, then follow
 * ingestion over the progress WebSocket.
 */
import { API, api, session } from "./api.js";

const TERMINAL = new Set(["completed", "failed", "cancelled", "rejected"]);
export const isTerminal = (status) => TERMINAL.has(status);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One part. XHR rather than fetch: only XHR reports upload progress. R2 answers with the part's
 * ETag, which `complete` needs (in production the bucket's CORS rules must expose `ETag`).
 * @param {string} url
 * @param {Blob} blob
 * @param {(loaded: number) => void} onLoaded bytes of this attempt sent so far
 * @param {AbortSignal} signal
 * @returns {Promise<string>}
 */
function putPart(url, blob, onLoaded, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.upload.onprogress = (event) => onLoaded(event.loaded);
    xhr.onload = () => {
      const etag = xhr.getResponseHeader("ETag");
      if (xhr.status === 200 && etag) resolve(etag);
      else reject(new Error(`Storage answered ${xhr.status}${etag ? "" : " without an ETag"} for a part.`));
    };
    xhr.onerror = () => reject(new Error("Network error while sending a part."));
    xhr.onabort = () => reject(new DOMException("Upload cancelled.", "AbortError"));
    signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(blob);
  });
}

/**
 * Uploads a file and completes it. Resolves with the upload's details after `complete` (202);
 * a file the server rejects throws its 422 detail.
 * @param {File} file
 * @param {{ onCreated?: (upload: object) => void, onBytes: (sent: number, total: number) => void,
 *           signal: AbortSignal, concurrency?: number, attempts?: number }} options
 */
export async function uploadFile(file, options) {
  const created = await api("/csv-data/uploads/", { json: { filename: file.name, size_bytes: file.size } });
  options.onCreated?.(created);
  const { part_size: partSize, parts } = created.upload;
  // Bytes sent per part in its current attempt; a retry restarts its count from zero.
  const loaded = new Map();
  const report = () => {
    let sent = 0;
    for (const value of loaded.values()) sent += value;
    options.onBytes(Math.min(sent, file.size), file.size);
  };
  const queue = [...parts];
  const done = [];
  const attempts = options.attempts ?? 3;

  async function one(part) {
    const blob = file.slice((part.part_number - 1) * partSize, Math.min(file.size, part.part_number * partSize));
    for (let attempt = 1; ; attempt++) {
      try {
        const etag = await putPart(
          part.url,
          blob,
          (bytes) => {
            loaded.set(part.part_number, bytes);
            report();
          },
          options.signal,
        );
        loaded.set(part.part_number, blob.size);
        report();
        done.push({ part_number: part.part_number, etag });
        return;
      } catch (error) {
        loaded.set(part.part_number, 0);
        report();
        if (options.signal.aborted || attempt >= attempts) throw error;
        await sleep(500 * 2 ** (attempt - 1));
      }
    }
  }
  async function worker() {
    for (let part = queue.shift(); part; part = queue.shift()) await one(part);
  }
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, parts.length) }, worker));
  done.sort((a, b) => a.part_number - b.part_number);
  return api(`/csv-data/uploads/${created.id}/complete/`, { json: { parts: done } });
}

/**
 * Follows ingestion until a terminal state: the WebSocket first (it pushes every change), and
 * polling the JSON endpoint if the socket cannot be opened or drops before the end.
 * @param {string} id
 * @param {(progress: object) => void} onProgress
 * @returns {Promise<object>} the terminal progress
 */
export async function watchProgress(id, onProgress) {
  const path = `${API}/csv-data/uploads/${id}/progress/`;
  const last = await new Promise((resolve) => {
    const url = new URL(path, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    // Browsers cannot put headers on a WebSocket: the API takes the token in the query instead.
    url.searchParams.set("access_token", session.token ?? "");
    let latest = null;
    const socket = new WebSocket(url);
    socket.onmessage = (event) => {
      latest = JSON.parse(event.data);
      onProgress(latest);
      if (isTerminal(latest.status)) socket.close(1000);
    };
    socket.onclose = () => resolve(latest);
  });
  if (last && isTerminal(last.status)) return last;
  for (;;) {
    const progress = await api(`/csv-data/uploads/${id}/progress/`);
    onProgress(progress);
    if (isTerminal(progress.status)) return progress;
    await sleep(1000);
  }
}
