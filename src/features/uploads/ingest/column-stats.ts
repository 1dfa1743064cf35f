/**
 * Column statistics: per column, the empty cells (`nulls`), the distinct values, and the smallest
 * and largest value in the column's type. A chunk gathers partials over the rows it stores (a
 * rejected record counts nowhere), committed with its rows; the upload's outcome merges every
 * chunk's partials once. The rules:
 *
 * - numbers compare numerically and exactly (values a double cannot hold by their digits); dates
 *   and datetimes chronologically (their stored ISO text, fixed width, sorts so); booleans `false`
 *   before `true`; strings by their text (UTF-16 code units, as JavaScript compares them);
 * - a bound is stored as text for numbers (exact digits, `numberText`) and as the value itself
 *   otherwise, so it survives JSON without losing a digit;
 * - `distinct` counts non-empty values (distinct-sketch.ts: exact up to 10,000, estimated above).
 *
 * The per-cell work is a null test, at most two comparisons and one hash into the column's sketch,
 * all on the value the chunk step has already typed (nothing is parsed again): numbers are hashed
 * by their bits, text in one pass (short texts by their code units, long ones by their UTF-8 bytes).
 * Pure and free of Worker types.
 */
import type {
  ChunkColumnStats,
  UploadColumn,
  UploadColumnStats,
  UploadStatBound,
} from "../../../platform/db/schema.ts";
import { exactNumber, isExactNumber, numberText, type RawJson } from "../../../platform/lib/exact-json.ts";
import { type DecodedSketch, DistinctSketch, hash53, hashNumber, type SketchJson } from "./distinct-sketch.ts";

type ColumnType = UploadColumn["type"];

/** Compares two decimal texts exactly: negative, zero or positive as `a` is below, equal to or above `b`. */
export function compareDecimal(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  if (x !== y) return x < y ? -1 : 1;
  if (a === b) return 0;
  // Equal as doubles: only their digits can tell them apart.
  const p = decimalParts(a);
  const q = decimalParts(b);
  if (!p || !q) return 0;
  const sign = p.negative ? -1 : 1;
  if (p.negative !== q.negative) return p.digits === "" && q.digits === "" ? 0 : sign;
  if (p.digits === "" || q.digits === "") return p.digits === q.digits ? 0 : p.digits === "" ? -sign : sign;
  if (p.point !== q.point) return p.point < q.point ? -sign : sign;
  return p.digits === q.digits ? 0 : p.digits < q.digits ? -sign : sign;
}

/** `-12.50e3` → sign, significant digits `125`, decimal point after 5 digits (0.125 × 10^5). */
function decimalParts(text: string): { negative: boolean; digits: string; point: number } | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) return undefined;
  // `(\d*)` always takes part in a match; the fraction and the exponent may not.
  const whole = m[2] as string;
  const all = `${whole}${m[3] ?? ""}`;
  const significant = all.replace(/^0+/, "");
  const point = whole.length + Number(m[4] ?? 0) - (all.length - significant.length);
  return { negative: m[1] === "-", digits: significant.replace(/0+$/, ""), point };
}

/**
 * Stored datetimes are `YYYY-MM-DDTHH:MM:SS.sssZ`, fixed width, so they sort as text; only years
 * outside 0–9999 are written with a sign (`+010000-…`, `-000001-…`) and need parsing.
 */
function datetimeLess(a: string, b: string): boolean {
  return isPlainDatetime(a) && isPlainDatetime(b) ? a < b : Date.parse(a) < Date.parse(b);
}

/** A datetime without a sign: it starts with a digit (from 48), not `+` (43) or `-` (45). */
function isPlainDatetime(text: string): boolean {
  return text.charCodeAt(0) >= 48;
}

/**
 * Whether `add` may compare a datetime column's value with its bounds as texts: the value and the
 * largest bound are plain. The smallest needs no test: a signed one is either a year before 0
 * (`-…`, below every digit as text as in time) or past 9999, and then so is the largest.
 */
function plainDatetimes(value: string, max: string): boolean {
  return isPlainDatetime(value) && isPlainDatetime(max);
}

/** Whether number `a` sorts before `b`: a plain one as itself, an exact one (RawJson) by its digits. */
function numberLess(a: unknown, b: unknown): boolean {
  return typeof a === "number" && typeof b === "number"
    ? a < b
    : compareDecimal(numberText(a as number | RawJson), numberText(b as number | RawJson)) < 0;
}

/**
 * Whether stored bound `a` sorts before `b` in a column of `type`. Both are of the column's kind
 * (the merger refuses any other, `isBoundOf`): texts, or booleans in a boolean column.
 */
function boundLess(type: ColumnType, a: UploadStatBound, b: UploadStatBound): boolean {
  if (type === "integer" || type === "number") return compareDecimal(String(a), String(b)) < 0;
  if (type === "datetime") return datetimeLess(String(a), String(b));
  // Text by its UTF-16 code units; `false` before `true`.
  return a < b;
}

/** A typed cell value as a stored bound. */
function toBound(value: unknown): UploadStatBound | null {
  if (typeof value === "boolean" || typeof value === "string") return value;
  return isExactNumber(value) ? numberText(value) : null;
}

const TRUE_HASH = hash53("true");
const FALSE_HASH = hash53("false");

/** A typed cell value's hash: numbers by value (an exact one by its digits), the rest by their text. */
function hashOf(value: unknown): number {
  if (typeof value === "string") return hash53(value);
  if (typeof value === "number") return hashNumber(value);
  if (typeof value === "boolean") return value ? TRUE_HASH : FALSE_HASH;
  return hash53(numberText(value as RawJson));
}

/**
 * The columns whose values `ChunkStats.add` compares inline with `<` and `>`: text by its code
 * units, dates by their fixed-width ISO text, booleans as JavaScript orders them (`false < true`).
 * The others (numbers that may be exact, datetimes that may be signed) compare with their function,
 * except datetimes whose year has no sign, which `add` compares inline too.
 */
const INLINE: Record<ColumnType, boolean> = {
  integer: false,
  number: false,
  date: true,
  string: true,
  datetime: false,
  boolean: true,
};

/** Gathers one chunk's partials, row by row, over the rows it stores. */
export class ChunkStats {
  private readonly inline: boolean[];
  private readonly nulls: number[];
  private readonly mins: unknown[];
  private readonly maxes: unknown[];
  private readonly sketches: DistinctSketch[];
  private readonly less: ((a: never, b: never) => boolean)[];

  constructor(columns: readonly UploadColumn[]) {
    this.inline = columns.map((column) => INLINE[column.type]);
    this.nulls = columns.map(() => 0);
    this.mins = columns.map(() => null);
    this.maxes = columns.map(() => null);
    this.sketches = columns.map(() => new DistinctSketch());
    this.less = columns.map((column) => (column.type === "datetime" ? datetimeLess : numberLess));
  }

  /**
   * One stored row's typed values, in column order. The common cases (plain numbers, and the
   * columns compared inline, and datetimes of four-digit years) compare here; exact numbers and
   * signed datetimes take their function.
   */
  add(row: readonly unknown[]): void {
    const { inline, nulls, mins, maxes, sketches } = this;
    for (let c = 0; c < row.length; c++) {
      const value = row[c];
      if (value === null) {
        nulls[c] = (nulls[c] as number) + 1;
        continue;
      }
      const min = mins[c];
      const max = maxes[c];
      if (min === null) {
        mins[c] = value;
        maxes[c] = value;
      } else if (typeof value === "number" && typeof min === "number" && typeof max === "number") {
        // Only while both bounds are plain numbers: a bound that is an exact number (RawJson, one a
        // double cannot hold) compares only through `numberLess`.
        if (value < min) mins[c] = value;
        else if (value > max) maxes[c] = value;
      } else if (typeof value === "string" && (inline[c] || plainDatetimes(value, max as string))) {
        // Texts compare code unit by code unit, so where their first units differ those decide,
        // as an integer comparison; only a tie (or an empty text, whose first unit is NaN and
        // compares false both ways) compares the texts.
        const first = value.charCodeAt(0);
        const low = (min as string).charCodeAt(0);
        const high = (max as string).charCodeAt(0);
        if (first < low || (!(first > low) && value < (min as string))) mins[c] = value;
        else if (first > high || (!(first < high) && value > (max as string))) maxes[c] = value;
      } else if (inline[c]) {
        // Booleans: `false` before `true`.
        if ((value as string) < (min as string)) mins[c] = value;
        else if ((value as string) > (max as string)) maxes[c] = value;
      } else {
        const less = this.less[c] as (a: unknown, b: unknown) => boolean;
        if (less(value, min)) mins[c] = value;
        if (less(max, value)) maxes[c] = value;
      }
      (sketches[c] as DistinctSketch).addHash(hashOf(value));
    }
  }

  /** The chunk's partials, as committed with its rows. */
  partials(): ChunkColumnStats[] {
    return this.nulls.map((nulls, c) => ({
      nulls,
      min: toBound(this.mins[c]),
      max: toBound(this.maxes[c]),
      distinct: (this.sketches[c] as DistinctSketch).toJSON(),
    }));
  }
}

/**
 * Unites chunk partials into an upload's statistics. `add` refuses (returns false) partials that
 * do not fit the columns, so the caller can give no statistics rather than wrong ones.
 */
export class StatsMerger {
  private readonly nulls: number[];
  private readonly mins: (UploadStatBound | null)[];
  private readonly maxes: (UploadStatBound | null)[];
  private readonly sketches: DistinctSketch[];
  private readonly columns: readonly UploadColumn[];

  constructor(columns: readonly UploadColumn[]) {
    this.columns = columns;
    this.nulls = columns.map(() => 0);
    this.mins = columns.map(() => null);
    this.maxes = columns.map(() => null);
    this.sketches = columns.map(() => new DistinctSketch());
  }

  add(partials: unknown): boolean {
    if (!Array.isArray(partials) || partials.length !== this.columns.length) return false;
    const parsed: {
      nulls: number;
      min: UploadStatBound | null;
      max: UploadStatBound | null;
      sketch: DecodedSketch;
    }[] = [];
    for (const [c, partial] of partials.entries()) {
      const valid = validPartial(partial, (this.columns[c] as UploadColumn).type);
      if (!valid) return false;
      parsed.push(valid);
    }
    for (const [c, partial] of parsed.entries()) {
      const type = (this.columns[c] as UploadColumn).type;
      this.nulls[c] = (this.nulls[c] as number) + partial.nulls;
      const min = this.mins[c] ?? null;
      if (partial.min !== null && (min === null || boundLess(type, partial.min, min))) this.mins[c] = partial.min;
      const max = this.maxes[c] ?? null;
      if (partial.max !== null && (max === null || boundLess(type, max, partial.max))) this.maxes[c] = partial.max;
      (this.sketches[c] as DistinctSketch).merge(partial.sketch);
    }
    return true;
  }

  result(): UploadColumnStats[] {
    return this.nulls.map((nulls, c) => ({
      nulls,
      distinct: (this.sketches[c] as DistinctSketch).count(),
      min: this.mins[c] ?? null,
      max: this.maxes[c] ?? null,
    }));
  }
}

/**
 * Whether `value` can be a stored bound of a column of `type`: a boolean in a boolean column, a
 * text in any other. A bound of the other kind cannot be ordered against the column's own, so the
 * partials holding it are refused like any other malformed ones.
 */
function isBoundOf(type: ColumnType, value: unknown): value is UploadStatBound | null {
  return value === null || typeof value === (type === "boolean" ? "boolean" : "string");
}

function validPartial(
  partial: unknown,
  type: ColumnType,
): { nulls: number; min: UploadStatBound | null; max: UploadStatBound | null; sketch: DecodedSketch } | undefined {
  if (typeof partial !== "object" || partial === null) return undefined;
  const { nulls, min, max, distinct } = partial as Record<string, unknown>;
  if (!Number.isSafeInteger(nulls) || (nulls as number) < 0 || !isBoundOf(type, min) || !isBoundOf(type, max)) {
    return undefined;
  }
  if (typeof distinct !== "object" || distinct === null) return undefined;
  const { exact, registers, sparse } = distinct as Record<string, unknown>;
  let json: SketchJson;
  if (typeof exact === "string") json = { exact };
  else if (typeof sparse === "string") json = { sparse };
  else if (typeof registers === "string") json = { registers };
  else return undefined;
  try {
    return { nulls: nulls as number, min, max, sketch: DistinctSketch.decode(json) };
  } catch {
    return undefined;
  }
}

/** A stored bound in the column's type for an answer: numbers as exact numbers again. */
export function boundValue(type: ColumnType, bound: UploadStatBound | null): StatValue | null {
  if (bound === null || typeof bound === "boolean" || (type !== "integer" && type !== "number")) return bound;
  return exactNumber(bound) ?? null;
}

/** A bound as answered: a number (exact, see exact-json.ts), a text or a boolean. */
export type StatValue = UploadStatBound | number | RawJson;
