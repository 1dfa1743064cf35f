/** Turns zod failures into the API's 400 shape: a sentence naming the fields, plus one entry per field. */
import type { ZodError } from "zod";
import { ApiError, type FieldError } from "./errors.ts";

export function fieldErrors(error: ZodError, prefix?: string): FieldError[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    return { field: [prefix, path].filter(Boolean).join(".") || "body", message: issue.message };
  });
}

/** The 400 for a list of field errors: the sentence names every field and quotes the first message. */
export function invalidFields(errors: FieldError[]): ApiError {
  const named = [...new Set(errors.map((e) => e.field))].join(", ");
  return ApiError.badRequest(`Invalid input in ${named}: ${errors[0]?.message ?? "invalid value"}.`, errors);
}

export function validationError(error: ZodError, target?: string): ApiError {
  const prefix =
    target === "json" || target === "form" || target === "query" || target === "param" ? undefined : target;
  return invalidFields(fieldErrors(error, prefix));
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
