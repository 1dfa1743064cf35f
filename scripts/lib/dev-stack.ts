/**
 * The whole development stack in one call, for `npm run dev` and for scripts that need a stack of
 * their own (the browser test, benchmarks):
 * - Postgres: `databaseUrl` ($DATABASE_URL by default) when set, else an embedded Postgres in
 *   .data/postgres (kept between runs); the migrations applied either way.
 * - The two ways the Neon driver reaches Postgres: the WebSocket-to-TCP relay (`Pool`, `PG_RELAY`)
 *   and the SQL-over-HTTP endpoint (`neon()`, `PG_HTTP`).
 * - `wrangler dev` with local KV, R2 (+ S3 endpoint), Queues, Durable Objects and rate limits.
 *
 * `startDevStack` resolves once the Worker answers 200 on `/api/v1/health-check/` (every dependency
 * up), and cleans up whatever it started if that does not happen.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { constants } from "node:os";
import path from "node:path";
import { runMigrations } from "./migrate.ts";
import { DATA_DIR, ROOT } from "./paths.ts";
import { freePort, type RunningPostgres, startPostgres } from "./postgres.ts";
import { type Relay, startRelay } from "./relay.ts";
import { type SqlOverHttp, startSqlOverHttp } from "./sql-over-http.ts";

export interface DevStackOptions {
  /** The port `wrangler dev` listens on (127.0.0.1). */
  port: number;
  /**
   * Lets a caller put something (a delaying proxy) between the Worker and a database endpoint:
   * called with the endpoint's real host:port, returns the host:port the Worker should use.
   */
  wrapDatabaseEndpoint?: (kind: "relay" | "http", address: string) => Promise<string>;
  /** More `--var NAME:value` for the Worker (e.g. INGEST_CHUNK_BYTES). */
  extraVars?: Record<string, string>;
  /**
   * wrangler's output; the stack's own progress lines are printed only with "inherit". With
   * "pipe" the output is always drained (a full pipe would stall wrangler) and its tail is quoted
   * in the error when the stack fails to start.
   */
  stdio?: "inherit" | "ignore" | "pipe";
  /** The database to use; default $DATABASE_URL, and without it an embedded Postgres. */
  databaseUrl?: string;
  /** Ports of the embedded Postgres, the relay and the SQL-over-HTTP endpoint (default: free ones). */
  pgPort?: number;
  relayPort?: number;
  httpPort?: number;
  /** How long the Worker has to answer its health check (default 120 s). */
  readyTimeoutMs?: number;
  /** Aborting it while the stack starts stops what was started and rejects. */
  signal?: AbortSignal;
}

export interface DevStack {
  /** The Worker's origin, e.g. "http://127.0.0.1:8787" (no trailing slash). */
  url: string;
  databaseUrl: string;
  /** The real endpoints (not the wrapped addresses the Worker was given). */
  relay: Relay;
  sqlOverHttp: SqlOverHttp;
  /** The `wrangler dev` process (its stdout/stderr are readable with `stdio: "pipe"`). */
  wrangler: ChildProcess;
  /** Stops wrangler (and workerd), the endpoints and the embedded Postgres. Safe to call twice. */
  stop(): Promise<void>;
  /** Resolves with wrangler's exit code (128 + signal number when a signal ended it). */
  exited: Promise<number>;
}

const HEALTH_PATH = "/api/v1/health-check/";

/** Fails early when the port is taken: polling health would otherwise find someone else's server. */
async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === "EADDRINUSE" ? `port ${port} is already in use (set PORT to another one)` : String(error),
        ),
      ),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

function ensureDevVars(log: (line: string) => void): void {
  const devVars = path.join(ROOT, ".dev.vars");
  if (!existsSync(devVars)) {
    copyFileSync(path.join(ROOT, ".dev.vars.example"), devVars);
    log("Created .dev.vars from .dev.vars.example");
  }
}

function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return signal ? 128 + (constants.signals[signal] ?? 0) : 1;
}

/** Polls the health check until 200; rejects when wrangler exits, time runs out, or `signal` aborts. */
async function waitUntilHealthy(
  url: string,
  exited: Promise<number>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  let exitedWith: number | undefined;
  void exited.then((code) => {
    exitedWith = code;
  });
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  for (;;) {
    if (signal?.aborted) throw new Error("the dev stack was stopped while starting");
    if (exitedWith !== undefined) throw new Error(`wrangler dev exited with code ${exitedWith} before it was healthy`);
    const answer = await fetch(`${url}${HEALTH_PATH}`, { signal: AbortSignal.timeout(10_000) })
      .then(async (response) => ({ status: response.status, body: await response.text() }))
      .catch((error: unknown) => ({ status: 0, body: String(error) }));
    if (answer.status === 200) return;
    if (answer.status !== 0) last = `${answer.status} ${answer.body.slice(0, 500)}`;
    if (Date.now() > deadline)
      throw new Error(`the Worker was not healthy within ${timeoutMs / 1000} s (last answer: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  const stdio = options.stdio ?? "inherit";
  const log = stdio === "inherit" ? (line: string) => console.log(line) : () => {};
  const url = `http://127.0.0.1:${options.port}`;
  let postgres: RunningPostgres | undefined;
  let relay: Relay | undefined;
  let sqlOverHttp: SqlOverHttp | undefined;
  let wrangler: ChildProcess | undefined;
  let exited: Promise<number> = new Promise(() => {});
  let stopping: Promise<void> | undefined;
  let outputTail = "";

  const running = () =>
    wrangler?.pid !== undefined && wrangler.exitCode === null && wrangler.signalCode === null ? wrangler : undefined;
  const killWrangler = (signal: NodeJS.Signals) => {
    const child = running();
    if (!child) return;
    try {
      // wrangler runs in its own process group: this reaches workerd too.
      process.kill(-(child.pid as number), signal);
    } catch {
      // Already gone.
    }
  };
  /** Signals wrangler at once (a caller about to exit still reaches workerd), then waits for it. */
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (running()) {
        killWrangler("SIGTERM");
        const timer = setTimeout(() => killWrangler("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
      await sqlOverHttp?.close().catch(() => {});
      await relay?.close().catch(() => {});
      await postgres?.stop().catch(() => {});
    })();
    return stopping;
  };
  // Aborting while starting: wrangler is signalled at once; the start itself notices at its next
  // step, stops everything it started and rejects.
  const onAbort = () => killWrangler("SIGTERM");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const checkAborted = () => {
    if (options.signal?.aborted) throw new Error("the dev stack was stopped while starting");
  };

  try {
    await assertPortFree(options.port);
    mkdirSync(DATA_DIR, { recursive: true });
    ensureDevVars(log);

    let databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL;
    if (!databaseUrl) {
      const pgPort = options.pgPort || (await freePort());
      const started = await startPostgres({
        dataDir: path.join(DATA_DIR, "postgres"),
        port: pgPort,
        persistent: true,
        quiet: true,
      });
      postgres = started;
      await started.createDatabase("tasks");
      databaseUrl = started.url("tasks");
      const where = started.dataDir.startsWith(ROOT) ? path.relative(ROOT, started.dataDir) : started.dataDir;
      log(`Embedded Postgres on 127.0.0.1:${pgPort} (data in ${where})`);
    } else {
      log("Using DATABASE_URL from the environment");
    }
    checkAborted();
    await runMigrations(databaseUrl);
    log("Migrations applied");
    checkAborted();

    relay = await startRelay(options.relayPort ?? 0);
    sqlOverHttp = await startSqlOverHttp(options.httpPort ?? 0);
    const wrap = options.wrapDatabaseEndpoint ?? (async (_kind, address: string) => address);
    const relayAddress = await wrap("relay", relay.address);
    const httpAddress = await wrap("http", sqlOverHttp.address);
    log(`Neon driver endpoints: relay ${relay.address}, SQL over HTTP ${sqlOverHttp.address}`);
    checkAborted();

    // wrangler.toml's top level is production; a local stack is development unless the caller's
    // environment says otherwise (also for a .dev.vars created before it carried these).
    const vars = {
      ENVIRONMENT: process.env.ENVIRONMENT || "development",
      CORS_ORIGINS: process.env.CORS_ORIGINS || "*",
      DATABASE_URL: databaseUrl,
      PG_RELAY: relayAddress,
      PG_HTTP: httpAddress,
      ...options.extraVars,
    };
    const args = [
      path.join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
      "dev",
      "--port",
      String(options.port),
      "--ip",
      "127.0.0.1",
      "--show-interactive-dev-session=false",
      "--persist-to",
      path.join(DATA_DIR, "wrangler"),
      ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
    ];
    // Its own process group, so `stop` reaches workerd as well as wrangler. Ctrl-C in a terminal
    // therefore reaches only our process, whose signal handler calls `stop`.
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      stdio: stdio === "inherit" ? ["ignore", "inherit", "inherit"] : stdio,
      env: process.env,
      detached: true,
    });
    wrangler = child;
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on("data", (chunk: Buffer) => {
        outputTail = (outputTail + chunk.toString()).slice(-5000);
      });
    }
    exited = new Promise<number>((resolve) => {
      child.once("exit", (code, signal) => resolve(exitCode(code, signal)));
      child.once("error", () => resolve(1));
    });

    await waitUntilHealthy(url, exited, options.readyTimeoutMs ?? 120_000, options.signal);
    return { url, databaseUrl, relay, sqlOverHttp, wrangler: child, stop, exited };
  } catch (error) {
    await stop();
    if (!outputTail || !(error instanceof Error)) throw error;
    throw new Error(`${error.message}\nwrangler's last output:\n${outputTail}`, { cause: error });
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
}
