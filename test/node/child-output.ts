/** What a child process wrote, once it has ended. */
import type { ChildProcessWithoutNullStreams } from "node:child_process";

export interface ChildOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Collects a spawned child's stdout and stderr until it closes. */
export function outputOf(child: ChildProcessWithoutNullStreams): Promise<ChildOutput> {
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
