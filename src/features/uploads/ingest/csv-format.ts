/**
 * Column naming and typing rules for ingested CSV files: header normalisation to unique
 * snake_case keys, per-column type inference from a sample, and conversion of each cell to the
 * typed JSON value stored in JSONB (so numbers compare as numbers in later queries).
 */
import type { UploadColumn } from "../../../platform/db/schema.ts";
import { exactNumber, type RawJson } from "../../../platform/lib/exact-json.ts";

export type ColumnType = UploadColumn["type"];

/** `"Unit Price (€)"` → `unit_price`; diacritics folded, anything else non-alphanumeric becomes `_`. */
export function normaliseHeader(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
}

/**
 * The longest column key: Postgres's identifier length. Every stored row repeats every key (and
 * the search index indexes them), so an unbounded header would multiply the storage a file costs;
 * keys of this length also keep their per-column index.
 */
export const MAX_KEY_LENGTH = 63;

/**
 * Caps normalised keys at `MAX_KEY_LENGTH`. Keys that fit are kept as they are; a longer one is
 * cut, and when the cut collides with another key it gets the first free `_2`, `_3`, … suffix
 * (still within the limit). `keys` must already be non-empty and distinct.
 */
export function capKeys(keys: string[]): string[] {
  const used = new Set(keys.filter((key) => key.length <= MAX_KEY_LENGTH));
  return keys.map((key) => {
    if (key.length <= MAX_KEY_LENGTH) return key;
    const cut = (text: string, length: number) => text.slice(0, length).replace(/_+$/, "");
    let candidate = cut(key, MAX_KEY_LENGTH);
    for (let n = 2; used.has(candidate); n++) {
      const suffix = `_${n}`;
      candidate = `${cut(key, MAX_KEY_LENGTH - suffix.length)}${suffix}`;
    }
    used.add(candidate);
    return candidate;
  });
}

const INTEGER = /^[+-]?(0|[1-9]\d*)$/;
// Leading zeros ("007") stay strings: they are identifiers, not quantities.
const NUMBER = /^[+-]?(0|[1-9]\d*)?(\.\d+)?([eE][+-]?\d+)?$/;
const BOOLEAN = /^(true|false)$/i;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(:(\d{2})(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/** Days in a month of the proleptic Gregorian calendar, as JavaScript's `Date` counts them. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * A real calendar day from year 100 on. Years 0-99 are refused: `Date.UTC` reads them as
 * 1900-1999, so they cannot be stored and read back as written. Computed without a `Date`: this
 * runs for every date and datetime cell of every ingested row.
 */
function validDate(y: string, m: string, d: string): boolean {
  const year = Number(y);
  const month = Number(m);
  const day = Number(d);
  return year >= 100 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/**
 * Integers of any size: the ones a double cannot hold (ids, account numbers, snowflakes) are kept
 * as their exact digits and stored as jsonb numbers, which compare and sort exactly.
 */
function parseInteger(value: string): number | RawJson | undefined {
  return INTEGER.test(value) ? exactNumber(value) : undefined;
}

/** Decimals keep every significant digit; beyond a double's range (`1e400`) a value is not a number. */
function parseNumber(value: string): number | RawJson | undefined {
  if (!/\d/.test(value) || !NUMBER.test(value)) return undefined;
  return exactNumber(value);
}

function parseDate(value: string): string | undefined {
  const m = DATE.exec(value);
  return m?.[1] && m[2] && m[3] && validDate(m[1], m[2], m[3]) ? value : undefined;
}

/** Datetimes are stored as ISO 8601 in UTC; a value without an offset is taken as UTC. */
function parseDatetime(value: string): string | undefined {
  const m = DATETIME.exec(value);
  if (!m?.[1] || !m[2] || !m[3] || !validDate(m[1], m[2], m[3])) return undefined;
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[7] ?? 0) > 59) return undefined;
  // Already UTC with whole seconds (the common export format): the stored text is the value's
  // own digits, exactly what `toISOString` would give, without building a Date.
  if (m[8] === undefined && (m[9] === undefined || m[9] === "Z" || m[9] === "z")) {
    return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[7] ?? "00"}.000Z`;
  }
  const zone = m[9] ? (m[9].toUpperCase() === "Z" ? "Z" : m[9].replace(/^([+-]\d{2})(\d{2})$/, "$1:$2")) : "Z";
  const iso = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[7] ?? "00"}${m[8] ?? ""}${zone}`;
  const time = Date.parse(iso);
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}

const parsers: Record<Exclude<ColumnType, "string">, (value: string) => unknown> = {
  integer: parseInteger,
  number: parseNumber,
  boolean: (value) => (BOOLEAN.test(value) ? value.toLowerCase() === "true" : undefined),
  date: parseDate,
  datetime: parseDatetime,
};

const CANDIDATES: Exclude<ColumnType, "string">[] = ["integer", "number", "boolean", "date", "datetime"];

/** The narrowest type every non-empty sample value fits; `string` when none (or no values). */
export function inferType(values: string[]): ColumnType {
  const present = values.map((v) => v.trim()).filter((v) => v !== "");
  if (present.length === 0) return "string";
  for (const type of CANDIDATES) {
    if (present.every((value) => parsers[type](value) !== undefined)) return type;
  }
  return "string";
}

export type Converted = { ok: true; value: unknown } | { ok: false; reason: string };

/** What `convertCell` answers for a value that does not fit its column. */
export const INVALID: unique symbol = Symbol("invalid cell");

/**
 * The stored value of one cell, or `INVALID`. Empty cells are `null` whatever the type. No object
 * per cell: the chunk step calls this for every cell of every row.
 */
export function convertCell(raw: string, type: ColumnType): unknown {
  if (type === "string") return raw === "" ? null : raw;
  const trimmed = raw.trim();
  if (trimmed === "") return null;
  const value = parsers[type](trimmed);
  return value === undefined ? INVALID : value;
}

/** Why `raw` does not fit a column of `type`. */
export function invalidReason(raw: string, type: ColumnType): string {
  return `'${truncate(raw)}' is not a valid ${type}`;
}

/** Empty cells are `null` whatever the type; a value that does not fit its column is an error. */
export function convertValue(raw: string, type: ColumnType): Converted {
  const value = convertCell(raw, type);
  return value === INVALID ? { ok: false, reason: invalidReason(raw, type) } : { ok: true, value };
}

function truncate(value: string): string {
  return value.length > 40 ? `${value.slice(0, 40)}…` : value;
}
