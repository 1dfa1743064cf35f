/**
 * `npm run dev`: everything the API needs on this machine, then `wrangler dev` on :8787
 * (lib/dev-stack.ts: Postgres from $DATABASE_URL or embedded in .data/postgres, migrations, the
 * WebSocket relay and the SQL-over-HTTP endpoint the Neon driver talks through, wrangler dev).
 * Knobs: PORT, PG_PORT, PG_RELAY_PORT, PG_HTTP_PORT, INGEST_CHUNK_BYTES, ENVIRONMENT and CORS_ORIGINS
 * (development and "*" unless set: wrangler.toml's top level is production).
 * Ctrl-C (or wrangler exiting) stops all of it.
 */

import { type DevStack, startDevStack } from "./lib/dev-stack.ts";
import { writeDevState } from "./lib/dev-state.ts";
import { copyDocsBundle } from "./lib/docs-bundle.ts";

const port = Number(process.env.PORT ?? 8787);
const starting = new AbortController();
let startup: Promise<DevStack> | undefined;
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    // Still starting: the start stops what it started and rejects.
    starting.abort();
    const stack = await startup?.catch(() => undefined);
    await stack?.stop().catch(() => {});
  }
  process.exit(code);
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void stopAll(0));

async function main(): Promise<void> {
  copyDocsBundle();
  const numberFrom = (name: string) => Number(process.env[name] ?? 0) || undefined;
  startup = startDevStack({
    port,
    stdio: "inherit",
    pgPort: numberFrom("PG_PORT"),
    relayPort: numberFrom("PG_RELAY_PORT"),
    httpPort: numberFrom("PG_HTTP_PORT"),
    extraVars: process.env.INGEST_CHUNK_BYTES ? { INGEST_CHUNK_BYTES: process.env.INGEST_CHUNK_BYTES } : {},
    signal: starting.signal,
  });
  const stack = await startup;
  // Scripts (seed, benchmarks) find the running stack here.
  writeDevState({
    databaseUrl: stack.databaseUrl,
    relay: stack.relay.address,
    http: stack.sqlOverHttp.address,
    port,
  });
  console.log(`Ready: ${stack.url} (health: ${stack.url}/api/v1/health-check/, docs: ${stack.url}/docs)`);
  void stack.exited.then((code) => stopAll(code));
}

main().catch((error: unknown) => {
  if (!stopping) console.error(error);
  void stopAll(stopping ? 0 : 1);
});
