/**
 * Runs once, in Node, before the suite: a fresh embedded Postgres with the migrations applied,
 * the two ways the Neon driver reaches it (the WebSocket relay for `Pool`, the SQL-over-HTTP
 * endpoint for `neon()`), the MailChannels stub and the webhook receiver. Their addresses reach the worker as bindings
 * (vitest.config.ts) and the tests through `inject`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { runMigrations } from "../../scripts/lib/migrate.ts";
import { freePort, startPostgres } from "../../scripts/lib/postgres.ts";
import { startRelay } from "../../scripts/lib/relay.ts";
import { startSqlOverHttp } from "../../scripts/lib/sql-over-http.ts";
import { startMailStub } from "./mail-stub.ts";
import { startSupportServer } from "./support-server.ts";
import { startWebhookReceiver } from "./webhook-receiver.ts";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    pgRelay: string;
    /** host:port of the SQL-over-HTTP endpoint (`PG_HTTP`). */
    pgHttp: string;
    mailStubUrl: string;
    webhookReceiverUrl: string;
    relayStatsUrl: string;
    closedPort: number;
    supportUrl: string;
  }
}

export default async function setup(project: TestProject) {
  // As root in a folder the `postgres` user cannot reach, startPostgres moves the data itself.
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "edge-tasks-test-pg-"));
  const pgPort = await freePort();
  const postgres = await startPostgres({
    dataDir: path.join(dataDir, "data"),
    port: pgPort,
    persistent: false,
    quiet: true,
  });
  await postgres.createDatabase("tasks_test");
  const databaseUrl = postgres.url("tasks_test");
  await runMigrations(databaseUrl);
  const relay = await startRelay();
  const sqlOverHttp = await startSqlOverHttp();
  const mail = await startMailStub();
  const receiver = await startWebhookReceiver();

  project.provide("databaseUrl", databaseUrl);
  project.provide("pgRelay", relay.address);
  project.provide("pgHttp", sqlOverHttp.address);
  project.provide("mailStubUrl", mail.url);
  project.provide("webhookReceiverUrl", receiver.url);
  project.provide("relayStatsUrl", `http://${relay.address}/stats`);
  project.provide("closedPort", await freePort());
  const support = await startSupportServer(relay, sqlOverHttp);
  project.provide("supportUrl", support.url);

  return async () => {
    await support.close();
    await mail.close();
    await receiver.close();
    await relay.close();
    // Before Postgres: its pooled connections must be gone for Postgres to stop promptly.
    await sqlOverHttp.close();
    await postgres.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
