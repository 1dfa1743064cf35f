import { describe, expect, it } from "vitest";
import { progressOf } from "../../src/features/uploads/progress/upload-progress.ts";
import { eventually, testEnv } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import {
  encode,
  finished,
  formUpload,
  type Progress,
  processingWith,
  sampleCsv,
  startPresignedUpload,
} from "../support/uploads.ts";
import { createUser } from "../support/users.ts";

const PROGRESS_FIELDS = [
  "eta_seconds",
  "percent",
  "processed_bytes",
  "processed_rows",
  "rows_per_second",
  "status",
  "total_bytes",
];

/** Opens the progress WebSocket and collects every message until the server closes it. */
async function watch(id: string, token: string, timeoutMs = 50_000) {
  const response = await api(`/csv-data/uploads/${id}/progress/?access_token=${encodeURIComponent(token)}`, {
    headers: { Upgrade: "websocket" },
  });
  expect(response.status).toBe(101);
  const socket = response.webSocket;
  if (!socket) throw new Error("no WebSocket in the 101 response");
  const messages: Progress[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`socket not closed; got ${JSON.stringify(messages.at(-1))}`)),
      timeoutMs,
    );
    socket.addEventListener("message", (event) => {
      messages.push(JSON.parse(String(event.data)) as Progress);
    });
    socket.addEventListener("close", (event) => {
      clearTimeout(timer);
      resolve({ code: event.code, reason: event.reason });
    });
  });
  socket.accept();
  return { messages, closed, socket };
}

describe("upload progress", () => {
  it("REST: live fields while processing, 100% with exact counts at the end", { timeout: 60_000 }, async () => {
    const user = await createUser();
    const text = sampleCsv(60_000);
    const size = new TextEncoder().encode(text).length;
    const upload = await formUpload(user, text);
    await processingWith(user, upload.id, 2);
    const response = await api(`/csv-data/uploads/${upload.id}/progress/`, { token: user.token });
    expect(response.status).toBe(200);
    const live = await json<Progress>(response);
    expect(Object.keys(live).sort()).toEqual(PROGRESS_FIELDS);
    expect(live.status).toBe("processing");
    expect(live.total_bytes).toBe(size);
    expect(live.percent).toBeGreaterThan(0);
    expect(live.percent).toBeLessThan(100);
    expect(live.processed_rows).toBeGreaterThan(0);
    expect(live.processed_bytes).toBeGreaterThan(0);
    expect(live.processed_bytes).toBeLessThan(size);

    await finished(user, upload.id);
    const end = await json<Progress>(await api(`/csv-data/uploads/${upload.id}/progress/`, { token: user.token }));
    expect(end).toMatchObject({
      status: "completed",
      percent: 100,
      processed_rows: 60_000,
      processed_bytes: size,
      total_bytes: size,
      eta_seconds: 0,
    });
    expect(end.rows_per_second).toBeGreaterThan(0);
  });

  it("while processing, the upload's details count every record read, rejected ones included", {
    timeout: 60_000,
  }, async () => {
    const user = await createUser();
    const lines = ["id,name,note"];
    // One record in a hundred has a field too many: rejected, and still read.
    for (let i = 1; i <= 60_000; i++)
      lines.push(`${i},Person ${i},plain ${i} ${"x".repeat(60)}${i % 100 === 0 ? ",extra" : ""}`);
    const upload = await formUpload(user, `${lines.join("\n")}\n`);
    await processingWith(user, upload.id, 2);
    const details = await json<{ status: string; total_rows: number; processed_rows: number; error_rows: number }>(
      await api(`/csv-data/uploads/${upload.id}/`, { token: user.token }),
    );
    expect(details.status).toBe("processing");
    expect(details.error_rows).toBeGreaterThan(0);
    expect(details.processed_rows).toBe(details.total_rows + details.error_rows);
    const done = await finished(user, upload.id);
    expect(done).toMatchObject({ status: "completed", processed_rows: 60_000, total_rows: 59_400, error_rows: 600 });
  });

  it("WebSocket: the current state at once, then progress, then the final state and close", {
    timeout: 60_000,
  }, async () => {
    const user = await createUser();
    const upload = await formUpload(user, sampleCsv(60_000));
    const { messages, closed } = await watch(upload.id, user.token);
    const close = await closed;
    expect(close.code).toBe(1000);
    expect(messages.length).toBeGreaterThan(2);
    expect(Object.keys(messages[0]!).sort()).toEqual(PROGRESS_FIELDS);
    expect(["queued", "processing"]).toContain(messages[0]?.status);
    // Progress in between, never going backwards.
    expect(messages.some((m) => m.status === "processing" && m.percent > 0 && m.percent < 100)).toBe(true);
    for (let i = 1; i < messages.length; i++) {
      expect(messages[i]!.processed_bytes).toBeGreaterThanOrEqual(messages[i - 1]!.processed_bytes);
      expect(messages[i]!.processed_rows).toBeGreaterThanOrEqual(messages[i - 1]!.processed_rows);
    }
    expect(messages.at(-1)).toMatchObject({
      status: "completed",
      percent: 100,
      processed_rows: 60_000,
      eta_seconds: 0,
    });
    expect(messages.filter((m) => m.status === "completed")).toHaveLength(1);
  });

  it("WebSocket on an ended upload: the final state, then close", async () => {
    const user = await createUser();
    const upload = await formUpload(user, "a,b\n1,2\n3,4\n");
    await finished(user, upload.id);
    const { messages, closed } = await watch(upload.id, user.token, 10_000);
    expect((await closed).code).toBe(1000);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ status: "completed", percent: 100, processed_rows: 2 });
  });

  it("WebSocket opened while awaiting the file: stays open and follows the ingestion to its end", {
    timeout: 60_000,
  }, async () => {
    const user = await createUser();
    const text = sampleCsv(2_000);
    const upload = await startPresignedUpload(user, encode(text).length);
    const { messages, closed } = await watch(upload.id, user.token);
    await eventually(async () => (messages.length > 0 ? true : undefined), 5_000);
    expect(messages[0]).toMatchObject({ status: "awaiting_upload", total_bytes: encode(text).length });
    const put = await fetch(upload.upload!.parts[0]!.url, { method: "PUT", body: text });
    expect(put.status).toBe(200);
    const complete = await api(`/csv-data/uploads/${upload.id}/complete/`, {
      token: user.token,
      json: { parts: [{ part_number: 1, etag: put.headers.get("ETag") ?? "" }] },
    });
    expect(complete.status).toBe(202);
    expect((await closed).code).toBe(1000);
    // It stayed open while the client sent the file: the same socket carried every later state.
    expect(messages.slice(1).some((m) => m.status === "queued" || m.status === "processing")).toBe(true);
    expect(messages.at(-1)).toMatchObject({ status: "completed", percent: 100, processed_rows: 2_000 });
  });

  it("WebSocket opened while awaiting the file: a rejected file or a cancel is its final state", async () => {
    const user = await createUser();
    const bad = "\u0000\u0001binary";
    const rejected = await startPresignedUpload(user, encode(bad).length);
    const first = await watch(rejected.id, user.token, 20_000);
    await eventually(async () => (first.messages.length > 0 ? true : undefined), 5_000);
    const put = await fetch(rejected.upload!.parts[0]!.url, { method: "PUT", body: bad });
    const complete = await api(`/csv-data/uploads/${rejected.id}/complete/`, {
      token: user.token,
      json: { parts: [{ part_number: 1, etag: put.headers.get("ETag") ?? "" }] },
    });
    expect(complete.status).toBe(422);
    expect((await first.closed).code).toBe(1000);
    expect(first.messages.map((m) => m.status)).toEqual(["awaiting_upload", "rejected"]);

    const cancelled = await startPresignedUpload(user, 100);
    const second = await watch(cancelled.id, user.token, 20_000);
    await eventually(async () => (second.messages.length > 0 ? true : undefined), 5_000);
    const cancel = await api(`/csv-data/uploads/${cancelled.id}/cancel/`, { method: "POST", token: user.token });
    expect(cancel.status).toBe(202);
    expect((await second.closed).code).toBe(1000);
    expect(second.messages.map((m) => m.status)).toEqual(["awaiting_upload", "cancelled"]);
  });

  it("WebSocket whose upgrade arrives just after the upload ended while awaiting its file: that end, then close", async () => {
    const user = await createUser();
    const upload = await startPresignedUpload(user, 100);
    // The order a cancel racing the upgrade can produce: the API read `awaiting_upload`, then the
    // cancel told the progress object, then the upgrade reached it.
    await progressOf(testEnv, upload.id).endedBeforeIngestion({
      status: "cancelled",
      percent: 0,
      processed_rows: 0,
      processed_bytes: 0,
      total_bytes: 100,
      rows_per_second: null,
      eta_seconds: 0,
    });
    const { messages, closed } = await watch(upload.id, user.token, 10_000);
    expect((await closed).code).toBe(1000);
    expect(messages.map((m) => m.status)).toEqual(["cancelled"]);
  });

  it("needs the owner's token: none → 401, another user's → 404", async () => {
    const user = await createUser();
    const other = await createUser();
    const upload = await formUpload(user, "a,b\n1,2\n");
    const anonymous = await api(`/csv-data/uploads/${upload.id}/progress/`, { headers: { Upgrade: "websocket" } });
    expect(anonymous.status).toBe(401);
    const foreign = await api(`/csv-data/uploads/${upload.id}/progress/?access_token=${other.token}`, {
      headers: { Upgrade: "websocket" },
    });
    expect(foreign.status).toBe(404);
    expect((await api(`/csv-data/uploads/${upload.id}/progress/`, { token: other.token })).status).toBe(404);
  });
});
