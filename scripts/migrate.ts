/** `npm run db:migrate`: applies migrations to $DATABASE_URL, or to the running dev database. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runMigrations } from "./lib/migrate.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function databaseUrl(): string {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  try {
    const state = JSON.parse(readFileSync(path.join(root, ".data/dev-state.json"), "utf8")) as { databaseUrl: string };
    return state.databaseUrl;
  } catch {
    throw new Error("Set DATABASE_URL (e.g. your Neon connection string) or start `npm run dev` first.");
  }
}

await runMigrations(databaseUrl());
console.log("Migrations applied.");
