/**
 * Exact numbers in JSON. A JavaScript number is a double: it holds every integer up to
 * 2^53 - 1 and any decimal of at most 15 significant digits, and silently rounds the rest
 * (`1790000000000000001` becomes `1790000000000000000`). Postgres's jsonb stores numbers as
 * `numeric`, with all their digits. So a number a double cannot hold is carried through JavaScript
 * as its decimal text wrapped by `JSON.rawJSON`, which `JSON.stringify` writes back digit for
 * digit, and JSON text is read with `parseExactJson`, which keeps such numbers raw.
 */

/** A JSON value written verbatim by `JSON.stringify` (the `JSON.rawJSON` built-in). */
export interface RawJson {
  readonly rawJSON: string;
}

declare global {
  interface JSON {
    rawJSON(text: string): RawJson;
    isRawJSON(value: unknown): value is RawJson;
    parse(
      text: string,
      reviver: (this: unknown, key: string, value: unknown, context: { source?: string }) => unknown,
    ): unknown;
  }
}

/** The most significant digits every double represents exactly in decimal. */
const DOUBLE_DIGITS = 15;
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function significantDigits(text: string): number {
  const mantissa = text
    .replace(/^[+-]/, "")
    .replace(/[eE].*$/, "")
    .replace(".", "");
  return mantissa.replace(/^0+/, "").replace(/0+$/, "").length;
}

/**
 * The value to store for a decimal `text` (`[+-]digits[.digits][e±digits]`, already checked):
 * a plain number when a double holds it exactly, else its exact JSON text. `undefined` when it is
 * beyond a double's range (`1e400`), which is not treated as a number at all.
 */
export function exactNumber(text: string): number | RawJson | undefined {
  // At most 15 characters and no exponent: at most 15 significant digits, always finite, and zero
  // only when every digit is zero, so the number itself is exact.
  if (text.length <= DOUBLE_DIGITS && !text.includes("e") && !text.includes("E")) return Number(text);
  const n = Number(text);
  if (!Number.isFinite(n)) return undefined;
  const digits = significantDigits(text);
  if (n === 0 && digits > 0) return undefined;
  if (Number.isSafeInteger(n) || digits <= DOUBLE_DIGITS) return n;
  return JSON.rawJSON(canonicalJsonNumber(text));
}

/** `+5` → `5`, `.5` → `0.5`, `-.5` → `-0.5`: the forms CSV allows but JSON does not. */
function canonicalJsonNumber(text: string): string {
  const unsigned = text.replace(/^\+/, "");
  const fixed = unsigned.replace(/^(-?)\./, "$10.");
  if (!JSON_NUMBER.test(fixed)) throw new Error("not a decimal number");
  return fixed;
}

/** A number or an exact number kept as text. */
export function isExactNumber(value: unknown): value is number | RawJson {
  return typeof value === "number" || JSON.isRawJSON(value);
}

/** The decimal text of a number value, exact whichever form it has. */
export function numberText(value: number | RawJson): string {
  return typeof value === "number" ? String(value) : value.rawJSON;
}

/**
 * A run of 16 digits (a dot allowed between them): the only way JSON text can hold a number a
 * double cannot. Text without one parses with plain `JSON.parse`, which is faster.
 */
const LONG_NUMBER = /\d(?:\.?\d){15}/;

/** `JSON.parse` that keeps every number exactly (see `exactNumber`). */
export function parseExactJson(text: string): unknown {
  if (!LONG_NUMBER.test(text)) return JSON.parse(text);
  return JSON.parse(text, (_key, value, context) =>
    typeof value === "number" && context.source !== undefined ? (exactNumber(context.source) ?? value) : value,
  );
}
