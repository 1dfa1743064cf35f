/**
 * The HTTP side of `bench:load`: one `send` that never throws (a network failure is status 0, so
 * it is counted rather than ending a client), a per-user pacer that keeps each account under the
 * API's rate limit, and the recorder that keeps every measured request's latency and status.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { percentile } from "./bench-stats.ts";

export interface Reply {
  /** HTTP status, or 0 when no response arrived (connection error, timeout). */
  status: number;
  ms: number;
  text: string;
  headers: Headers;
}

export interface SendOptions {
  method?: string;
  token?: string;
  json?: unknown;
  form?: FormData;
  accept?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** A fresh address in 198.18.0.0/15 (benchmarking range) per auth request, as `clientIp` in test/support/http.ts does. */
export function clientIp(): string {
  const part = () => Math.floor(Math.random() * 254) + 1;
  return `198.18.${part()}.${part()}`;
}

/** `path` is under /api/v1 unless it starts with `//` (then it is taken from the origin's root). */
export function apiUrl(origin: string, path: string): string {
  return path.startsWith("//") ? `${origin}${path.slice(1)}` : `${origin}/api/v1${path}`;
}

/**
 * Node's fetch (undici) keeps connections alive per origin, so 50 clients reuse about 50 sockets.
 * Latency is measured from the call to the last byte of the body.
 */
export async function send(origin: string, path: string, options: SendOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { Accept: options.accept ?? "application/json", ...options.headers };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let body: string | FormData | undefined;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = options.form;
  }
  const started = performance.now();
  try {
    const response = await fetch(apiUrl(origin, path), {
      method: options.method ?? (body === undefined ? "GET" : "POST"),
      headers,
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
    const text = await response.text();
    return { status: response.status, ms: performance.now() - started, text, headers: response.headers };
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : "";
    const message = error instanceof Error ? `${error.name}: ${error.message}${cause}` : String(error);
    return { status: 0, ms: performance.now() - started, text: message, headers: new Headers() };
  }
}

export function parseJson<T>(reply: Reply): T {
  return JSON.parse(reply.text) as T;
}

/**
 * Client-side guard for the per-user limit (600 requests per 60 s, counted by the local limiter
 * in wall-clock-aligned windows): a sliding window of `limit` stamps. Any 60 s window then holds at
 * most `limit` requests, whatever its alignment, so a 429 can only mean the server miscounted.
 */
export class Pacer {
  private readonly stamps: number[] = [];
  private readonly limit: number;
  private readonly windowMs: number;
  /** Time spent waiting for a slot (never part of a measured latency). */
  waitedMs = 0;
  waits = 0;

  constructor(limit: number, windowMs: number) {
    this.limit = limit;
    this.windowMs = windowMs;
  }

  private prune(now: number): void {
    while (this.stamps.length > 0 && (this.stamps[0] ?? 0) <= now - this.windowMs) this.stamps.shift();
  }

  /** Whether a slot is free right now (takes none). */
  hasRoom(): boolean {
    this.prune(Date.now());
    return this.stamps.length < this.limit;
  }

  /** Takes a slot if one is free right now. */
  tryTake(): boolean {
    const now = Date.now();
    this.prune(now);
    if (this.stamps.length >= this.limit) return false;
    this.stamps.push(now);
    return true;
  }

  /** Takes a slot, waiting for one if needed. */
  async take(): Promise<void> {
    for (;;) {
      if (this.tryTake()) return;
      const wait = (this.stamps[0] ?? Date.now()) + this.windowMs - Date.now() + 5;
      this.waits++;
      this.waitedMs += wait;
      await sleep(wait);
    }
  }
}

export interface OpStats {
  times: number[];
  statuses: Map<number, number>;
  /** Answers with a status the operation does not expect (network failures included). */
  errors: number;
  /** The unexpected answers by status (0: no answer). */
  errorStatuses: Map<number, number>;
  cache: Map<string, number>;
  /** The first few unexpected answers, to diagnose them. */
  samples: string[];
}

/** A correctness check that failed while the load ran (a stale cached answer, say). */
export interface Anomaly {
  op: string;
  detail: string;
}

/** Keeps every measured request. Only requests issued inside the measured window are recorded. */
export class Recorder {
  readonly ops = new Map<string, OpStats>();
  readonly anomalies: Anomaly[] = [];
  private readonly allTimes: number[] = [];

  /** Records one answer; true when its status was expected. */
  record(op: string, path: string, reply: Reply, expected: readonly number[]): boolean {
    let stats = this.ops.get(op);
    if (!stats) {
      stats = { times: [], statuses: new Map(), errors: 0, errorStatuses: new Map(), cache: new Map(), samples: [] };
      this.ops.set(op, stats);
    }
    stats.times.push(reply.ms);
    this.allTimes.push(reply.ms);
    stats.statuses.set(reply.status, (stats.statuses.get(reply.status) ?? 0) + 1);
    const cache = reply.headers.get("X-Cache");
    if (cache) stats.cache.set(cache, (stats.cache.get(cache) ?? 0) + 1);
    const ok = expected.includes(reply.status);
    if (!ok) {
      stats.errors++;
      stats.errorStatuses.set(reply.status, (stats.errorStatuses.get(reply.status) ?? 0) + 1);
      if (stats.samples.length < 5) {
        const id = reply.headers.get("X-Request-Id");
        stats.samples.push(
          `${reply.status} ${path}${id ? ` [X-Request-Id ${id}]` : ""}: ${reply.text.slice(0, 300).replace(/\s+/g, " ")}`,
        );
      }
    }
    return ok;
  }

  anomaly(op: string, detail: string): void {
    this.anomalies.push({ op, detail });
  }

  get total(): number {
    return this.allTimes.length;
  }

  /** Overall percentiles of every recorded request. */
  latency(): { p50: number; p95: number; p99: number; max: number } {
    const sorted = [...this.allTimes].sort((a, b) => a - b);
    return {
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: sorted.at(-1) ?? Number.NaN,
    };
  }

  /** Counts by status over every operation: all answers, or only the unexpected ones. */
  statuses(which: "all" | "errors" = "all"): Map<number, number> {
    const all = new Map<number, number>();
    for (const stats of this.ops.values()) {
      const source = which === "all" ? stats.statuses : stats.errorStatuses;
      for (const [status, n] of source) all.set(status, (all.get(status) ?? 0) + n);
    }
    return new Map([...all].sort((a, b) => a[0] - b[0]));
  }

  errorCount(): number {
    let n = 0;
    for (const stats of this.ops.values()) n += stats.errors;
    return n;
  }
}
