/**
 * Finds record boundaries in a CSV byte stream without decoding it, honouring quoted fields the
 * way papaparse does: a quote opens a field only at the field's start, `""` inside quotes is a
 * literal quote, and LF inside quotes belongs to the field. Scanning bytes is safe for UTF-8
 * because every byte of a multi-byte character is ≥ 0x80, so it never looks like `"`, LF or an
 * ASCII delimiter.
 *
 * Counts records (non-empty lines outside quotes; empty lines are skipped by the parser too) and
 * physical lines, so each chunk knows its first row number and first line number.
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

type State = "fieldStart" | "unquoted" | "quoted" | "quotePending";

export class BoundaryScanner {
  private state: State = "fieldStart";
  private position: number;
  private chunkStart: number;
  private chunkFirstRow = 1;
  private chunkFirstLine: number;
  private chunkRecords = 0;
  private recordContent = 0;
  private lastByte = -1;
  private lines: number;
  private nextIndex = 0;

  constructor(
    private readonly options: {
      /** Where the data starts (after BOM and header) and the line it is on. */
      offset: number;
      firstLine: number;
      delimiter: number;
      chunkBytes: number;
      /** A chunk that reaches this size without a record boundary means a runaway quoted field. */
      maxChunkBytes: number;
    },
  ) {
    this.position = options.offset;
    this.chunkStart = options.offset;
    this.lines = options.firstLine;
    this.chunkFirstLine = options.firstLine;
  }

  /** Scans the next bytes of the stream; returns the chunks completed within them. */
  push(bytes: Uint8Array): ChunkPlan[] {
    const out: ChunkPlan[] = [];
    const { delimiter } = this.options;
    const base = this.position;
    let i = 0;
    const n = bytes.length;
    // The next quote at or after i, cached: searching afresh per record is quadratic when quotes are rare.
    let nextQuote = -2;
    const quoteFrom = (from: number): number => {
      if (nextQuote !== -1 && nextQuote < from) nextQuote = bytes.indexOf(QUOTE, from);
      return nextQuote;
    };
    while (i < n) {
      if (this.state === "quotePending") {
        // The previous buffer ended on a quote inside a quoted field: `""` escapes, anything else closes.
        if (bytes[i] === QUOTE) {
          this.state = "quoted";
          this.take(QUOTE);
          i++;
        } else this.state = "unquoted";
        continue;
      }
      if (this.state === "quoted") {
        const q = quoteFrom(i);
        const stop = q === -1 ? n : q;
        this.countLines(bytes, i, stop);
        this.recordContent += stop - i;
        if (q === -1) {
          if (stop > i) this.lastByte = bytes[stop - 1] ?? -1;
          i = n;
          break;
        }
        this.take(QUOTE);
        i = q + 1;
        if (i === n) {
          this.state = "quotePending";
          break;
        }
        if (bytes[i] === QUOTE) {
          this.take(QUOTE);
          i++;
        } else this.state = "unquoted";
        continue;
      }
      // Outside quotes only LF, the delimiter and a quote at a field's start matter.
      const lf = bytes.indexOf(LF, i);
      const end = lf === -1 ? n : lf;
      let q = quoteFrom(i);
      let opened = false;
      while (q !== -1 && q < end) {
        const atFieldStart = q === i ? this.state === "fieldStart" : bytes[q - 1] === delimiter;
        if (atFieldStart) {
          opened = true;
          break;
        }
        q = quoteFrom(q + 1);
      }
      if (opened) {
        this.recordContent += q + 1 - i;
        this.lastByte = QUOTE;
        this.state = "quoted";
        i = q + 1;
        continue;
      }
      if (end > i) {
        this.recordContent += end - i;
        this.lastByte = bytes[end - 1] ?? -1;
        this.state = bytes[end - 1] === delimiter ? "fieldStart" : "unquoted";
      }
      if (lf === -1) {
        i = n;
        break;
      }
      // End of a record.
      this.lines++;
      this.endRecord();
      this.state = "fieldStart";
      i = lf + 1;
      const absoluteEnd = base + i;
      if (absoluteEnd - this.chunkStart >= this.options.chunkBytes) out.push(this.cut(absoluteEnd));
    }
    this.position = base + n;
    if (this.position - this.chunkStart > this.options.maxChunkBytes) {
      throw new RunawayRecordError(this.chunkFirstLine);
    }
    return out;
  }

  /** Ends the stream: the last chunk (if any bytes remain), including an unterminated final record. */
  finish(): ChunkPlan[] {
    if (this.position <= this.chunkStart) return [];
    this.endRecord();
    return [this.cut(this.position)];
  }

  private take(byte: number): void {
    this.recordContent++;
    this.lastByte = byte;
  }

  private countLines(bytes: Uint8Array, from: number, to: number): void {
    let at = bytes.indexOf(LF, from);
    while (at !== -1 && at < to) {
      this.lines++;
      at = bytes.indexOf(LF, at + 1);
    }
  }

  private endRecord(): void {
    const content = this.recordContent - (this.lastByte === CR ? 1 : 0);
    if (content > 0) this.chunkRecords++;
    this.recordContent = 0;
    this.lastByte = -1;
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
  constructor(readonly line: number) {
    super(`A record starting near line ${line} never ends (an unbalanced quote?).`);
  }
}
