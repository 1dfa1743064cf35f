/**
 * The typed client's OpenAPI types (client/schema.d.ts) are generated from the route definitions
 * and committed. A route whose contract changes without `npm run client:generate` must fail the
 * build, and a regenerated file must pass it.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChildOutput, outputOf } from "./child-output.ts";

const REPO = path.resolve(import.meta.dirname, "../..");
const COMMITTED = path.join(REPO, "client", "schema.d.ts");

function clientCheck(args: string[]): Promise<ChildOutput> {
  return outputOf(spawn("npm", ["--prefix", REPO, "run", "--silent", "client:check", "--", ...args], { cwd: REPO }));
}

describe("the committed typed client", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "edge-tasks-client-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Each check builds the document and runs the generator and formatter: seconds on a busy machine.
  it("matches the OpenAPI document the app serves", { timeout: 120_000 }, async () => {
    const { code, stdout, stderr } = await clientCheck([]);
    expect(stderr).toBe("");
    expect(stdout).toContain("client/schema.d.ts matches the OpenAPI document");
    expect(code).toBe(0);
  });

  it("is reported stale when it differs from the document by one field", { timeout: 120_000 }, async () => {
    const stale = path.join(dir, "schema.d.ts");
    const text = readFileSync(COMMITTED, "utf8");
    // The login request losing its password: what a forgotten regeneration after a change looks like.
    const edited = text.replace(/(LoginRequest: \{\n\s+email: string;\n)\s+password: string;\n/, "$1");
    expect(edited).not.toBe(text);
    writeFileSync(stale, edited);
    const { code, stderr } = await clientCheck(["--file", stale]);
    expect(code).toBe(1);
    expect(stderr).toContain("is stale: run `npm run client:generate` and commit the result.");
  });
});
