/**
 * Strict ISO 8601 parsing. `new Date("2030-02-31")` quietly rolls over to March 3rd, so every
 * date is checked field by field against the calendar before it is accepted.
 */
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:\d{2})$/;

function validCalendarDate(year: number, month: number, day: number): boolean {
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** `YYYY-MM-DD` → midnight UTC of that day, or null when it is not a real date. */
export function parseIsoDate(text: string): Date | null {
  const match = DATE.exec(text);
  if (!match) return null;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (year < 1 || !validCalendarDate(year, month, day)) return null;
  return new Date(Date.UTC(year, month - 1, day));
}

/**
 * A date (`YYYY-MM-DD`, midnight UTC) or a date-time with an explicit offset (`Z` or `±HH:MM`);
 * null when malformed or not on the calendar. A date-time without an offset is rejected: it
 * would mean a different instant in every time zone.
 */
export function parseIsoDateTime(text: string): Date | null {
  const dateOnly = parseIsoDate(text);
  if (dateOnly) return dateOnly;
  const match = DATE_TIME.exec(text);
  if (!match) return null;
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((i) => Number(match[i]));
  const second = Number(match[6] ?? 0);
  if (!validCalendarDate(year ?? 0, month ?? 0, day ?? 0)) return null;
  if ((hour ?? 99) > 23 || (minute ?? 99) > 59 || second > 59) return null;
  const offset = match[8] ?? "Z";
  if (offset !== "Z") {
    const [oh, om] = offset.slice(1).split(":").map(Number);
    if ((oh ?? 99) > 23 || (om ?? 99) > 59) return null;
  }
  const parsed = new Date(text);
  return Number.isNaN(parsed.getTime()) ? null : parsed;
}

/** `YYYY-MM-DD` of a date in UTC. */
export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}
