/** Turns zod failures into the API's 400 shape: a sentence naming the fields, plus one entry per field. */
import type { ZodError } from "zod";
import { ApiError, type FieldError } from "./errors.ts";

export function fieldErrors(error: ZodError, prefix?: string): FieldError[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    return { field: [prefix, path].filter(Boolean).join(".") || "body", message: issue.message };
  });
}

export function validationError(error: ZodError, target?: string): ApiError {
  const prefix =
    target === "json" || target === "form" || target === "query" || target === "param" ? undefined : target;
  const errors = fieldErrors(error, prefix);
  const named = [...new Set(errors.map((e) => e.field))].join(", ");
  return ApiError.badRequest(`Invalid input in ${named}: ${errors[0]?.message ?? "invalid value"}.`, errors);
}
