/**
 * The CLI uploader (`npm run upload`) as a user runs it: from their own folder through npm, and
 * following the progress WebSocket of a server that closes it after the final state.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/postgres.ts";
import { followProgress, type Progress } from "../../scripts/lib/upload-client.ts";

const REPO = path.resolve(import.meta.dirname, "../..");

function runNpmUpload(cwd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("npm", ["--prefix", REPO, "run", "--silent", "upload", "--", ...args], { cwd });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe("npm run upload from another folder", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "edge-tasks-caller-"));
    writeFileSync(path.join(dir, "empty.csv"), "");
    writeFileSync(path.join(dir, "rows.csv"), "a,b\n1,2\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("says an empty file is empty, naming the file in the caller's folder", async () => {
    const { code, stderr } = await runNpmUpload(dir, ["empty.csv", "--token", "unused"]);
    expect(code).toBe(1);
    expect(stderr).toContain(`${path.join(dir, "empty.csv")} is empty: there is nothing to upload.`);
    expect(stderr).not.toContain("size_bytes");
  });

  it("finds a relative path in the caller's folder, not the project's", async () => {
    // Nothing listens on the API port: the run gets as far as calling the API with the file.
    const api = `http://127.0.0.1:${await freePort()}`;
    const { code, stderr } = await runNpmUpload(dir, ["rows.csv", "--token", "unused", "--api", api]);
    expect(code).toBe(1);
    expect(stderr).not.toContain("no such file");
    expect(stderr).toContain("upload failed: fetch failed");
  });
});

/** A WebSocket frame from the server (unmasked, unfragmented). */
function frame(opcode: number, payload: Buffer): Buffer {
  if (payload.length < 126) return Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);
  const head = Buffer.from([0x80 | opcode, 126, 0, 0]);
  head.writeUInt16BE(payload.length, 2);
  return Buffer.concat([head, payload]);
}

/**
 * A progress endpoint that behaves like the local Workers runtime: it sends the states, then the
 * close frame (1000, "final state"), and keeps the TCP connection open for a long while after.
 */
function progressServer(states: Partial<Progress>[]): Promise<{ origin: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  // Half-open allowed: the client's FIN after the close handshake does not end the server's side.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    let head = "";
    socket.on("data", (chunk: Buffer) => {
      if (head.includes("\r\n\r\n")) return; // the client's own frames (its close reply)
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? "";
      const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      for (const state of states) socket.write(frame(0x1, Buffer.from(JSON.stringify(state))));
      const code = Buffer.from([0x03, 0xe8]);
      socket.write(frame(0x8, Buffer.concat([code, Buffer.from("final state")])));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      resolve({
        origin: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

describe("following the progress WebSocket", () => {
  it("ends as soon as the final state arrives, without waiting for the connection to go away", async () => {
    const states: Partial<Progress>[] = [
      { status: "processing", percent: 50, processed_rows: 5 },
      { status: "completed", percent: 100, processed_rows: 10 },
    ];
    const server = await progressServer(states);
    try {
      const seen: string[] = [];
      const started = Date.now();
      const final = await followProgress({ api: server.origin, token: "t" }, "u1", {
        onProgress: (p) => seen.push(p.status),
      });
      expect(Date.now() - started).toBeLessThan(2000);
      expect(final).toMatchObject({ status: "completed", processed_rows: 10 });
      expect(seen).toEqual(["processing", "completed"]);
    } finally {
      await server.close();
    }
  }, 15_000);
});
