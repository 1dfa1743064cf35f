/**
 * Validation of an uploaded CSV before any row is written: reads the head of the object and
 * decides delimiter, header, column keys and types, or rejects the file with a reason a person can
 * act on. Everything here is pure: it takes bytes and limits, and returns a layout or a rejection.
 */
import Papa from "papaparse";
import type { UploadColumn } from "../../../platform/db/schema.ts";
import { BoundaryScanner } from "./boundaries.ts";
import { capKeys, inferType, normaliseHeader } from "./csv-format.ts";

/** How much of the file's head is read to validate it and infer column types. */
export const SAMPLE_BYTES = 1024 * 1024;
const SAMPLE_ROWS = 2000;
const DELIMITERS = [",", ";", "\t", "|"];

export interface CsvLayout {
  delimiter: string;
  newline: "\n" | "\r\n";
  columns: UploadColumn[];
  /** Byte offset of the first data record (after BOM and header). */
  dataOffset: number;
  /** Physical line the data starts on (the header is line 1). */
  dataLine: number;
}

export class CsvRejection extends Error {}

const reject = (reason: string): never => {
  throw new CsvRejection(reason);
};

/** `sample` is the first `SAMPLE_BYTES` (or fewer) bytes of an object of `size` bytes. */
export function analyseSample(sample: Uint8Array, size: number, limits: { maxColumns: number }): CsvLayout {
  if (size === 0) reject("The file is empty.");
  const whole = sample.length >= size;
  if (sample.includes(0)) reject("The file looks binary (it contains NUL bytes); upload a UTF-8 text CSV.");
  let text: string;
  try {
    // stream: true keeps a character cut at the sample's end from counting as invalid.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(sample, { stream: !whole });
  } catch {
    return reject("The file is not valid UTF-8 text; re-save it as UTF-8 (a BOM is fine).");
  }
  const bom = sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf ? 3 : 0;
  if (text.trim() === "") reject("The file is empty (it has no header and no rows).");
  const firstLf = text.indexOf("\n");
  if (firstLf === -1 && !whole) reject("The header line is longer than 1 MiB; is this really a CSV?");
  if (firstLf === -1 && text.includes("\r")) reject("Lines end with a bare CR; use LF or CRLF line endings.");
  if (/^\r?\n/.test(text)) reject("The file has no header: its first line is empty.");

  const guess = Papa.parse<string[]>(text.slice(0, 64 * 1024), { preview: 20, delimitersToGuess: DELIMITERS });
  // papaparse needs several consistent rows to guess; a header-only file falls back to the
  // candidate that occurs most in the first line.
  const firstLine = text.slice(0, firstLf === -1 ? undefined : firstLf);
  const occurrences = (d: string) => firstLine.split(d).length - 1;
  const guessed = DELIMITERS.includes(guess.meta.delimiter) ? guess.meta.delimiter : ",";
  const busiest = DELIMITERS.reduce((best, d) => (occurrences(d) > occurrences(best) ? d : best), ",");
  const delimiter = occurrences(guessed) > 0 ? guessed : busiest;

  // papaparse's own guess (CRLF when most CRs precede an LF), so that ingestion splits a file with
  // mixed line endings exactly as papaparse does on the whole file.
  const linebreak = Papa.parse<string[]>(text, { delimiter, preview: 1 }).meta.linebreak;
  if (linebreak === "\r") reject("Lines end with a bare CR; use LF or CRLF line endings.");
  const newline = linebreak === "\r\n" ? "\r\n" : "\n";

  // The header's byte length comes from the same scanner the planner uses, so both agree.
  const scanner = new BoundaryScanner({
    offset: 0,
    firstLine: 1,
    delimiter: delimiter.charCodeAt(0),
    newline,
    chunkBytes: 1,
    maxChunkBytes: Number.MAX_SAFE_INTEGER,
  });
  const [header] = scanner.push(sample.subarray(bom));
  const headerEnd = header
    ? bom + header.end
    : whole
      ? size
      : reject("The header line could not be found in the first 1 MiB.");
  const headerBytes = sample.subarray(bom, headerEnd);
  const headerText = new TextDecoder().decode(headerBytes);
  const parsedHeader = Papa.parse<string[]>(
    headerText.slice(0, headerText.endsWith(newline) ? -newline.length : undefined),
    {
      delimiter,
      newline,
    },
  );
  const names = parsedHeader.data[0] ?? [];
  if (names.length === 0 || names.every((name) => name.trim() === "")) reject("The file has no header row.");
  if (names.length > limits.maxColumns) {
    reject(`The file has ${names.length} columns; at most ${limits.maxColumns} are allowed.`);
  }

  const keys = names.map(normaliseHeader);
  const empty = keys.indexOf("");
  if (empty !== -1) reject(`Column ${empty + 1} ('${names[empty]}') has no usable name.`);
  const seen = new Map<string, string>();
  for (const [i, key] of keys.entries()) {
    const earlier = seen.get(key);
    if (earlier !== undefined) reject(`Columns '${earlier}' and '${names[i]}' both become '${key}'; rename one.`);
    seen.set(key, names[i] ?? key);
  }
  const storedKeys = capKeys(keys);

  const body = new TextDecoder().decode(sample.subarray(headerEnd), { stream: !whole });
  const rows = Papa.parse<string[]>(body, { delimiter, newline, skipEmptyLines: true, preview: SAMPLE_ROWS }).data;
  // A sample cut mid-file ends mid-record; that last record would mislead inference.
  if (!whole && rows.length > 1) rows.pop();
  const wellFormed = rows.filter((row) => row.length === names.length);
  const columns: UploadColumn[] = storedKeys.map((key, i) => ({
    key,
    name: names[i] ?? key,
    type: inferType(wellFormed.map((row) => row[i] ?? "")),
  }));
  const headerLines = headerText.split("\n").length - (headerText.endsWith("\n") ? 1 : 0);
  return { delimiter, newline, columns, dataOffset: headerEnd, dataLine: 1 + headerLines };
}
