/**
 * `npm run dev`: everything the API needs on this machine, then `wrangler dev` on :8787.
 * - Postgres: $DATABASE_URL when set, else an embedded Postgres in .data/postgres (kept between runs).
 * - Migrations applied; the WebSocket-to-TCP relay started for the Neon driver.
 * - wrangler dev with local KV, R2 (+ S3 endpoint), Queues, Durable Objects and rate limits.
 * Ctrl-C (or wrangler exiting) stops all of it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeDevState } from "./lib/dev-state.ts";
import { runMigrations } from "./lib/migrate.ts";
import { freePort, type RunningPostgres, startPostgres } from "./lib/postgres.ts";
import { type Relay, startRelay } from "./lib/relay.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dataDir = path.join(root, ".data");
const port = Number(process.env.PORT ?? 8787);

let postgres: RunningPostgres | undefined;
let relay: Relay | undefined;
let wrangler: ChildProcess | undefined;
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    if (wrangler && wrangler.exitCode === null) {
      wrangler.kill("SIGTERM");
      await new Promise((resolve) => {
        const timer = setTimeout(() => {
          wrangler?.kill("SIGKILL");
          resolve(undefined);
        }, 5000);
        wrangler?.once("exit", () => {
          clearTimeout(timer);
          resolve(undefined);
        });
      });
    }
    await relay?.close().catch(() => {});
    await postgres?.stop().catch(() => {});
  }
  process.exit(code);
}

process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  const devVars = path.join(root, ".dev.vars");
  if (!existsSync(devVars)) {
    copyFileSync(path.join(root, ".dev.vars.example"), devVars);
    console.log("Created .dev.vars from .dev.vars.example");
  }

  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const pgPort = Number(process.env.PG_PORT ?? 0) || (await freePort());
    postgres = await startPostgres({
      dataDir: path.join(dataDir, "postgres"),
      port: pgPort,
      persistent: true,
      quiet: true,
    });
    await postgres.createDatabase("tasks");
    databaseUrl = postgres.url("tasks");
    console.log(`Embedded Postgres on 127.0.0.1:${pgPort} (data in .data/postgres)`);
  } else {
    console.log("Using DATABASE_URL from the environment");
  }
  await runMigrations(databaseUrl);
  console.log("Migrations applied");

  relay = await startRelay(Number(process.env.PG_RELAY_PORT ?? 0));
  // Scripts (seed, benchmarks) find the running stack here.
  writeDevState({ databaseUrl, relay: relay.address, port });

  const vars = [`DATABASE_URL:${databaseUrl}`, `PG_RELAY:${relay.address}`];
  if (process.env.INGEST_CHUNK_BYTES) vars.push(`INGEST_CHUNK_BYTES:${process.env.INGEST_CHUNK_BYTES}`);
  const args = [
    path.join(root, "node_modules/wrangler/bin/wrangler.js"),
    "dev",
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--show-interactive-dev-session=false",
    "--persist-to",
    path.join(dataDir, "wrangler"),
    ...vars.flatMap((v) => ["--var", v]),
  ];
  wrangler = spawn(process.execPath, args, { cwd: root, stdio: "inherit", env: process.env });
  wrangler.on("exit", (code) => void stopAll(code ?? 0));
}

main().catch((error: unknown) => {
  console.error(error);
  void stopAll(1);
});
