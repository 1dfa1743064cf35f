/**
 * Counts a column's distinct values across chunks: exactly while the values seen number at most
 * `EXACT_LIMIT`, then as a HyperLogLog estimate. A sketch is mergeable (a chunk makes one, the
 * upload's outcome unites them), so it never needs the values themselves, only their hashes.
 *
 * The rule: up to `EXACT_LIMIT` distinct values the count is the size of a set of 53-bit hashes
 * (exact but for a hash collision, about 1 in 10^8 at 10,000 values); above it the set becomes
 * 2^16 registers (standard error 1.04 / 256 ≈ 0.4 %, so 2 % is about five standard errors; 2^14
 * registers, 0.8 %, would leave about one count in a hundred beyond 2 %) read with Ertl's improved
 * estimator, which needs no bias tables and is unbiased from small to very large counts. Registers
 * merge by maximum, so a union of sketches is the sketch of the union. Written here rather than
 * taken from npm: the HyperLogLog packages there either pull a native hash (not available in
 * Workers) or a large bundle of other structures.
 *
 * Pure and free of Worker types. `hash53` is a non-cryptographic string hash (two 32-bit
 * multiply-xor lanes, each taking every other 32-bit word of the text, combined and finished by
 * murmur3's avalanche) and `hashNumber` mixes a double's bits the same way, because the chunk step
 * hashes every non-empty cell of every column and must stay cheap.
 */

import { Buffer } from "node:buffer";

/** Up to this many distinct values the count is exact. */
export const EXACT_LIMIT = 10_000;
/** Register index bits: 2^16 registers. */
export const PRECISION = 16;
const REGISTERS = 1 << PRECISION;
/** Hash bits left after the index: a register holds the rank of their first 1 bit (1…RANK_BITS+1). */
const RANK_BITS = 53 - PRECISION;
/** The highest rank a register can hold: the rank bits all 0. */
const MAX_RANK = RANK_BITS + 1;
/** A hash's bits below its top 32: `hash / LOW_SPAN` is the top 32 as an integer, the rest are `hash % LOW_SPAN`. */
const LOW_BITS = 53 - 32;
const LOW_SPAN = 2 ** LOW_BITS;
/** The rank bits within the top 32, below the index. */
const UPPER_MASK = (1 << (32 - PRECISION)) - 1;

function fmix32(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Texts at least this long are hashed by their UTF-8 bytes, shorter ones by their UTF-16 code units. */
export const LONG_TEXT = 80;

/**
 * A 53-bit hash of `text` as a safe integer (exact in a double, so the exact table can hold it).
 * Equal texts have equal lengths, so they always take the same one of the two ways.
 */
export function hash53(text: string): number {
  return text.length < LONG_TEXT ? hashCodeUnits(text) : hashUtf8(text);
}

/** Two lanes of 32-bit words, finished by murmur3's avalanche into 53 bits. */
function finish53(a: number, b: number, length: number): number {
  const high = fmix32(a ^ Math.imul(b, 0x27d4eb2d) ^ length);
  const low = fmix32(b ^ high);
  // 32 bits from one lane, 21 from the other.
  return high * 2 ** 21 + (low >>> 11);
}

function hashCodeUnits(text: string): number {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  const length = text.length;
  let i = 0;
  // Four UTF-16 code units per step, two into each lane: the lanes do not wait on each other, so
  // a long text costs about half the steps of feeding both lanes the same units.
  for (; i + 3 < length; i += 4) {
    a = Math.imul(a ^ ((text.charCodeAt(i) << 16) | text.charCodeAt(i + 1)), 0x01000193);
    b = Math.imul(b ^ ((text.charCodeAt(i + 2) << 16) | text.charCodeAt(i + 3)), 0x5bd1e995);
    a ^= a >>> 15;
    b ^= b >>> 13;
  }
  // The last one to three units go into both lanes.
  for (; i < length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return finish53(a, b, length);
}

const encoder = new TextEncoder();
/** Room for the UTF-8 of long texts, grown on demand and reused: one text is hashed at a time. */
let utf8 = new Uint8Array(4096);
let utf8Words = new Int32Array(utf8.buffer);

/**
 * Long texts (free-text columns, hundreds of characters) go through the engine's native UTF-8
 * encoder and are read four bytes at a time: about a third of the time of reading them one code
 * unit at a time. A decoded chunk holds no lone surrogates (the decoder replaces invalid bytes),
 * so equal bytes mean equal texts. Words are read in the platform's byte order; every engine the
 * Worker runs on is little-endian, and a sketch is only ever merged with sketches of one upload.
 */
function hashUtf8(text: string): number {
  // A UTF-16 code unit takes at most three UTF-8 bytes.
  if (text.length * 3 > utf8.length) {
    utf8 = new Uint8Array((text.length * 3 + 4096) & ~3);
    utf8Words = new Int32Array(utf8.buffer);
  }
  const { written } = encoder.encodeInto(text, utf8);
  const words = written >>> 2;
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  let i = 0;
  for (; i + 1 < words; i += 2) {
    a = Math.imul(a ^ (utf8Words[i] as number), 0x01000193);
    b = Math.imul(b ^ (utf8Words[i + 1] as number), 0x5bd1e995);
    a ^= a >>> 15;
    b ^= b >>> 13;
  }
  // The last one to seven bytes go into both lanes.
  for (let j = i * 4; j < written; j++) {
    const c = utf8[j] as number;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return finish53(a, b, written);
}

const numberView = new Float64Array(1);
const numberWords = new Uint32Array(numberView.buffer);

/** A 53-bit hash of a number's value (its double's bits; 0 and -0 are one value). */
export function hashNumber(value: number): number {
  numberView[0] = value === 0 ? 0 : value;
  const high = fmix32((numberWords[0] as number) ^ Math.imul(numberWords[1] as number, 0x27d4eb2d));
  const low = fmix32((numberWords[1] as number) ^ high ^ 0x9e3779b9);
  return high * 2 ** 21 + (low >>> 11);
}

/**
 * The stored form, base64: the hashes while exact; once estimated, the registers either `sparse`
 * (each non-zero register as the gap since the previous one, a LEB128 varint, then its rank byte)
 * or dense (`registers`, one byte each), whichever is shorter. A chunk of ten thousand values
 * fills about one register in seven, so its sparse form is about 20 KB against 64 KB dense, and
 * every chunk's partials are written to the database with its rows.
 */
export type SketchJson = { exact: string } | { registers: string } | { sparse: string };

/** A stored sketch decoded and checked, ready to merge. */
export type DecodedSketch = { hashes: Float64Array } | { registers: Uint8Array };

/** An empty slot of the exact table (hashes are never negative). */
const EMPTY = -1;
/** The exact table's largest size: a power of two that holds `EXACT_LIMIT` hashes below 2/3 full. */
const MAX_TABLE = 16_384;

/**
 * The exact set is an open-addressing table of hashes in a Float64Array rather than a `Set`: the
 * chunk step adds every cell, and a table of doubles allocates nothing per value (a `Set` of
 * 53-bit numbers boxes each one, and the garbage collector pays for it).
 */
export class DistinctSketch {
  private table: Float64Array | null = new Float64Array(256).fill(EMPTY);
  private size = 0;
  private registers: Uint8Array | null = null;

  /** Adds one value's hash (a non-negative safe integer, from `hash53` or `hashNumber`). */
  addHash(hash: number): void {
    const table = this.table;
    if (!table) {
      this.offer(hash);
      return;
    }
    const mask = table.length - 1;
    // The low bits of a hash are as mixed as the high ones (both lanes end in an avalanche).
    let slot = hash & mask;
    for (;;) {
      const held = table[slot];
      if (held === hash) return;
      if (held === EMPTY) break;
      slot = (slot + 1) & mask;
    }
    table[slot] = hash;
    this.size++;
    if (this.size > EXACT_LIMIT) this.toRegisters();
    else if (this.size * 3 > table.length * 2) this.grow();
  }

  /** The distinct values seen: exact up to `EXACT_LIMIT`, estimated above. */
  count(): number {
    return this.registers ? estimate(this.registers) : this.size;
  }

  /** Unites a decoded stored sketch into this one. */
  merge(other: DecodedSketch): void {
    if ("hashes" in other) {
      for (const hash of other.hashes) this.addHash(hash);
      return;
    }
    if (!this.registers) this.toRegisters();
    const mine = this.registers as Uint8Array;
    const theirs = other.registers;
    for (let i = 0; i < REGISTERS; i++) if ((theirs[i] as number) > (mine[i] as number)) mine[i] = theirs[i] as number;
  }

  toJSON(): SketchJson {
    if (this.registers) {
      const sparse = toSparse(this.registers);
      return sparse ? { sparse: toBase64(sparse) } : { registers: toBase64(this.registers) };
    }
    return { exact: toBase64(new Uint8Array(this.hashes().buffer)) };
  }

  /** A stored sketch decoded; anything malformed is refused (the caller decides what that means). */
  static decode(json: SketchJson): DecodedSketch {
    if ("exact" in json) {
      const bytes = fromBase64(json.exact);
      if (bytes.length % 8 !== 0) throw new Error("distinct sketch: malformed hashes");
      const hashes = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8);
      if (hashes.length > EXACT_LIMIT) throw new Error("distinct sketch: malformed hashes");
      // Plain loops rather than `some` with a callback: the outcome decodes every chunk's sketch
      // of every column one after another before it can answer.
      for (let i = 0; i < hashes.length; i++) {
        const hash = hashes[i] as number;
        if (!Number.isSafeInteger(hash) || hash < 0) throw new Error("distinct sketch: malformed hashes");
      }
      return { hashes };
    }
    // The sparse form's ranks are checked as it is read; only the dense form needs a pass of its own.
    if ("sparse" in json) return { registers: fromSparse(fromBase64(json.sparse)) };
    const registers = fromBase64(json.registers);
    if (registers.length !== REGISTERS) throw new Error("distinct sketch: malformed registers");
    for (let i = 0; i < REGISTERS; i++) {
      if ((registers[i] as number) > MAX_RANK) throw new Error("distinct sketch: malformed registers");
    }
    return { registers };
  }

  /** A sketch from its stored form (see `decode`). */
  static fromJSON(json: SketchJson): DistinctSketch {
    const sketch = new DistinctSketch();
    sketch.merge(DistinctSketch.decode(json));
    return sketch;
  }

  private hashes(): Float64Array {
    const out = new Float64Array(this.size);
    let i = 0;
    for (const hash of this.table as Float64Array) if (hash !== EMPTY) out[i++] = hash;
    return out;
  }

  /**
   * The register is the hash's top `PRECISION` bits; the rank is the position of the first 1 bit
   * after them, or RANK_BITS + 1 when they are all 0. Read with 32-bit integer operations on the
   * top 32 bits, and on the low bits only when the top ones hold no 1 after the index.
   */
  private offer(hash: number): void {
    const registers = this.registers as Uint8Array;
    const high = (hash / LOW_SPAN) >>> 0;
    const index = high >>> (32 - PRECISION);
    const upper = high & UPPER_MASK;
    const rank =
      upper !== 0
        ? Math.clz32(upper) - PRECISION + 1
        : // The low part has LOW_BITS bits, so `clz32` counts 32 - LOW_BITS zeros above them (all 32 for 0).
          32 - PRECISION + Math.clz32(hash - high * LOW_SPAN) - (32 - LOW_BITS) + 1;
    if (rank > (registers[index] as number)) registers[index] = rank;
  }

  // Both move the old table's hashes straight over, without first copying them out. The table
  // grows fourfold, so a chunk of a column with many distinct values moves its hashes three times
  // (256 → 1,024 → 4,096 → 16,384) rather than six before it turns them into registers; a table
  // stays between 1/6 and 2/3 full.
  private grow(): void {
    const old = this.table as Float64Array;
    this.table = new Float64Array(Math.min(MAX_TABLE, old.length * 4)).fill(EMPTY);
    this.size = 0;
    for (const hash of old) if (hash !== EMPTY) this.addHash(hash);
  }

  private toRegisters(): void {
    const old = this.table as Float64Array;
    this.table = null;
    this.size = 0;
    this.registers = new Uint8Array(REGISTERS);
    for (const hash of old) if (hash !== EMPTY) this.offer(hash);
  }
}

/** Ertl, "New cardinality estimation algorithms for HyperLogLog sketches" (2017), the improved raw estimator. */
function estimate(registers: Uint8Array): number {
  const m = REGISTERS;
  const q = RANK_BITS;
  const counts = new Array<number>(q + 2).fill(0);
  for (const value of registers) counts[value] = (counts[value] as number) + 1;
  let z = m * tau(1 - (counts[q + 1] as number) / m);
  for (let k = q; k >= 1; k--) z = 0.5 * (z + (counts[k] as number));
  z += m * sigma((counts[0] as number) / m);
  return Math.round(m ** 2 / (2 * Math.LN2 * z));
}

/** Ertl's σ(x); σ(1) is infinite, which the series reaches by itself (z doubles until it overflows). */
function sigma(x: number): number {
  let y = 1;
  let z = x;
  let previous: number;
  let power = x;
  do {
    power *= power;
    previous = z;
    z += power * y;
    y += y;
  } while (z !== previous);
  return z;
}

/** Ertl's τ(x); τ(0) and τ(1) are 0, which the series gives exactly (for 0, once its terms underflow). */
function tau(x: number): number {
  let y = 1;
  let z = 1 - x;
  let previous: number;
  let root = x;
  do {
    root = Math.sqrt(root);
    previous = z;
    y *= 0.5;
    z -= (1 - root) ** 2 * y;
  } while (z !== previous);
  return z / 3;
}

/** The sparse form of `registers`, or undefined when it would not be shorter than the dense one. */
function toSparse(registers: Uint8Array): Uint8Array | undefined {
  // At most three gap bytes (a gap is below 2^16) and one rank byte per register.
  const out = new Uint8Array(REGISTERS);
  let length = 0;
  let previous = -1;
  for (let index = 0; index < REGISTERS; index++) {
    const rank = registers[index] as number;
    if (rank === 0) continue;
    if (length + 4 > REGISTERS) return undefined;
    let gap = index - previous - 1;
    previous = index;
    while (gap >= 0x80) {
      out[length++] = (gap & 0x7f) | 0x80;
      gap >>>= 7;
    }
    out[length++] = gap;
    out[length++] = rank;
  }
  return out.subarray(0, length);
}

/** Dense registers from their sparse form; a malformed one (a register past the end, a cut pair, a zero rank) throws. */
function fromSparse(bytes: Uint8Array): Uint8Array {
  const registers = new Uint8Array(REGISTERS);
  let index = -1;
  let i = 0;
  while (i < bytes.length) {
    let gap = 0;
    let shift = 0;
    let byte: number;
    do {
      // A gap cut short reads past the end: `undefined`, 0 and no continuation, so its rank is missing below.
      if (shift > 14) throw new Error("distinct sketch: malformed sparse registers");
      byte = bytes[i++] as number;
      gap |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    index += gap + 1;
    const rank = bytes[i++];
    if (index >= REGISTERS || rank === undefined || rank === 0) {
      throw new Error("distinct sketch: malformed sparse registers");
    }
    // A rank no hash can have, refused in the same words as in the dense form.
    if (rank > MAX_RANK) throw new Error("distinct sketch: malformed registers");
    registers[index] = rank;
  }
  return registers;
}

function toBase64(bytes: Uint8Array): string {
  // Buffer (nodejs_compat in the Worker) encodes natively: a chunk stores several of these, and
  // building a binary string for btoa took milliseconds each.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** `atob` rather than `Buffer`: it refuses malformed text, and decoding runs once per chunk at the merge, not per cell. */
function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
