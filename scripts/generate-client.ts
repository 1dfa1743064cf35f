/**
 * `npm run client:generate`: writes the typed client's OpenAPI types (client/schema.d.ts) from the
 * document the app serves, formatted as the repository's formatter would. `--check` writes
 * nothing and exits 1 when the committed file differs from what the document gives today, so a
 * route whose contract changed without regenerating the client fails the build.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Command } from "commander";
import openapiTS, { astToString, COMMENT_HEADER } from "openapi-typescript";
import { buildOpenApiDocument } from "./lib/openapi-document.ts";
import { CLIENT_SCHEMA_FILE, ROOT } from "./lib/paths.ts";

const HEADER = `${COMMENT_HEADER.trimEnd()}\n// Regenerate with \`npm run client:generate\` after changing a route's definition.\n\n`;

/** The types as the generator writes them, then through the repository's formatter. */
async function generatedSchema(): Promise<string> {
  const document = await buildOpenApiDocument();
  const ast = await openapiTS(JSON.stringify(document), { alphabetize: false, exportType: false });
  const raw = HEADER + astToString(ast);
  const biome = path.join(ROOT, "node_modules", "@biomejs", "biome", "bin", "biome");
  const formatted = spawnSync(process.execPath, [biome, "format", `--stdin-file-path=${CLIENT_SCHEMA_FILE}`], {
    cwd: ROOT,
    input: raw,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (formatted.status !== 0) throw new Error(`biome format failed: ${formatted.stderr}`);
  return formatted.stdout;
}

const program = new Command()
  .name("npm run client:generate --")
  .description("Regenerate the typed client's OpenAPI types from the app's route definitions.")
  .option("--check", "write nothing; exit 1 when the committed types are stale", false)
  .option("--file <path>", "the types file to write or check", CLIENT_SCHEMA_FILE)
  .showHelpAfterError();

const options = program.parse().opts<{ check: boolean; file: string }>();
const fresh = await generatedSchema();
const file = path.resolve(options.file);
const relative = path.relative(ROOT, file);
if (options.check) {
  let committed = "";
  try {
    committed = readFileSync(file, "utf8");
  } catch {
    // A missing file is stale too.
  }
  if (committed !== fresh) {
    process.stderr.write(`${relative} is stale: run \`npm run client:generate\` and commit the result.\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`${relative} matches the OpenAPI document.\n`);
  }
} else {
  writeFileSync(file, fresh);
  process.stdout.write(`wrote ${relative}\n`);
}
