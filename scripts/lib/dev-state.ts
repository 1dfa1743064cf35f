/**
 * `npm run dev` records where its stack runs in `.data/dev-state.json`, so the other scripts
 * (migrate, seed, benchmarks) reach the same database without being told.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { DEV_STATE_FILE } from "./paths.ts";

export interface DevState {
  databaseUrl: string;
  /** host:port of the WebSocket relay (`PG_RELAY`). */
  relay: string;
  /** host:port of the SQL-over-HTTP endpoint (`PG_HTTP`). */
  http: string;
  port: number;
}

export function writeDevState(state: DevState): void {
  writeFileSync(DEV_STATE_FILE, JSON.stringify(state, null, 2));
}

/** $DATABASE_URL when set, else the database of the running (or last) `npm run dev`. */
export function devDatabaseUrl(): string {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  let state: Partial<DevState>;
  try {
    state = JSON.parse(readFileSync(DEV_STATE_FILE, "utf8")) as Partial<DevState>;
  } catch {
    throw new Error("Set DATABASE_URL (e.g. your Neon connection string) or start `npm run dev` first.");
  }
  if (!state.databaseUrl) throw new Error(".data/dev-state.json has no databaseUrl: start `npm run dev` first.");
  return state.databaseUrl;
}
