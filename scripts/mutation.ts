/**
 * Mutation testing, two ways.
 *
 * - Without `--feature`: Stryker's vitest runner over the pure rule modules of
 *   `stryker.config.json`, against the Node unit project (fast, per-test coverage).
 * - With `--feature <name>`: Stryker's command runner over one feature's SQL-side modules. Their
 *   rules live in SQL, so only the workerd suites against Postgres can tell a mutant from the
 *   original: every mutant runs that feature's workerd test files (and only those), each run
 *   starting its own Postgres and stand-ins. Slow (tens of seconds per mutant), so narrow it with
 *   `--mutate` to a file or a line range (`src/features/reports/reports.service.ts:40-80`).
 *
 * The active mutant reaches the code inside workerd as the `__STRYKER_ACTIVE_MUTANT__` binding
 * (vitest.config.ts passes it through), which `nodejs_compat` mirrors into `process.env`, where
 * Stryker's instrumented code reads it.
 *
 *   npm run test:mutation                                   # the unit modules
 *   npm run test:mutation -- --list                         # the features
 *   npm run test:mutation -- --feature reports              # one feature
 *   npm run test:mutation -- --feature querying --mutate src/features/uploads/rows/csv-data.sql.ts
 *   npm run test:mutation -- --feature users --mutate src/features/departments/departments.service.ts:31-35 \
 *     --tests test/departments/departments.test.ts
 */
import type { PartialStrykerOptions } from "@stryker-mutator/api/core";
import { Stryker } from "@stryker-mutator/core";
import { Command, InvalidArgumentError } from "commander";

interface Feature {
  /** What the feature is, for `--list`. */
  about: string;
  /** The modules mutated: where the feature's rules live (mostly SQL builders and services). */
  mutate: string[];
  /** The workerd test files that prove those rules over HTTP against Postgres. */
  tests: string[];
}

export const FEATURES: Record<string, Feature> = {
  querying: {
    about: "filters, sort, keyset cursors and exports over ingested CSV rows",
    mutate: [
      "src/features/uploads/rows/csv-data.sql.ts",
      "src/features/uploads/rows/csv-data.query.ts",
      "src/features/uploads/rows/csv-data.service.ts",
      "src/features/uploads/ingest/index-upload.ts",
      "src/features/uploads/rows/csv-data.cache.ts",
    ],
    tests: [
      "test/uploads/csv-data.test.ts",
      "test/uploads/column-keys.test.ts",
      "test/uploads/exact-numbers.test.ts",
      "test/uploads/deep-pages.test.ts",
    ],
  },
  tasks: {
    about: "task visibility, changes, assignment and listing",
    mutate: [
      "src/features/tasks/tasks.service.ts",
      "src/features/tasks/task-list.ts",
      "src/features/tasks/task-record.ts",
      "src/features/tasks/assignments.service.ts",
      "src/features/tasks/dates.ts",
      "src/features/tasks/write-batch.ts",
    ],
    tests: [
      "test/tasks/tasks.test.ts",
      "test/tasks/tasks.list.test.ts",
      "test/tasks/tasks.permissions.test.ts",
      "test/tasks/tasks-answers.test.ts",
      "test/tasks/access.test.ts",
      "test/tasks/access-lists.test.ts",
    ],
  },
  reports: {
    about: "the report endpoints (overdue, per department, per user)",
    mutate: ["src/features/reports/reports.service.ts"],
    tests: ["test/reports/reports.test.ts", "test/platform/round-trips.test.ts"],
  },
  users: {
    about: "listing and changing users and departments",
    mutate: ["src/features/users/users.service.ts", "src/features/departments/departments.service.ts"],
    tests: ["test/users/users.test.ts", "test/departments/departments.test.ts"],
  },
  auth: {
    about: "registration, login, sessions, refresh and logout",
    mutate: ["src/features/auth/auth.service.ts", "src/features/auth/login-throttle.ts"],
    tests: ["test/auth/auth.test.ts"],
  },
  email: {
    about: "the outbox, its delivery, retries and redrive",
    mutate: [
      "src/features/email/email.service.ts",
      "src/features/email/outbox.ts",
      "src/features/email/redrive.ts",
      "src/features/email/retry.ts",
      "src/features/email/email.consumer.ts",
      // The enqueue, re-drive and consumer loop the email and webhook outboxes share.
      "src/platform/queues/outbox.ts",
      "src/platform/queues/row-consumer.ts",
    ],
    tests: ["test/email/email.test.ts"],
  },
  ingestion: {
    about: "storing the rows of an upload: partitions, inserts, outcome and progress",
    mutate: [
      "src/features/uploads/ingest/ingest.consumer.ts",
      "src/features/uploads/ingest/partitions.ts",
      "src/features/uploads/ingest/outcome.ts",
      "src/features/uploads/ingest/reconcile.ts",
      "src/features/uploads/progress/upload-progress.ts",
    ],
    tests: [
      "test/uploads/ingest.test.ts",
      "test/uploads/ingest-property.test.ts",
      "test/uploads/progress.test.ts",
      "test/uploads/partition-locks.test.ts",
      "test/uploads/uploads-lifecycle.test.ts",
    ],
  },
};

interface Options {
  feature?: string;
  mutate?: string[];
  tests?: string[];
  concurrency: number;
  list?: boolean;
}

function featureName(value: string): string {
  if (!Object.hasOwn(FEATURES, value)) {
    throw new InvalidArgumentError(`known features: ${Object.keys(FEATURES).join(", ")}`);
  }
  return value;
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError("a whole number from 1");
  return number;
}

const commaList = (value: string): string[] => value.split(",").filter((part) => part !== "");

/**
 * One feature's run: what it changes in `stryker.config.json` (which Stryker reads and merges
 * these over): the command runner in place of vitest's, the feature's modules and tests.
 */
export function featureOptions(name: string, feature: Feature, options: Options): PartialStrykerOptions {
  // Node 22, the one running this script: the command runs in Stryker's sandbox with its own PATH.
  const command = [
    process.execPath,
    "node_modules/vitest/vitest.mjs",
    "run",
    "--project",
    "workers",
    ...(options.tests ?? feature.tests),
  ];
  return {
    testRunner: "command",
    commandRunner: { command: command.join(" ") },
    // The command runner cannot say which test covers which mutant: every mutant runs every file.
    coverageAnalysis: "off",
    mutate: options.mutate ?? feature.mutate,
    concurrency: options.concurrency,
    // A run starts Postgres and workerd, so a mutant that hangs needs far more slack than a unit test.
    timeoutMS: 120_000,
    htmlReporter: { fileName: `reports/mutation/${name}/index.html` },
    jsonReporter: { fileName: `reports/mutation/${name}/mutation.json` },
  };
}

async function main(): Promise<void> {
  const program = new Command()
    .name("npm run test:mutation --")
    .description("Mutation testing: the pure modules (default) or one feature's SQL-side modules.")
    .option("--feature <name>", "mutate one feature's SQL-side modules, running its workerd tests", featureName)
    .option("--mutate <files>", "comma-separated files (or file:lines) to mutate instead", commaList)
    .option("--tests <files>", "comma-separated workerd test files to run instead of the feature's", commaList)
    .option("--concurrency <n>", "test runs at the same time (each feature run starts a Postgres)", positiveInteger, 1)
    .option("--list", "list the features and exit")
    .parse();
  const options = program.opts<Options>();
  if (options.list) {
    for (const [name, feature] of Object.entries(FEATURES)) {
      console.log(
        `${name}: ${feature.about}\n  mutates ${feature.mutate.join(", ")}\n  runs ${feature.tests.join(", ")}`,
      );
    }
    return;
  }
  const feature = options.feature === undefined ? undefined : FEATURES[options.feature];
  const stryker =
    options.feature === undefined || feature === undefined
      ? new Stryker(options.mutate === undefined ? {} : { mutate: options.mutate })
      : new Stryker(featureOptions(options.feature, feature, options));
  const results = await stryker.runMutationTest();
  if (results.length === 0) process.exitCode = 1;
}

await main();
