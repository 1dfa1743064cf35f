/**
 * Counts a column's distinct values across chunks: exactly while the values seen number at most
 * `EXACT_LIMIT`, then as a HyperLogLog estimate. A sketch is mergeable (a chunk makes one, the
 * upload's outcome unites them), so it never needs the values themselves, only their hashes.
 *
 * The rule: up to `EXACT_LIMIT` distinct values the count is the size of a set of 53-bit hashes
 * (exact but for a hash collision, about 1 in 10^8 at 10,000 values); above it the set becomes
 * 2^16 registers (standard error 1.04 / 256 ≈ 0.4 %, so 2 % is about five standard errors: 2^14
 * registers, 0.8 %, would leave about one count in a hundred beyond 2 %) read with Ertl's improved estimator, which needs no bias tables and is unbiased from
 * small to very large counts. Registers merge by maximum, so a union of sketches is the sketch of
 * the union. Written here rather than taken from npm: the HyperLogLog packages there either pull a
 * native hash (not available in Workers) or a large bundle of other structures.
 *
 * Pure and free of Worker types; `hash53` is a non-cryptographic string hash (two 32-bit
 * multiply-xor lanes over the UTF-16 code units, each finished by murmur3's avalanche), because the
 * chunk step hashes every distinct value of every column and must stay cheap.
 */

/** Up to this many distinct values the count is exact. */
export const EXACT_LIMIT = 10_000;
/** Register index bits: 2^16 registers. */
export const PRECISION = 16;
const REGISTERS = 1 << PRECISION;
/** Hash bits left after the index: a register holds the rank of their first 1 bit (1…RANK_BITS+1). */
const RANK_BITS = 53 - PRECISION;
const RANK_SPAN = 2 ** RANK_BITS;
/** The rank bits below the top 32 (read with `Math.clz32` in two parts). */
const LOW_BITS = RANK_BITS - 32;
const LOW_SPAN = 2 ** LOW_BITS;

function fmix32(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A 53-bit hash of `text` as a safe integer (exact in a double, so it can key a Set). */
export function hash53(text: string): number {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  const length = text.length;
  const high = fmix32(a ^ Math.imul(b, 0x27d4eb2d) ^ length);
  const low = fmix32(b ^ high);
  // 32 bits from one lane, 21 from the other.
  return high * 2 ** 21 + (low >>> 11);
}

/** The register a hash falls in and the rank it offers it. */
function registerOf(hash: number): { index: number; rank: number } {
  const index = Math.floor(hash / RANK_SPAN);
  const rest = hash - index * RANK_SPAN;
  // rest has RANK_BITS bits: its top 32 in `upper`, the others in `lower`.
  const upper = Math.floor(rest / LOW_SPAN);
  const lower = rest % LOW_SPAN;
  const rank =
    upper !== 0 ? Math.clz32(upper) + 1 : lower !== 0 ? 32 + Math.clz32(lower) - (32 - LOW_BITS) + 1 : RANK_BITS + 1;
  return { index, rank };
}

/** The stored form: hashes while exact, registers once estimated (both base64). */
export type SketchJson = { exact: string } | { registers: string };

export class DistinctSketch {
  private hashes: Set<number> | null = new Set();
  private registers: Uint8Array | null = null;

  /** Adds one value's hash (from `hash53`). */
  addHash(hash: number): void {
    if (this.hashes) {
      this.hashes.add(hash);
      if (this.hashes.size > EXACT_LIMIT) this.toRegisters();
      return;
    }
    this.offer(hash);
  }

  /** The distinct values seen: exact up to `EXACT_LIMIT`, estimated above. */
  count(): number {
    if (this.hashes) return this.hashes.size;
    return estimate(this.registers as Uint8Array);
  }

  /** Unites `other` into this sketch. */
  merge(other: DistinctSketch): void {
    if (other.hashes) {
      for (const hash of other.hashes) this.addHash(hash);
      return;
    }
    if (this.hashes) this.toRegisters();
    const mine = this.registers as Uint8Array;
    const theirs = other.registers as Uint8Array;
    for (let i = 0; i < REGISTERS; i++) if ((theirs[i] as number) > (mine[i] as number)) mine[i] = theirs[i] as number;
  }

  toJSON(): SketchJson {
    if (this.hashes) return { exact: toBase64(new Uint8Array(Float64Array.from(this.hashes).buffer)) };
    return { registers: toBase64(this.registers as Uint8Array) };
  }

  /** A sketch from its stored form; anything malformed is refused (the caller decides what that means). */
  static fromJSON(json: SketchJson): DistinctSketch {
    const sketch = new DistinctSketch();
    if ("exact" in json) {
      const bytes = fromBase64(json.exact);
      if (bytes.length % 8 !== 0) throw new Error("distinct sketch: malformed hashes");
      for (const hash of new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8)) {
        if (!Number.isSafeInteger(hash) || hash < 0) throw new Error("distinct sketch: malformed hashes");
        sketch.addHash(hash);
      }
      return sketch;
    }
    const registers = fromBase64(json.registers);
    if (registers.length !== REGISTERS || registers.some((rank) => rank > RANK_BITS + 1)) {
      throw new Error("distinct sketch: malformed registers");
    }
    sketch.hashes = null;
    sketch.registers = registers;
    return sketch;
  }

  private offer(hash: number): void {
    const registers = this.registers as Uint8Array;
    const { index, rank } = registerOf(hash);
    if (rank > (registers[index] as number)) registers[index] = rank;
  }

  private toRegisters(): void {
    const hashes = this.hashes as Set<number>;
    this.hashes = null;
    this.registers = new Uint8Array(REGISTERS);
    for (const hash of hashes) this.offer(hash);
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

function sigma(x: number): number {
  if (x === 1) return Number.POSITIVE_INFINITY;
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

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
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

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  // In slices: spreading a whole 80 KB array into one call would overflow the argument limit.
  for (let i = 0; i < bytes.length; i += 8192) binary += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
