/**
 * Finds record boundaries in a CSV byte stream without decoding it, deciding every case exactly
 * as papaparse does on the whole file, so a chunk cut here parses on its own into the same rows:
 * - a quote opens a field only at the field's start (record start or right after a delimiter);
 * - inside quotes, `""` is a literal quote, and a quote closes the field only when whitespace (as
 *   JavaScript's `trim` defines it) and then a delimiter or the line ending follow, or when it is
 *   the file's last byte; any other quote is literal and the field stays open (papaparse reports
 *   it as malformed, and so does the chunk parser);
 * - the line ending is the file's (`\n` or `\r\n`, papaparse's guess): in a CRLF file a bare LF
 *   outside quotes is data, as papaparse treats it;
 * - a record whose only field is empty (`` or `""`), or is a lone CR, is an empty line: skipped,
 *   not numbered.
 * Scanning bytes is safe for UTF-8: every byte of a multi-byte character is ≥ 0x80, so it never
 * looks like a quote, LF, CR or an ASCII delimiter; only the Unicode spaces papaparse skips after a
 * closing quote are recognised as byte sequences.
 *
 * Counts records and physical lines (LFs), so each chunk knows its first row number and line.
 */
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

export interface ChunkPlan {
  index: number;
  /** Absolute byte offsets in the object: [start, end). */
  start: number;
  end: number;
  /** Row number of the chunk's first record (1 = the first record after the header). */
  firstRow: number;
  /** Physical line of the chunk's first byte (the header is line 1). */
  firstLine: number;
  records: number;
}

export interface ScannerOptions {
  /** Where the data starts (after BOM and header) and the line it is on. */
  offset: number;
  firstLine: number;
  delimiter: number;
  newline: "\n" | "\r\n";
  chunkBytes: number;
  /** A chunk that reaches this size without a record boundary means a runaway quoted field. */
  maxChunkBytes: number;
}

/** Range reads the planner makes of one file at most, whatever its size (each is a subrequest). */
export const MAX_PLAN_READS = 512;

/**
 * How many bytes the planner reads and pushes to the scanner at a time: two chunks' worth, or more
 * for a file that would otherwise take over `MAX_PLAN_READS` reads (a 10 GiB file: 20 MiB). One
 * range read into memory per slice rather than the object's stream: a stream hands the scanner a
 * few kilobytes per read, and the promise per read cost several times the scan itself (80 MB:
 * about 0.7 s streamed against 0.2 s in 8 MiB ranges, measured in workerd).
 */
export function planReadBytes(chunkBytes: number, sizeBytes: number): number {
  return Math.max(2 * chunkBytes, Math.ceil(sizeBytes / MAX_PLAN_READS));
}

/**
 * - `fieldStart`: at a field's first byte; `unquoted`: inside an unquoted field;
 * - `quoted`: inside a quoted field; `afterQuote`: a quote inside a quoted field was seen and the
 *   bytes after it (whitespace so far) decide whether it closed the field.
 */
type State = "fieldStart" | "unquoted" | "quoted" | "afterQuote";

const ASCII_SPACE = new Set([0x20, 0x09, 0x0b, 0x0c, CR]);
/** UTF-8 encodings of the non-ASCII characters `String.prototype.trim` removes. */
const UNICODE_SPACES = new Set(
  ["\u00a0", "\u1680", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff"]
    .concat(Array.from({ length: 11 }, (_, i) => String.fromCharCode(0x2000 + i)))
    .map((ch) => [...new TextEncoder().encode(ch)].join(",")),
);
/** Length of the UTF-8 sequence a lead byte starts, for the lead bytes of those characters. */
const spaceLeadLength = (byte: number): number => (byte === 0xc2 ? 2 : [0xe1, 0xe2, 0xe3, 0xef].includes(byte) ? 3 : 0);

export class BoundaryScanner {
  private readonly options: ScannerOptions;
  private readonly crlf: boolean;
  private state: State = "fieldStart";
  private position: number;
  private previousByte = -1;
  private chunkStart: number;
  private chunkFirstRow = 1;
  private chunkFirstLine: number;
  private chunkRecords = 0;
  private lines: number;
  private nextIndex = 0;
  // The current record: enough to tell an empty line from a record.
  private delimiterSeen = false;
  private valueBytes = 0;
  private firstValueByte = -1;
  // After a quote inside a quoted field: the whitespace run that followed it so far.
  private runBytes = 0;
  private runEndsWithCr = false;
  private pendingChar: number[] = [];
  private pendingLength = 0;

  constructor(options: ScannerOptions) {
    this.options = options;
    this.crlf = options.newline === "\r\n";
    this.position = options.offset;
    this.chunkStart = options.offset;
    this.lines = options.firstLine;
    this.chunkFirstLine = options.firstLine;
  }

  /** Scans the next bytes of the stream; returns the chunks completed within them. */
  push(bytes: Uint8Array): ChunkPlan[] {
    const out: ChunkPlan[] = [];
    const base = this.position;
    const n = bytes.length;
    let i = 0;
    // The next quote at or after i, cached: searching afresh per record is quadratic when quotes are rare.
    let nextQuote = -2;
    const quoteFrom = (from: number): number => {
      if (nextQuote !== -1 && nextQuote < from) nextQuote = bytes.indexOf(QUOTE, from);
      return nextQuote;
    };
    while (i < n) {
      if (this.state === "afterQuote") {
        i = this.afterQuote(bytes, i, base, out);
      } else if (this.state === "quoted") {
        const q = quoteFrom(i);
        const stop = q === -1 ? n : q;
        this.countLines(bytes, i, stop);
        this.addValue(bytes, i, stop);
        if (q === -1) break;
        this.runBytes = 0;
        this.runEndsWithCr = false;
        this.state = "afterQuote";
        i = q + 1;
      } else {
        i = this.outsideQuotes(bytes, i, base, out, quoteFrom);
      }
    }
    if (n > 0) this.previousByte = bytes[n - 1] ?? -1;
    this.position = base + n;
    if (this.position - this.chunkStart > this.options.maxChunkBytes) {
      throw new RunawayRecordError(this.chunkFirstLine);
    }
    return out;
  }

  /** Ends the stream: the last chunk (if any bytes remain), including an unterminated final record. */
  finish(): ChunkPlan[] {
    if (this.position <= this.chunkStart) return [];
    // A quote followed only by whitespace at the end of the file does not close its field: the
    // field runs to the end, quote and whitespace included.
    if (this.state === "afterQuote" && (this.runBytes > 0 || this.pendingChar.length > 0)) {
      this.valueBytes += 1 + this.runBytes + this.pendingChar.length;
    }
    this.endRecord();
    return [this.cut(this.position)];
  }

  /** Unquoted bytes up to the next LF, or to a quote that opens a field. Returns where to go on. */
  private outsideQuotes(
    bytes: Uint8Array,
    i: number,
    base: number,
    out: ChunkPlan[],
    quoteFrom: (from: number) => number,
  ): number {
    const { delimiter } = this.options;
    const lf = bytes.indexOf(LF, i);
    const end = lf === -1 ? bytes.length : lf;
    let q = quoteFrom(i);
    while (q !== -1 && q < end) {
      const atFieldStart = q === i ? this.state === "fieldStart" : bytes[q - 1] === delimiter;
      if (atFieldStart) break;
      q = quoteFrom(q + 1);
    }
    const opens = q !== -1 && q < end;
    const stop = opens ? q : end;
    if (stop > i) {
      if (!this.delimiterSeen) {
        const d = bytes.indexOf(delimiter, i);
        if (d !== -1 && d < stop) this.delimiterSeen = true;
      }
      this.addValue(bytes, i, stop);
      this.state = bytes[stop - 1] === delimiter ? "fieldStart" : "unquoted";
    }
    if (opens) {
      this.state = "quoted";
      return q + 1;
    }
    if (lf === -1) return bytes.length;
    this.lines++;
    const before = lf > 0 ? bytes[lf - 1] : this.previousByte;
    if (this.crlf && before !== CR) {
      // A bare LF in a CRLF file is data. (A CR before an LF outside quotes is always this
      // field's own byte: quoted content and closing quotes end in other states.)
      this.addByte(LF);
      this.state = "unquoted";
      return lf + 1;
    }
    // The line ending's CR is not part of the value.
    if (this.crlf) this.valueBytes--;
    this.endRecord();
    this.state = "fieldStart";
    this.maybeCut(base + lf + 1, out);
    return lf + 1;
  }

  /** Decides whether the quote before `i` closed its field; returns where to go on. */
  private afterQuote(bytes: Uint8Array, i: number, base: number, out: ChunkPlan[]): number {
    const { delimiter } = this.options;
    for (let j = i; j < bytes.length; j++) {
      const byte = bytes[j] ?? 0;
      if (this.pendingChar.length > 0) {
        this.pendingChar.push(byte);
        if (this.pendingChar.length < this.pendingLength) continue;
        const isSpace = UNICODE_SPACES.has(this.pendingChar.join(","));
        if (!isSpace) return this.literalQuote(j + 1);
        this.runBytes += this.pendingChar.length;
        this.runEndsWithCr = false;
        this.pendingChar = [];
        continue;
      }
      if (byte === QUOTE && this.runBytes === 0) {
        // `""`: an escaped quote, part of the value.
        this.addByte(QUOTE);
        this.state = "quoted";
        return j + 1;
      }
      if (byte === delimiter) {
        this.delimiterSeen = true;
        this.state = "fieldStart";
        return j + 1;
      }
      if (byte === LF) {
        this.lines++;
        if (!this.crlf || this.runEndsWithCr) {
          this.endRecord();
          this.state = "fieldStart";
          this.maybeCut(base + j + 1, out);
          return j + 1;
        }
        this.runBytes++;
        this.runEndsWithCr = false;
        continue;
      }
      if (ASCII_SPACE.has(byte)) {
        this.runBytes++;
        this.runEndsWithCr = byte === CR;
        continue;
      }
      const length = spaceLeadLength(byte);
      if (length > 0) {
        this.pendingChar = [byte];
        this.pendingLength = length;
        continue;
      }
      return this.literalQuote(j);
    }
    return bytes.length;
  }

  /** The quote did not close the field: it and the whitespace after it are data; still quoted. */
  private literalQuote(resume: number): number {
    this.valueBytes += 1 + this.runBytes + this.pendingChar.length;
    this.pendingChar = [];
    this.runBytes = 0;
    this.state = "quoted";
    return resume;
  }

  private addValue(bytes: Uint8Array, from: number, to: number): void {
    if (to <= from) return;
    if (this.valueBytes === 0) this.firstValueByte = bytes[from] ?? -1;
    this.valueBytes += to - from;
  }

  private addByte(byte: number): void {
    if (this.valueBytes === 0) this.firstValueByte = byte;
    this.valueBytes++;
  }

  private countLines(bytes: Uint8Array, from: number, to: number): void {
    let at = bytes.indexOf(LF, from);
    while (at !== -1 && at < to) {
      this.lines++;
      at = bytes.indexOf(LF, at + 1);
    }
  }

  private maybeCut(absoluteEnd: number, out: ChunkPlan[]): void {
    if (absoluteEnd - this.chunkStart >= this.options.chunkBytes) out.push(this.cut(absoluteEnd));
  }

  private endRecord(): void {
    // papaparse returns an empty line (and `""`) as [""]; the chunk parser skips [""] and ["\r"].
    const empty =
      !this.delimiterSeen && (this.valueBytes <= 0 || (this.valueBytes === 1 && this.firstValueByte === CR));
    if (!empty) this.chunkRecords++;
    this.delimiterSeen = false;
    this.valueBytes = 0;
    this.firstValueByte = -1;
  }

  private cut(end: number): ChunkPlan {
    const plan: ChunkPlan = {
      index: this.nextIndex++,
      start: this.chunkStart,
      end,
      firstRow: this.chunkFirstRow,
      firstLine: this.chunkFirstLine,
      records: this.chunkRecords,
    };
    this.chunkStart = end;
    this.chunkFirstRow += this.chunkRecords;
    this.chunkFirstLine = this.lines;
    this.chunkRecords = 0;
    return plan;
  }
}

export class RunawayRecordError extends Error {
  readonly line: number;
  constructor(line: number) {
    super(`A record starting near line ${line} never ends (an unbalanced quote?).`);
    this.line = line;
  }
}
