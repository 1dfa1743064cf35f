/**
 * Where the scripts keep and find things on disk, all relative to the project folder. Entry
 * scripts import these; none of them exports a path for another script to use.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The project folder (where package.json is). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** Local state of `npm run dev`: embedded Postgres, wrangler's storage, the dev-state file. */
export const DATA_DIR = path.join(ROOT, ".data");
/** Where `npm run dev` records where its stack runs. */
export const DEV_STATE_FILE = path.join(DATA_DIR, "dev-state.json");
/** The SQL migrations (drizzle-kit's output). */
export const MIGRATIONS_DIR = path.join(ROOT, "migrations");
/** Generated benchmark CSV files, reused between runs (not committed). */
export const BENCH_DIR = path.join(ROOT, "bench-data");
/** The last ingested benchmark upload and its user's credentials, for the query benchmark. */
export const LAST_UPLOAD_FILE = path.join(BENCH_DIR, "last-upload.json");
/** The typed API client and the OpenAPI types it is generated from. */
export const CLIENT_DIR = path.join(ROOT, "client");
export const CLIENT_SCHEMA_FILE = path.join(CLIENT_DIR, "schema.d.ts");
