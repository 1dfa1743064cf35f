/**
 * Moves the source and the tests into the layout ARCHITECTURE.md describes, and rewrites every
 * import and every path that names a moved file. Deterministic and re-runnable: the mapping is a
 * set of folder rules applied to the files that exist now, so a file added later at an old place
 * (a new feature folder, a new test) is placed by the same rules on the next run, and a second
 * run over a moved tree finds nothing to do and changes nothing.
 *
 *   npm run relayout                 # move, rewrite, then report the layer check
 *   npm run relayout -- --dry-run    # print the moves only
 *
 * The mapping (folders relative to src/; the first rule that matches wins):
 *
 *   index.ts, app.ts, worker-configuration.d.ts   stay (the entry)
 *   config.ts                                     platform/config/config.ts
 *   types.ts                                      platform/context/types.ts (the Hono env: bindings,
 *                                                 variables, the caller)
 *   lib/openapi.ts, lib/pagination.ts             platform/http/ (route and query helpers over that env)
 *   auth/tokens.ts, auth/authenticate.ts          platform/identity/ (who is calling: every feature's
 *                                                 routes need it, it needs no feature)
 *   db, cache, queues, storage, edge-state, lib   platform/<same name>
 *   middleware                                    platform/http
 *   uploads                                       features/uploads (the pipeline's HTTP face)
 *   ingest, progress, jobs                        features/uploads/<same name>
 *   csv-data                                      features/uploads/rows
 *   any other folder X (auth, users, tasks, …,    features/X
 *     webhooks, notifications, and later ones)
 *
 * Tests: test/<file> goes to test/<group>/<file>, where the group is the feature its file name
 * starts with (`webhooks-retry.test.ts` → test/webhooks/), or one of the explicit groups below
 * (`platform`, `app` for whole-API suites, `support` for shared helpers and factories);
 * test/unit/<name>.test.ts goes to test/<group>/<name>.unit.test.ts (the `unit` vitest project
 * is every `*.unit.test.ts`). test/node/ (the Node-side scripts' project) stays.
 *
 * Imports are found and rewritten with ts-morph in src/, test/, scripts/, client/ and the root
 * configs (static, dynamic, `import type`, `typeof import(…)`, `vi.mock`, and `?raw` imports);
 * files move with `git mv`, so history follows them. Paths in docs and configs (README,
 * ARCHITECTURE, TESTING, wrangler.toml, stryker.config.json, drizzle.config.ts, the vitest
 * configs, scripts/mutation.ts's feature map, comments) are rewritten from the same mapping;
 * ARCHITECTURE.md's "Layers" section is regenerated from the moved tree.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { Node, Project, type SourceFile, type StringLiteral, SyntaxKind } from "ts-morph";
import { ROOT } from "./lib/paths.ts";

/** Files with a place of their own, relative to src/. */
const SRC_FILE_RULES: Record<string, string> = {
  "config.ts": "platform/config/config.ts",
  "types.ts": "platform/context/types.ts",
  "lib/openapi.ts": "platform/http/openapi.ts",
  "lib/pagination.ts": "platform/http/pagination.ts",
  "auth/tokens.ts": "platform/identity/tokens.ts",
  "auth/authenticate.ts": "platform/identity/authenticate.ts",
};
/** Top-level files of src/ that stay: the entry and the generated Env types. */
const SRC_ENTRY = new Set(["index.ts", "app.ts", "worker-configuration.d.ts"]);
/** The platform: old top-level folder → new folder. */
const PLATFORM_FOLDERS: Record<string, string> = {
  db: "platform/db",
  cache: "platform/cache",
  queues: "platform/queues",
  storage: "platform/storage",
  "edge-state": "platform/edge-state",
  middleware: "platform/http",
  lib: "platform/lib",
};
/** The upload pipeline, one feature: old top-level folder → new folder. */
const PIPELINE_FOLDERS: Record<string, string> = {
  uploads: "features/uploads",
  ingest: "features/uploads/ingest",
  progress: "features/uploads/progress",
  jobs: "features/uploads/jobs",
  "csv-data": "features/uploads/rows",
};
const LAYERS = new Set(["features", "platform"]);

/** Test files whose group is not the feature their name starts with (names without `.test.ts`). */
const TEST_GROUPS: Record<string, string> = {
  // shared support: the HTTP helpers, the user/organisation/task factories, the upload helpers
  helpers: "support",
  "tasks-fixtures": "support",
  "uploads-fixtures": "support",
  "access-fixtures": "support",
  "raw-imports": "support",
  // the platform: caching, edge state, idempotency, degraded bindings, logs, the database
  conditional: "platform",
  "edge-state": "platform",
  idempotency: "platform",
  "kv-unavailable": "platform",
  "log-redaction": "platform",
  "sql-over-http": "platform",
  "statement-timeout": "platform",
  "round-trips": "platform",
  config: "platform",
  csv: "platform",
  tokens: "platform",
  // the whole API as one contract
  contract: "app",
  openapi: "app",
  foundation: "app",
  production: "app",
  adversarial: "app",
  "adversarial-fixtures": "app",
  // features under names of their own
  "rate-limit": "auth",
  access: "tasks",
  "access-lists": "tasks",
  history: "tasks",
  "column-keys": "uploads",
  "exact-numbers": "uploads",
  faults: "uploads",
  "upload-quotas": "uploads",
  "csv-property-fixtures": "uploads",
  "ingest-chunks": "uploads",
};
/** Name prefixes of the upload pipeline's tests. */
const PIPELINE_TEST_PREFIXES = new Set(["upload", "uploads", "ingest", "progress", "jobs", "csv-data"]);
/** Exact strings in configs and docs that name the old test folders. */
const STRING_RULES: [string, string][] = [
  ['exclude: ["test/node/**", "test/unit/**"]', 'exclude: ["test/node/**", "test/**/*.unit.test.ts"]'],
  ['include: ["test/unit/**/*.test.ts"]', 'include: ["test/**/*.unit.test.ts"]'],
  ["`test/unit/*.test.ts`", "`test/<group>/*.unit.test.ts`"],
  ["`test/*.test.ts`", "`test/<group>/*.test.ts`"],
  ["`test/tasks*.test.ts`", "`test/tasks/*.test.ts`"],
  ["npx vitest run test/tasks.test.ts", "npx vitest run test/tasks/tasks.test.ts"],
];
/** Text files whose paths are rewritten (besides every .ts file). */
const TEXT_FILES = /\.(md|toml|json|jsonc|ya?ml|cjs|mjs|js)$|^\.ci\/run$/;
/** Never rewritten: history, generated files, lockfiles, and this script (its rules name old paths). */
const UNTOUCHED =
  /^(CHANGELOG\.md|scripts\/relayout\.ts|package-lock\.json|client\/schema\.d\.ts|src\/worker-configuration\.d\.ts)$|^(migrations|public\/vendor|node_modules|dist)\//;

const rel = (file: string): string => path.relative(ROOT, file).split(path.sep).join("/");
const abs = (file: string): string => path.join(ROOT, file);

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? walk(full) : [full];
    });
}

/** Where a file of src/ goes (relative to src/), or undefined if it stays. */
function srcTarget(file: string, warn: (message: string) => void): string | undefined {
  const own = SRC_FILE_RULES[file];
  if (own !== undefined) return own;
  const [top = "", ...rest] = file.split("/");
  if (rest.length === 0) {
    if (!SRC_ENTRY.has(top)) warn(`src/${file}: a top-level file no rule places; left where it is`);
    return undefined;
  }
  if (LAYERS.has(top)) return undefined;
  const folder = PLATFORM_FOLDERS[top] ?? PIPELINE_FOLDERS[top] ?? `features/${top}`;
  return `${folder}/${rest.join("/")}`;
}

/** Where a file of test/ goes (relative to test/), or undefined if it stays. */
function testTarget(file: string, features: Set<string>, warn: (message: string) => void): string | undefined {
  const parts = file.split("/");
  const unit = parts.length === 2 && parts[0] === "unit";
  if (parts.length !== 1 && !unit) return undefined;
  const name = parts.at(-1) ?? "";
  const stem = name.replace(/(\.unit)?\.test\.ts$|\.d\.ts$|\.ts$/, "");
  // The longest feature (or pipeline) name the file's name starts with, as a whole word.
  const named = [...features, ...PIPELINE_TEST_PREFIXES]
    .filter((candidate) => stem === candidate || stem.startsWith(`${candidate}-`) || stem.startsWith(`${candidate}.`))
    .sort((a, b) => b.length - a.length)[0];
  const group =
    TEST_GROUPS[stem] ?? (named === undefined ? undefined : PIPELINE_TEST_PREFIXES.has(named) ? "uploads" : named);
  if (group === undefined) {
    warn(`test/${file}: no feature or group matches its name; left where it is`);
    return undefined;
  }
  return `${group}/${unit ? name.replace(/\.test\.ts$/, ".unit.test.ts") : name}`;
}

/** Every move, old → new, both relative to the project folder. */
function planMoves(warn: (message: string) => void): Map<string, string> {
  const moves = new Map<string, string>();
  const srcFiles = walk(abs("src")).map((file) => path.relative(abs("src"), file).split(path.sep).join("/"));
  const features = new Set<string>();
  for (const file of srcFiles) {
    const target = srcTarget(file, warn);
    if (target !== undefined && target !== file) moves.set(`src/${file}`, `src/${target}`);
    const [layer, name] = (target ?? file).split("/");
    if (layer === "features" && name !== undefined) features.add(name);
  }
  for (const file of walk(abs("test")).map((full) => path.relative(abs("test"), full).split(path.sep).join("/"))) {
    const target = testTarget(file, features, warn);
    if (target !== undefined && target !== file) moves.set(`test/${file}`, `test/${target}`);
  }
  for (const [from, to] of moves) {
    if (fs.existsSync(abs(to))) throw new Error(`${from} → ${to}: the target exists already`);
  }
  return moves;
}

/** The string literals that name a module: static, dynamic and type imports, re-exports, vi.mock. */
function moduleSpecifiers(sourceFile: SourceFile): StringLiteral[] {
  const found: StringLiteral[] = [];
  const add = (node: Node | undefined): void => {
    if (node !== undefined && Node.isStringLiteral(node)) found.push(node);
  };
  for (const declaration of sourceFile.getImportDeclarations()) add(declaration.getModuleSpecifier());
  for (const declaration of sourceFile.getExportDeclarations()) add(declaration.getModuleSpecifier());
  for (const call of sourceFile.getDescendantsOfKind(SyntaxKind.CallExpression)) {
    const callee = call.getExpression();
    const text = callee.getText();
    if (callee.getKind() === SyntaxKind.ImportKeyword || /^vi\.(mock|doMock|unmock|importActual)$/.test(text)) {
      add(call.getArguments()[0]);
    }
  }
  for (const importType of sourceFile.getDescendantsOfKind(SyntaxKind.ImportType)) {
    const argument = importType.getArgument();
    if (Node.isLiteralTypeNode(argument)) add(argument.getLiteral());
  }
  return found;
}

const RESOLVE_SUFFIXES = ["", ".ts", ".d.ts", "/index.ts"];

/** The new text of a relative specifier in `importer` (old path), or undefined if it is unchanged. */
function rewriteSpecifier(importer: string, specifier: string, moves: Map<string, string>): string | undefined {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return undefined;
  const queryAt = specifier.indexOf("?");
  const bare = queryAt === -1 ? specifier : specifier.slice(0, queryAt);
  const query = queryAt === -1 ? "" : specifier.slice(queryAt);
  const base = rel(path.resolve(path.dirname(abs(importer)), bare));
  const suffix = RESOLVE_SUFFIXES.find(
    (end) => fs.existsSync(abs(base + end)) && fs.statSync(abs(base + end)).isFile(),
  );
  if (suffix === undefined) return undefined;
  const target = base + suffix;
  const newTarget = moves.get(target) ?? target;
  const newImporter = moves.get(importer) ?? importer;
  if (newTarget === target && newImporter === importer) return undefined;
  let relative = path.posix.relative(path.posix.dirname(newImporter), newTarget);
  if (suffix !== "") relative = relative.slice(0, -suffix.length);
  if (!relative.startsWith(".")) relative = `./${relative}`;
  const rewritten = relative + query;
  return rewritten === specifier ? undefined : rewritten;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Old path → new path replacements for text: full paths, then src-relative ones, longest first. */
function pathReplacements(moves: Map<string, string>): { pattern: RegExp; to: string; from: string }[] {
  // [old, new, src-relative?]: a src-relative path (`ingest/outcome.ts`, as comments and docs name
  // them) is only taken where nothing path-like precedes it, never in `./ingest/…`, an import
  // the ts-morph pass has already rewritten.
  const pairs: [string, string, boolean][] = [];
  for (const [from, to] of moves) {
    pairs.push([from, to, false]);
    if (from.startsWith("src/")) pairs.push([from.slice(4), to.slice(4), true]);
  }
  // Folder mentions (`src/ingest/`, `src/csv-data/`): the folder rule, for what is not a file path.
  const folders = new Map<string, string>();
  for (const [from, to] of moves) {
    const [root, top] = from.split("/");
    if (root !== "src" || top === undefined || from.split("/").length < 3) continue;
    const rule = PLATFORM_FOLDERS[top] ?? PIPELINE_FOLDERS[top] ?? `features/${top}`;
    if (!to.startsWith(`src/${rule}/`)) continue;
    folders.set(`src/${top}/`, `src/${rule}/`);
  }
  for (const [from, to] of folders) pairs.push([from, to, false]);
  return pairs
    .filter(([from]) => from.includes("/"))
    .sort((a, b) => b[0].length - a[0].length || a[0].localeCompare(b[0]))
    .map(([from, to, short]) => ({
      from,
      to,
      // Not inside a longer path: no word character, `word/` or `../` just before (a full path may
      // follow `./`, as in drizzle.config.ts), no word character after.
      pattern: new RegExp(
        `${short ? "(?<![\\w./-])" : "(?<![\\w-])(?<![\\w-]/)(?<!\\.\\./)"}${escapeRegExp(from)}(?![\\w-])`,
        "g",
      ),
    }));
}

function rewriteText(text: string, replacements: ReturnType<typeof pathReplacements>): string {
  let result = text;
  for (const [from, to] of STRING_RULES) result = result.split(from).join(to);
  // One pass per replacement over a text whose already-replaced spans are protected by a marker,
  // so a new path is never taken for an old one.
  const placed: string[] = [];
  for (const { pattern, to } of replacements) {
    result = result.replace(pattern, () => {
      placed.push(to);
      return `\uE000${placed.length - 1}\uE000`;
    });
  }
  return result.replace(/\uE000(\d+)\uE000/g, (_, index: string) => placed[Number(index)] ?? "");
}

/** ARCHITECTURE.md's "Layers" section, generated from the tree (only once the layers exist). */
function layersSection(): string | undefined {
  const list = (dir: string): string[] =>
    fs.existsSync(abs(dir))
      ? fs
          .readdirSync(abs(dir), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => entry.name)
          .sort()
      : [];
  const features = list("src/features");
  const platform = list("src/platform");
  if (features.length === 0 || platform.length === 0) return undefined;
  const pipeline = list("src/features/uploads");
  const code = (names: string[], prefix: string): string => names.map((name) => `\`${prefix}${name}\``).join(", ");
  return `## Layers

| layer | folders | rule |
|---|---|---|
| entry | \`src/index.ts\` (fetch, queue dispatch, cron, Durable Object exports), \`src/app.ts\` (middleware order, feature routers, OpenAPI document) | wires features; nothing imports it |
| features | ${code(features, "src/features/")}; the upload pipeline is one feature, \`src/features/uploads\` (its HTTP face) with ${code(pipeline, "")} | each has its routes, schemas, service (and policy where it decides access); rules live in services, routes validate and authorize; its tests are in \`test/<feature>/\` |
| platform | ${code(platform, "src/platform/")} | database, cache, queues, storage, config, the request's HTTP plumbing and who is calling, small shared helpers; used by features, uses no feature; its tests are in \`test/platform/\` |

Imports point one way: entry → features → platform, and no folder imports a folder that imports
it. \`npm run lint\` checks both (\`lint:layers\`: dependency-cruiser with \`.dependency-cruiser.cjs\`).
Inside the pipeline the order is \`uploads/jobs\` → \`uploads\` → \`uploads/ingest\` → \`uploads/progress\`
(and \`uploads/rows\` → \`uploads/ingest\`); \`progress\` imports only the platform (its watchdog's
queue message is defined beside it, in \`progress/reconcile-message.ts\`, and the ingest queue's
message union takes it from there).
Shared test support (HTTP helpers, user, organisation and upload factories) is in \`test/support/\`;
suites about the whole API as one contract are in \`test/app/\`.

One error type (\`platform/lib/errors.ts\`, \`ApiError\`) is mapped to responses in
\`platform/http/error-handler.ts\` and nowhere else.

`;
}

function replaceLayersSection(text: string, section: string): string {
  const start = text.indexOf("## Layers\n");
  if (start === -1) return text;
  const next = text.indexOf("\n## ", start + 1);
  return text.slice(0, start) + section + (next === -1 ? "" : text.slice(next + 1));
}

function textFiles(): string[] {
  const listed = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
    cwd: ROOT,
    encoding: "utf8",
  })
    .split("\n")
    .filter((file) => file !== "" && fs.existsSync(abs(file)));
  return [...new Set(listed)]
    .filter((file) => !UNTOUCHED.test(file) && (file.endsWith(".ts") || TEXT_FILES.test(file)))
    .sort();
}

function isTracked(file: string): boolean {
  try {
    execFileSync("git", ["ls-files", "--error-unmatch", file], { cwd: ROOT, stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function removeEmptyFolders(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeEmptyFolders(path.join(dir, entry.name));
  }
  if (fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
}

function main(): void {
  const options = new Command()
    .name("npm run relayout --")
    .description("Move src/ and test/ into the features/platform layout and rewrite every path to them.")
    .option("--dry-run", "print the moves, change nothing")
    .option("--no-check", "skip the layer check (dependency-cruiser) at the end")
    .parse()
    .opts<{ dryRun?: boolean; check: boolean }>();

  const warnings: string[] = [];
  const moves = planMoves((message) => warnings.push(message));
  for (const warning of warnings) console.log(`warning: ${warning}`);
  if (moves.size === 0) console.log("relayout: nothing to move");
  for (const [from, to] of moves) console.log(`move ${from} → ${to}`);
  if (options.dryRun) return;

  const touchedFiles = new Set<string>();
  // 1. Imports, while every file is still where the specifiers say.
  const project = new Project({ skipAddingFilesFromTsConfig: true, skipFileDependencyResolution: true });
  const globs = ["src/**/*.ts", "test/**/*.ts", "scripts/**/*.ts", "client/**/*.ts", "*.ts"];
  project.addSourceFilesAtPaths(globs.map((glob) => path.join(ROOT, glob)));
  let importCount = 0;
  for (const sourceFile of project.getSourceFiles().sort((a, b) => a.getFilePath().localeCompare(b.getFilePath()))) {
    const importer = rel(sourceFile.getFilePath());
    if (UNTOUCHED.test(importer)) continue;
    let changed = 0;
    for (const literal of moduleSpecifiers(sourceFile)) {
      const rewritten = rewriteSpecifier(importer, literal.getLiteralValue(), moves);
      if (rewritten === undefined) continue;
      literal.setLiteralValue(rewritten);
      changed++;
    }
    if (changed > 0) {
      sourceFile.saveSync();
      touchedFiles.add(moves.get(importer) ?? importer);
      importCount += changed;
      console.log(`imports ${importer}: ${changed} rewritten`);
    }
  }

  // 2. The moves, with git so history follows.
  for (const [from, to] of moves) {
    fs.mkdirSync(path.dirname(abs(to)), { recursive: true });
    if (isTracked(from)) execFileSync("git", ["mv", from, to], { cwd: ROOT });
    else fs.renameSync(abs(from), abs(to));
  }
  removeEmptyFolders(abs("src"));
  removeEmptyFolders(abs("test"));

  // 3. Paths in text: docs, configs, comments, the mutation feature map.
  const replacements = pathReplacements(moves);
  let textCount = 0;
  for (const file of textFiles()) {
    const before = fs.readFileSync(abs(file), "utf8");
    let after = rewriteText(before, replacements);
    const section = file === "ARCHITECTURE.md" ? layersSection() : undefined;
    if (section !== undefined) after = replaceLayersSection(after, section);
    if (after !== before) {
      fs.writeFileSync(abs(file), after);
      touchedFiles.add(file);
      textCount++;
      console.log(`paths ${file}: updated`);
    }
  }
  console.log(`relayout: ${moves.size} files moved, ${importCount} imports and ${textCount} files of text rewritten`);

  // Imports sorted again and long lines wrapped again where paths changed length (Biome's safe fixes).
  const touched = [...touchedFiles].filter((file) => fs.existsSync(abs(file)) && /\.(ts|json|cjs)$/.test(file)).sort();
  if (touched.length > 0) {
    try {
      execFileSync(path.join(ROOT, "node_modules/.bin/biome"), ["check", "--write", ...touched], {
        cwd: ROOT,
        stdio: ["ignore", "ignore", "inherit"],
      });
    } catch {
      console.log("relayout: biome left findings in the files above it could not fix (npm run lint)");
    }
  }

  // 4. The layer rules, on the result: which imports (if any) break them.
  if (options.check) {
    try {
      execFileSync(path.join(ROOT, "node_modules/.bin/depcruise"), ["src", "--config", ".dependency-cruiser.cjs"], {
        cwd: ROOT,
        stdio: "inherit",
      });
      console.log("relayout: the layer rules hold (npm run lint:layers)");
    } catch {
      console.log("relayout: the imports above break the layer rules (npm run lint:layers)");
      process.exitCode = 1;
    }
  }
}

main();
