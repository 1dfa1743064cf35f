/**
 * Turns zod failures into the API's 400 shape: a sentence naming the fields, plus one entry per
 * field. Every message reads as "<field> <message>": a schema's own message where it has one,
 * otherwise the sentence `apiMessage` gives each kind of problem, never zod's library text.
 */
import { z } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import { ApiError, type FieldError } from "./errors.ts";

type Issue = z.core.$ZodRawIssue;

const EXPECTED: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  bigint: "a whole number",
  boolean: "true or false",
  array: "a list",
  object: "an object",
  date: "a date",
  null: "null",
  file: "a file",
};

const FORMATS: Record<string, string> = {
  email: "must be a valid email address",
  uuid: "must be a UUID",
  url: "must be a URL",
  datetime: "must be an ISO 8601 date-time",
  date: "must be a date as YYYY-MM-DD",
  regex: "is not in the expected format",
};

function bound(issue: { origin: string; inclusive?: boolean }, value: number | bigint | Date, side: "min" | "max") {
  const n = String(value);
  switch (issue.origin) {
    case "string":
      if (side === "min" && n === "1") return "must not be empty";
      return `must be ${side === "min" ? "at least" : "at most"} ${n} characters`;
    case "array":
    case "set":
      return `must have ${side === "min" ? "at least" : "at most"} ${n} items`;
    default:
      if (issue.inclusive === false) return `must be ${side === "min" ? "more" : "less"} than ${n}`;
      return side === "min" ? `must be ${n} or more` : `must be at most ${n}`;
  }
}

/** The API's sentence for a problem a schema gave no message for. */
export function apiMessage(issue: Issue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "is required";
      return `must be ${EXPECTED[issue.expected] ?? issue.expected}`;
    case "too_small":
      return bound(issue, issue.minimum, "min");
    case "too_big":
      return bound(issue, issue.maximum, "max");
    case "invalid_format":
      return FORMATS[issue.format] ?? `must be a valid ${issue.format}`;
    case "invalid_value":
      return `must be one of ${issue.values.map(String).join(", ")}`;
    case "not_multiple_of":
      return `must be a multiple of ${String(issue.divisor)}`;
    case "unrecognized_keys":
      return "is not a known field";
    case "invalid_union":
      return "is not in any accepted form";
    default:
      return "is invalid";
  }
}

// Applies to every schema that sets no message of its own (zod consults it before its locale).
z.config({ customError: apiMessage });

export function fieldErrors(error: ZodError, prefix?: string): FieldError[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map(String);
    const field = (parts: string[]) => [prefix, parts.join(".")].filter(Boolean).join(".") || "body";
    // One entry per unknown key, named like any other field, so `errors` names each of them.
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ field: field([...path, key]), message: issue.message }));
    }
    return [{ field: field(path), message: issue.message }];
  });
}

/**
 * The 400 for a list of field errors: the sentence names every field with its own first message
 * (`Invalid input in email: must be a string; password: is required.`), so it never reads as if
 * one field's problem were every field's.
 */
export function invalidFields(errors: FieldError[]): ApiError {
  const firstMessage = new Map<string, string>();
  for (const { field, message } of errors) if (!firstMessage.has(field)) firstMessage.set(field, message);
  const parts = [...firstMessage].map(([field, message]) => `${field}: ${message}`);
  return ApiError.badRequest(`Invalid input in ${parts.length > 0 ? parts.join("; ") : "the request"}.`, errors);
}

export function validationError(error: ZodError, target?: string): ApiError {
  const prefix =
    target === "json" || target === "form" || target === "query" || target === "param" ? undefined : target;
  return invalidFields(fieldErrors(error, prefix));
}

/**
 * A query string's 400. A parameter given twice reaches the schema as a list, which would read
 * "must be a string" or "must be one of …" about values that may each be valid, so a parameter
 * the route takes, given more than once, is named as such; every other problem as the schema
 * found it (a parameter the route does not take stays "not a query parameter", however often).
 */
export function invalidQuery(error: ZodError, given: Record<string, string[]>): ApiError {
  const unknown = new Set(error.issues.flatMap((issue) => (issue.code === "unrecognized_keys" ? issue.keys : [])));
  const repeated = Object.entries(given)
    .filter(([name, values]) => values.length > 1 && !unknown.has(name))
    .map(([name]) => name);
  if (repeated.length === 0) return validationError(error, "query");
  return invalidFields([
    ...repeated.map((field) => ({ field, message: "may be given only once" })),
    ...fieldErrors(error).filter((e) => !repeated.includes(e.field)),
  ]);
}

/** NUL, or half of a UTF-16 surrogate pair without the other half. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function textProblem(text: string): string | null {
  if (text.includes("\u0000")) return "must not contain NUL characters";
  if (LONE_SURROGATE.test(text)) return "must be valid Unicode (it contains an unpaired surrogate)";
  return null;
}

/**
 * Every string in validated input that Postgres cannot store as sent: `text` and `jsonb` reject
 * NUL (a query fails, which would be a 500), and the driver's UTF-8 encoding silently turns an
 * unpaired surrogate into U+FFFD (the stored value would differ from what was sent). Checked once
 * for every route, so no feature can forget it. File names of uploaded files count too.
 */
export function unstorableText(value: unknown, path: string[] = []): FieldError[] {
  const field = path.join(".") || "body";
  if (typeof value === "string") {
    const problem = textProblem(value);
    return problem ? [{ field, message: problem }] : [];
  }
  if (value instanceof File) {
    const problem = textProblem(value.name);
    return problem ? [{ field, message: `file name ${problem}` }] : [];
  }
  if (Array.isArray(value)) return value.flatMap((item, index) => unstorableText(item, [...path, String(index)]));
  if (value !== null && typeof value === "object") {
    const prototype = Object.getPrototypeOf(value);
    // Parsed values such as Dates are the schema's own output, not client text.
    if (prototype !== Object.prototype && prototype !== null) return [];
    return Object.entries(value).flatMap(([key, item]) => unstorableText(item, [...path, key]));
  }
  return [];
}
