/**
 * The scripts' API client against a real local HTTP server: a 429 is waited out as long as its
 * Retry-After says and the same request sent again; after the last try the 429 reaches the caller.
 */
import { createServer, type IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError, login, retryAfterSeconds } from "../../scripts/lib/api.ts";
import { serveOnLoopback } from "../../scripts/lib/listen.ts";

interface Seen {
  at: number;
  body: string;
}

/** A login endpoint that answers 429 (with `retryAfter`) to the first `limited` requests, then a token. */
async function limitedLogin(limited: number, retryAfter: string) {
  const seen: Seen[] = [];
  const read = (request: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let body = "";
      request.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on("end", () => resolve(body));
    });
  const server = createServer(async (request, response) => {
    seen.push({ at: Date.now(), body: await read(request) });
    response.setHeader("Content-Type", "application/json");
    if (seen.length <= limited) {
      response.writeHead(429, { "Retry-After": retryAfter });
      response.end(JSON.stringify({ detail: "Too many requests." }));
      return;
    }
    response.end(JSON.stringify({ access_token: "token-1" }));
  });
  const { url, close } = await serveOnLoopback(server);
  return { origin: url, seen, close };
}

let close: (() => Promise<unknown>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe("the scripts' API client on a 429", () => {
  it("waits as long as Retry-After says, then sends the same request again", async () => {
    const server = await limitedLogin(1, "1");
    close = server.close;
    const waits: number[] = [];
    const session = await login(server.origin, "ada@example.com", "pw", { onRateLimited: (s) => waits.push(s) });
    expect(session).toEqual({ api: server.origin, token: "token-1" });
    expect(waits).toEqual([1]);
    expect(server.seen).toHaveLength(2);
    const [first, second] = server.seen;
    expect(second?.body).toBe(first?.body);
    expect(JSON.parse(second?.body ?? "")).toEqual({ email: "ada@example.com", password: "pw" });
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it("hands the 429 to the caller once its tries are used up", async () => {
    const server = await limitedLogin(2, "0");
    close = server.close;
    const failure = await login(server.origin, "ada@example.com", "pw", { attempts: 2 }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).toMatchObject({ status: 429, detail: "Too many requests." });
    expect(server.seen).toHaveLength(2);
  });

  it("succeeds on the last try when only the tries before it were limited", async () => {
    const server = await limitedLogin(1, "0");
    close = server.close;
    await expect(login(server.origin, "ada@example.com", "pw", { attempts: 2 })).resolves.toMatchObject({
      token: "token-1",
    });
  });
});

describe("Retry-After", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  it("is read as seconds or as an HTTP date", () => {
    expect(retryAfterSeconds("7", now)).toBe(7);
    expect(retryAfterSeconds("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30);
    expect(retryAfterSeconds("Wed, 31 Dec 2025 23:59:00 GMT", now)).toBe(0);
  });
  it("is ignored when absent or unreadable", () => {
    expect(retryAfterSeconds(null, now)).toBeNull();
    expect(retryAfterSeconds("", now)).toBeNull();
    expect(retryAfterSeconds("soon", now)).toBeNull();
  });
});
