import { availableParallelism } from "node:os";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { captureRuntimeOrigin, RUNTIME_ID_BINDING } from "./test/node/runtime-origin.ts";

captureRuntimeOrigin();

export default defineConfig({
  test: {
    silent: "passed-only",
    // Test files run side by side, each in a runtime of its own (its own R2, KV, queues and Durable
    // Objects) against the one Postgres: much of a file's time is spent waiting (rate-limit windows,
    // queue retries, index builds), so two at once finish the suite in about two thirds of the time
    // even on two cores, where Vitest's default (one fewer than the cores) would run one at a time.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      {
        // The API's tests: inside workerd, against the Postgres the global setup starts.
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // Test values override wrangler.toml's vars; secrets are set here because CI has no .dev.vars.
              bindings: {
                ENVIRONMENT: "development",
                DATABASE_URL: inject("databaseUrl"),
                PG_RELAY: inject("pgRelay"),
                PG_HTTP: inject("pgHttp"),
                MAILCHANNELS_BASE_URL: inject("mailStubUrl"),
                // A test key sends the whole suite's mail to the stub; retries back off by 0 s so the
                // retry and dead-letter paths finish in seconds.
                MAILCHANNELS_API_KEY: "test-mailchannels-key",
                EMAIL_RETRY_BASE_SECONDS: "0",
                WEBHOOK_RETRY_BASE_SECONDS: "0",
                TEST_WEBHOOK_RECEIVER_URL: inject("webhookReceiverUrl"),
                JWT_SECRET: "test-secret-0123456789abcdef0123456789abcdef",
                R2_ACCESS_KEY_ID: "local-dev-access-key",
                R2_SECRET_ACCESS_KEY: "local-dev-secret-key",
                INGEST_CHUNK_BYTES: "65536",
                TEST_RELAY_STATS_URL: inject("relayStatsUrl"),
                TEST_CLOSED_PORT: String(inject("closedPort")),
                TEST_SUPPORT_URL: inject("supportUrl"),
                // Made each time the pool starts a runtime: its origin is recorded under it.
                [RUNTIME_ID_BINDING]: crypto.randomUUID(),
                // The mutant a Stryker feature run (scripts/mutation.ts) activates: nodejs_compat puts
                // string bindings into process.env, where the instrumented code looks for it.
                ...(process.env.__STRYKER_ACTIVE_MUTANT__ === undefined
                  ? {}
                  : { __STRYKER_ACTIVE_MUTANT__: process.env.__STRYKER_ACTIVE_MUTANT__ }),
              },
            },
          })),
        ],
        test: {
          name: "workers",
          globalSetup: ["./test/node/global-setup.ts"],
          setupFiles: ["./test/support/settle-queues.ts"],
          include: ["test/**/*.test.ts"],
          exclude: ["test/node/**", "test/**/*.unit.test.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // The Node-side scripts (dev stack, embedded Postgres, upload CLI), in plain Node.
        test: {
          name: "node",
          environment: "node",
          include: ["test/node/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      // The pure rule modules (CSV writer, cursor codec, progress state, config, task policy), in plain Node.
      "./vitest.unit.config.ts",
    ],
  },
});
