/**
 * `npm run lint:openapi` (part of `npm run lint`): writes the OpenAPI document the app serves at
 * /api/v1/openapi.json to a temporary file and lints it with Redocly CLI (rules in redocly.yaml).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildOpenApiDocument } from "./lib/openapi-document.ts";
import { ROOT } from "./lib/paths.ts";

const document = await buildOpenApiDocument();

const folder = mkdtempSync(join(tmpdir(), "openapi-lint-"));
try {
  const file = join(folder, "openapi.json");
  writeFileSync(file, JSON.stringify(document, null, 2));
  // Run by this Node (22), not whichever `node` the CLI's shebang would find first on PATH.
  const redocly = join(ROOT, "node_modules", "@redocly", "cli", "bin", "cli.js");
  const result = spawnSync(process.execPath, [redocly, "lint", file, "--config", join(ROOT, "redocly.yaml")], {
    stdio: "inherit",
    // No usage report and no update check: the lint sends nothing anywhere.
    env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
  });
  process.exitCode = result.status ?? 1;
} finally {
  rmSync(folder, { recursive: true, force: true });
}
