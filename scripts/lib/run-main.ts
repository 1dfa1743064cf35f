/** The end of a script: its exit code, or its failure printed with the stack. */

/**
 * Runs `main` and exits with the code it answers (0 when it answers none). A throw prints
 * `<name> failed: <stack>` on stderr and exits 1.
 */
export function runMain(name: string, main: () => Promise<unknown>): void {
  main().then(
    (code) => process.exit(typeof code === "number" ? code : 0),
    (error: unknown) => {
      process.stderr.write(
        `${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
