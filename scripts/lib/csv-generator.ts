/**
 * Deterministic benchmark CSV: N rows (default 1,000,000, about 400 MB) of ten typed columns,
 * produced from a seeded PRNG so every run and every machine gets byte-identical files.
 *
 * Columns: `id` (integer), `name`, `email` (strings), `amount` (number, two decimals), `quantity`
 * (integer), `active` (boolean), `signup_date` (date), `last_seen` (UTC datetime), `city` (200
 * distinct values), `note` (padded text; about 2 % quoted with commas, doubled quotes and embedded
 * newlines, about 1 % empty).
 *
 * The file is written through a stream with back-pressure, never held in memory. A sidecar
 * `<file>.meta.json` records what was generated; `ensureCsv` reuses a file whose size and
 * parameters match it.
 */
import { createWriteStream } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";

export interface GeneratorOptions {
  rows: number;
  seed: number;
  /** Target average bytes per data row; the note is padded to reach it. */
  rowBytes: number;
}

export const DEFAULT_GENERATOR: GeneratorOptions = { rows: 1_000_000, seed: 20_261_101, rowBytes: 400 };

/** Bump when the output format changes, so stale files are regenerated. */
const FORMAT_VERSION = 1;

export const HEADER = [
  "id",
  "name",
  "email",
  "amount",
  "quantity",
  "active",
  "signup_date",
  "last_seen",
  "city",
  "note",
] as const;

/** mulberry32: small, fast, good enough for test data, and the same in every engine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = [
  "Ada",
  "Alan",
  "Grace",
  "Linus",
  "Margaret",
  "Dennis",
  "Barbara",
  "Ken",
  "Frances",
  "Edsger",
  "Radia",
  "Tim",
  "Hedy",
  "John",
  "Katherine",
  "Donald",
  "Sophie",
  "Niklaus",
  "Anita",
  "Guido",
  "Zoë",
  "José",
  "Chloé",
  "Ingrid",
  "Søren",
  "Mei",
  "Ravi",
  "Amara",
  "Olu",
  "Yuki",
];
const LAST = [
  "Lovelace",
  "Turing",
  "Hopper",
  "Torvalds",
  "Hamilton",
  "Ritchie",
  "Liskov",
  "Thompson",
  "Allen",
  "Dijkstra",
  "Perlman",
  "Berners-Lee",
  "Lamarr",
  "Backus",
  "Johnson",
  "Knuth",
  "Wilson",
  "Wirth",
  "Borg",
  "van Rossum",
  "O'Neil",
  "Müller",
  "Núñez",
  "Kowalski",
  "Nakamura",
  "Okafor",
  "Patel",
];
const WORDS = [
  "lorem",
  "ipsum",
  "dolor",
  "sit",
  "amet",
  "consectetur",
  "adipiscing",
  "elit",
  "sed",
  "do",
  "eiusmod",
  "tempor",
  "incididunt",
  "ut",
  "labore",
  "et",
  "dolore",
  "magna",
  "aliqua",
  "enim",
  "minim",
  "veniam",
  "quis",
  "nostrud",
  "exercitation",
  "ullamco",
  "laboris",
  "nisi",
  "aliquip",
  "commodo",
  "consequat",
  "duis",
  "aute",
  "irure",
  "reprehenderit",
  "voluptate",
  "velit",
  "esse",
  "cillum",
  "fugiat",
  "nulla",
  "pariatur",
  "excepteur",
  "sint",
  "occaecat",
  "cupidatat",
  "non",
  "proident",
  "sunt",
  "culpa",
  "officia",
  "deserunt",
  "mollit",
  "anim",
  "id",
  "est",
  "laborum",
];
const CITY_STEMS = ["North", "South", "East", "West", "New", "Old", "Port", "Lake", "Fort", "Saint"];
const CITY_ROOTS = [
  "Haven",
  "Bridge",
  "Field",
  "Brook",
  "Ridge",
  "Dale",
  "Ford",
  "Wood",
  "Mont",
  "Ville",
  "Bury",
  "Stead",
  "Port",
  "Cliff",
  "Marsh",
  "Gate",
  "Moor",
  "Vale",
  "Holm",
  "Wick",
];
/** 200 distinct city names (10 stems × 20 roots). */
export const CITIES: readonly string[] = CITY_STEMS.flatMap((stem) => CITY_ROOTS.map((root) => `${stem} ${root}`));

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));
const DAY_MS = 86_400_000;
const SIGNUP_FROM = Date.UTC(2015, 0, 1);
const SIGNUP_DAYS = 3650;
const SEEN_FROM = Date.UTC(2024, 0, 1);
const SEEN_SECONDS = 2 * 365 * 86_400;

function isoDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
}

function isoDatetime(ms: number): string {
  const d = new Date(ms);
  return `${isoDate(ms)}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}Z`;
}

/** Produces the rows one at a time; `header()` first, then `row(i)` for i = 1..rows in order. */
export class CsvRowFactory {
  private readonly random: () => number;
  private readonly rowBytes: number;

  constructor(options: GeneratorOptions) {
    this.random = prng(options.seed);
    this.rowBytes = options.rowBytes;
  }

  header(): string {
    return `${HEADER.join(",")}\n`;
  }

  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.random() * list.length)] as T;
  }

  private words(targetLength: number): string {
    let text = this.pick(WORDS);
    while (text.length < targetLength) text += ` ${this.pick(WORDS)}`;
    return text;
  }

  /** The record for row `id` (1-based), with its trailing newline. */
  row(id: number): string {
    const first = this.pick(FIRST);
    const last = this.pick(LAST);
    const name = `${first} ${last}`;
    const email = `${first}.${last}.${id}@example.com`.toLowerCase().replace(/[^a-z0-9.@-]/g, "");
    const amount = (this.random() * 10_000).toFixed(2);
    const quantity = 1 + Math.floor(this.random() * 100);
    const active = this.random() < 0.7 ? "true" : "false";
    const signup = isoDate(SIGNUP_FROM + Math.floor(this.random() * SIGNUP_DAYS) * DAY_MS);
    const seen = isoDatetime(SEEN_FROM + Math.floor(this.random() * SEEN_SECONDS) * 1000);
    const city = this.pick(CITIES);
    const quotedName = name.includes("'") ? `"${name}"` : name;
    const head = `${id},${quotedName},${email},${amount},${quantity},${active},${signup},${seen},${city},`;
    // The note fills the row to about rowBytes on average (±25 %).
    const noteLength = Math.max(8, Math.round((this.rowBytes - head.length - 1) * (0.75 + this.random() * 0.5)));
    const kind = this.random();
    let note: string;
    if (kind < 0.01) {
      note = "";
    } else if (kind < 0.03) {
      // Quoted: a comma, doubled quotes and an embedded newline (CRLF once in a while).
      const body = this.words(Math.max(0, noteLength - 40));
      const newline = this.random() < 0.2 ? "\r\n" : "\n";
      note = `"Re: ""${this.pick(WORDS)}"", see ${this.pick(WORDS)}, ${this.pick(WORDS)}${newline}${body}"`;
    } else {
      note = this.words(noteLength);
    }
    return `${head}${note}\n`;
  }
}

interface Meta {
  version: number;
  rows: number;
  seed: number;
  rowBytes: number;
  bytes: number;
}

export interface GeneratedFile {
  path: string;
  bytes: number;
  rows: number;
  reused: boolean;
  ms: number;
}

async function readMeta(file: string): Promise<Meta | null> {
  try {
    return JSON.parse(await readFile(`${file}.meta.json`, "utf8")) as Meta;
  } catch {
    return null;
  }
}

/** Writes the file with back-pressure (about 1 MiB of text per write); returns its size. */
export async function writeCsv(file: string, options: GeneratorOptions): Promise<number> {
  await mkdir(path.dirname(file), { recursive: true });
  const out = createWriteStream(file);
  const factory = new CsvRowFactory(options);
  let bytes = 0;
  const write = (text: string) =>
    new Promise<void>((resolve, reject) => {
      bytes += Buffer.byteLength(text);
      const ok = out.write(text, (error) => {
        if (error) reject(error);
      });
      if (ok) resolve();
      else out.once("drain", resolve);
    });
  await write(factory.header());
  let buffer = "";
  for (let id = 1; id <= options.rows; id++) {
    buffer += factory.row(id);
    if (buffer.length >= 1 << 20) {
      await write(buffer);
      buffer = "";
    }
  }
  if (buffer) await write(buffer);
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return bytes;
}

/** Generates `file`, or reuses it when its sidecar matches the options and its size is right. */
export async function ensureCsv(file: string, options: GeneratorOptions = DEFAULT_GENERATOR): Promise<GeneratedFile> {
  const started = performance.now();
  const meta = await readMeta(file);
  const size = await stat(file).then(
    (s) => s.size,
    () => -1,
  );
  if (
    meta &&
    meta.version === FORMAT_VERSION &&
    meta.rows === options.rows &&
    meta.seed === options.seed &&
    meta.rowBytes === options.rowBytes &&
    meta.bytes === size
  ) {
    return { path: file, bytes: size, rows: options.rows, reused: true, ms: performance.now() - started };
  }
  const bytes = await writeCsv(file, options);
  const written: Meta = { version: FORMAT_VERSION, ...options, bytes };
  await writeFile(`${file}.meta.json`, `${JSON.stringify(written, null, 2)}\n`);
  return { path: file, bytes, rows: options.rows, reused: false, ms: performance.now() - started };
}
