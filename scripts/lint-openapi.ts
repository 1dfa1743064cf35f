/**
 * `npm run lint:openapi` (part of `npm run lint`): writes the OpenAPI document the app serves at
 * /api/v1/openapi.json to a temporary file and lints it with Redocly CLI (rules in redocly.yaml).
 * The document is built by the app's own `openApiDocument`, so what is linted is what is served.
 *
 * The app runs here in Node, not in workerd: building the document needs no binding or request,
 * only the route definitions. The one module Node cannot load is `cloudflare:workers` (imported
 * by the Durable Object classes for their base class); a stand-in base class is enough, since no
 * object is ever constructed.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { registerHooks } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const WORKERS_STAND_IN = "export class DurableObject { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }";

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === "cloudflare:workers") {
      return { url: `data:text/javascript,${encodeURIComponent(WORKERS_STAND_IN)}`, shortCircuit: true };
    }
    return nextResolve(specifier, context);
  },
});

interface AppModule {
  createApp: () => unknown;
  openApiDocument: (app: unknown, origin: string) => unknown;
}

const root = fileURLToPath(new URL("..", import.meta.url));
// A computed specifier keeps the Worker's sources out of this Node-typed script's type check.
const appModule: AppModule = await import(new URL("../src/app.ts", import.meta.url).href);
const document = appModule.openApiDocument(appModule.createApp(), "http://localhost:8787");

const folder = mkdtempSync(join(tmpdir(), "openapi-lint-"));
try {
  const file = join(folder, "openapi.json");
  writeFileSync(file, JSON.stringify(document, null, 2));
  // Run by this Node (22), not whichever `node` the CLI's shebang would find first on PATH.
  const redocly = join(root, "node_modules", "@redocly", "cli", "bin", "cli.js");
  const result = spawnSync(process.execPath, [redocly, "lint", file, "--config", join(root, "redocly.yaml")], {
    stdio: "inherit",
    // No usage report and no update check: the lint sends nothing anywhere.
    env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
  });
  process.exitCode = result.status ?? 1;
} finally {
  rmSync(folder, { recursive: true, force: true });
}
