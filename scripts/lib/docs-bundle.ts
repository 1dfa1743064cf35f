/**
 * The API reference's browser bundle (@scalar/api-reference, MIT) copied from node_modules into
 * the static assets, so `/docs` works with no internet: the page loads it from the Worker's own
 * origin instead of a CDN. The copy is not committed; it is made by `npm ci` (prepare), by
 * `npm run dev`, `build` and `deploy`, and is safe to make again at any time.
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { ROOT } from "./paths.ts";

export function copyDocsBundle(): void {
  const target = path.join(ROOT, "public", "vendor", "scalar");
  // The package exports no path to its browser bundle; it sits beside the main entry (dist/index.js).
  const distDir = path.dirname(createRequire(import.meta.url).resolve("@scalar/api-reference"));
  mkdirSync(target, { recursive: true });
  copyFileSync(path.join(distDir, "browser", "standalone.js"), path.join(target, "api-reference.js"));
}
