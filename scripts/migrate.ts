/** `npm run db:migrate`: applies migrations to $DATABASE_URL, or to the running dev database. */
import { devDatabaseUrl } from "./lib/dev-state.ts";
import { runMigrations } from "./lib/migrate.ts";

await runMigrations(devDatabaseUrl());
console.log("Migrations applied.");
