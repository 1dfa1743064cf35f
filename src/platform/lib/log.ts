/**
 * Structured logs: one JSON object per line, which Workers Logs indexes field by field.
 * Callers pass already-masked ids (see `mask.ts`); tokens and passwords are never logged.
 */
type Level = "debug" | "info" | "warn" | "error";

export function log(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, message, time: new Date().toISOString(), ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/** The fields of a Postgres error that name what failed without any value (SQLSTATE and where). */
const DATABASE_FIELDS = ["code", "severity", "constraint", "table", "column", "schema", "routine"] as const;
const SQLSTATE = /^[0-9A-Z]{5}$/;
const MAX_CAUSES = 4;

type ErrorLike = Error & Partial<Record<(typeof DATABASE_FIELDS)[number], unknown>>;

/**
 * True for an error raised by a query: it carries a SQLSTATE, or it is the query builder's wrapper
 * (whose message is the statement and its parameters). Their messages are never logged: drizzle's
 * says `params: <every bound value>` (a password hash, session ids, CSV rows) and Postgres's own
 * quote values too (`invalid input syntax for type integer: "…"`, `Failing row contains (…)`).
 */
function isQueryError(error: ErrorLike): boolean {
  if (typeof error.code === "string" && SQLSTATE.test(error.code)) return true;
  return "params" in error && "query" in error;
}

/** The class name: drizzle's query wrapper leaves `name` as plain "Error". */
function className(error: Error): string {
  const constructorName = error.constructor?.name;
  return constructorName && constructorName !== "Error" ? constructorName : error.name;
}

/** Connection strings can appear in driver messages; credentials never reach a log. */
function scrub(message: string): string {
  return message.replace(/postgres(ql)?:\/\/\S+/gi, "postgres://***").slice(0, 500);
}

/** The stack's frames only: its first lines repeat the message, which may hold values. */
function frames(stack: string | undefined): string | undefined {
  const lines = stack?.split("\n").filter((line) => /^\s+at /.test(line));
  return lines?.length ? lines.join("\n") : undefined;
}

function describe(error: ErrorLike): Record<string, unknown> {
  const fields: Record<string, unknown> = { name: className(error) };
  if (!isQueryError(error)) fields.message = scrub(error.message);
  for (const field of DATABASE_FIELDS) {
    const value = error[field];
    if (typeof value === "string" && value) fields[field === "code" ? "sqlstate" : field] = value;
  }
  return fields;
}

/**
 * What went wrong, for a log line: the error's class, its message unless it came from a query,
 * the SQLSTATE, constraint, table and column of any Postgres error in its cause chain, each
 * cause's class, and the stack frames. Codes and causes, never values.
 */
export function errorFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: typeof error === "string" ? scrub(error) : "non-error thrown" };
  const chain: ErrorLike[] = [];
  for (let current: unknown = error; current instanceof Error && chain.length <= MAX_CAUSES; current = current.cause) {
    chain.push(current);
  }
  const [top, ...causes] = chain.map(describe);
  const fields: Record<string, unknown> = { error_name: top?.name };
  if (top?.message !== undefined) fields.error = top.message;
  // The first SQLSTATE in the chain (a query wrapper's cause holds it), flattened for indexing.
  const database = chain.map(describe).find((described) => described.sqlstate !== undefined);
  if (database) {
    for (const [name, value] of Object.entries(database)) {
      if (name !== "name" && name !== "message") fields[name] = value;
    }
  }
  if (causes.length > 0) fields.causes = causes;
  const stack = frames(error.stack);
  if (stack) fields.stack = stack;
  return fields;
}
