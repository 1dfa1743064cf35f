import { defineConfig } from "vitest/config";

/**
 * The pure rule modules' unit tests, in plain Node. A config of its own so Stryker
 * (`npm run test:mutation`) can drive it without starting the Workers pool or Postgres;
 * vitest.config.ts runs the same tests as its "unit" project.
 */
export default defineConfig({
  test: {
    name: "unit",
    environment: "node",
    include: ["test/**/*.unit.test.ts"],
  },
});
