/**
 * The distinct-value sketch of column statistics: exact up to 10,000 values, within 2 % above,
 * the same when its values arrive split over many sketches that are merged (as chunks are), and
 * the same after a round trip through its stored form.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DistinctSketch,
  EXACT_LIMIT,
  hash53,
  hashNumber,
  LONG_TEXT,
} from "../../src/features/uploads/ingest/distinct-sketch.ts";

function sketchOf(values: Iterable<string>): DistinctSketch {
  const sketch = new DistinctSketch();
  for (const value of values) sketch.addHash(hash53(value));
  return sketch;
}

function* range(from: number, to: number, format: (i: number) => string = String): Generator<string> {
  for (let i = from; i < to; i++) yield format(i);
}

/** A sketch as a chunk stores it and the outcome reads it back. */
const stored = (sketch: DistinctSketch) => DistinctSketch.decode(JSON.parse(JSON.stringify(sketch.toJSON())));

const relativeError = (estimate: number, truth: number) => Math.abs(estimate - truth) / truth;

describe("hash53", () => {
  it("is a non-negative safe integer, the same for the same text and different for near texts", () => {
    for (const text of ["", "a", "b", "ab", "ba", "2026-01-01", "é", "\u{1F600}"]) {
      const hash = hash53(text);
      expect(Number.isSafeInteger(hash)).toBe(true);
      expect(hash).toBeGreaterThanOrEqual(0);
      expect(hash53(text)).toBe(hash);
    }
    expect(new Set(["ab", "ba", "a", "b", "", "aa"].map(hash53)).size).toBe(6);
  });

  it("stays a non-negative safe integer when its high 32 bits are all zero (one value in 2^32)", () => {
    // Such values are built here rather than searched for: the mixing steps before the final
    // avalanche (which maps 0 to 0) are inverted for inputs that cancel out.
    const inverse = (odd: number) => {
      let x = odd;
      for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(odd, x));
      return x;
    };
    const view = new Float64Array(1);
    const words = new Uint32Array(view.buffer);
    words[1] = 0x3ff0_0000;
    words[0] = Math.imul(0x3ff0_0000, 0x27d4_eb2d);
    const b1 = Math.imul(0x9747_b28c ^ ((98 << 16) | 99), 0x5bd1_e995);
    const a = Math.imul(b1 ^ (b1 >>> 13), 0x27d4_eb2d) ^ 4;
    const x = (Math.imul(a ^ (a >>> 15) ^ (a >>> 30), inverse(0x0100_0193)) ^ 0x811c_9dc5) >>> 0;
    const text = String.fromCharCode(x >>> 16, x & 0xffff, 98, 99);
    for (const hash of [hashNumber(view[0] as number), hash53(text)]) {
      expect(hash).toBeLessThan(2 ** 21);
      expect(hash).toBeGreaterThanOrEqual(0);
      expect(Number.isSafeInteger(hash)).toBe(true);
    }
    // A sketch holding them stores them, and reads them back.
    const sketch = new DistinctSketch();
    sketch.addHash(hashNumber(view[0] as number));
    sketch.addHash(hash53(text));
    expect(DistinctSketch.fromJSON(JSON.parse(JSON.stringify(sketch.toJSON()))).count()).toBe(2);
  });

  it("does not collide on a million sequential values", () => {
    expect(new Set(Array.from(range(0, 1_000_000), hash53)).size).toBe(1_000_000);
  });

  describe("long texts (hashed by their UTF-8 bytes)", () => {
    const filler = "lorem ipsum dolor sit amet, consectetur adipiscing elit ".repeat(4);

    it("does not collide on a million sequential long values, differing only in their last characters", {
      timeout: 60_000,
    }, () => {
      const hashes = new Set(
        Array.from(
          range(0, 1_000_000, (i) => `${filler}${i}`),
          hash53,
        ),
      );
      expect(hashes.size).toBe(1_000_000);
    });

    it("tells apart texts that differ in any one byte, whatever the length's remainder in words", () => {
      // Lengths on both sides of the threshold, and every tail length of the last words.
      for (let length = LONG_TEXT - 2; length <= LONG_TEXT + 9; length++) {
        const base = filler.slice(0, length);
        const variants = new Set<number>([hash53(base)]);
        for (let at = 0; at < length; at++) variants.add(hash53(`${base.slice(0, at)}#${base.slice(at + 1)}`));
        expect(variants.size).toBe(length + 1);
        // A prefix is not the text: the last bytes and the length both count.
        expect(hash53(base.slice(0, -1))).not.toBe(hash53(base));
        expect(hash53(`${base}\u0000`)).not.toBe(hash53(base));
      }
    });

    it("hashes equal texts equally, however they were built, non-ASCII and longer than any earlier text included", () => {
      for (const text of [`${filler}Zoë Ørsted 東京 \u{1F600}`, "é".repeat(3000), "a".repeat(100_000)]) {
        const copy = [...text].join("");
        expect(hash53(copy)).toBe(hash53(text));
        const hash = hash53(text);
        expect(Number.isSafeInteger(hash) && hash >= 0).toBe(true);
        expect(hash53(`${text.slice(0, -1)}x`)).not.toBe(hash);
      }
      // A long text hashed after a longer one is not read with the longer one's leftover bytes,
      // whether its bytes fill a whole number of word pairs or not.
      for (let length = LONG_TEXT; length < LONG_TEXT + 8; length++) {
        const text = filler.slice(0, length);
        hash53("b".repeat(50_000));
        const after = hash53(text);
        hash53("c".repeat(50_000));
        expect(hash53(text)).toBe(after);
      }
    });
  });
});

describe("exact up to 10,000 distinct values", () => {
  it("counts every value once however often it repeats", () => {
    const values = [...range(0, 3000)];
    expect(sketchOf([...values, ...values, ...values.slice(0, 10)]).count()).toBe(3000);
    expect(new DistinctSketch().count()).toBe(0);
  });

  it("is exact at exactly 10,000 and stays so when merged from overlapping parts", () => {
    expect(sketchOf(range(0, EXACT_LIMIT)).count()).toBe(EXACT_LIMIT);
    const merged = sketchOf(range(0, 6000));
    merged.merge(stored(sketchOf(range(4000, 10_000))));
    merged.merge(stored(sketchOf(range(0, 100))));
    expect(merged.count()).toBe(10_000);
    expect(merged.toJSON()).toHaveProperty("exact");
  });

  it("keeps its exact count through the stored form", () => {
    const sketch = sketchOf(range(0, 9999, (i) => `value ${i}`));
    expect(DistinctSketch.fromJSON(JSON.parse(JSON.stringify(sketch.toJSON()))).count()).toBe(9999);
  });
});

describe("an estimate within 2 % above 10,000", () => {
  it.each([10_001, 12_000, 20_000, 50_000, 100_000, 300_000])("%i distinct values", (n) => {
    const sketch = sketchOf(range(0, n, (i) => `row-${i}`));
    expect(sketch.toJSON()).not.toHaveProperty("exact");
    expect(relativeError(sketch.count(), n)).toBeLessThan(0.02);
  });

  it("1,000,000 distinct values", () => {
    const sketch = sketchOf(range(0, 1_000_000, (i) => `value ${i}`));
    expect(relativeError(sketch.count(), 1_000_000)).toBeLessThan(0.02);
  });

  it("numbers, hashed by value: 1,000,000 decimals within 2 %, 10,000 integers exactly, 0 and -0 one value", () => {
    const decimals = new DistinctSketch();
    for (let i = 0; i < 1_000_000; i++) decimals.addHash(hashNumber(i * 1.5));
    expect(relativeError(decimals.count(), 1_000_000)).toBeLessThan(0.02);
    const integers = new DistinctSketch();
    for (let i = 0; i < 20_000; i++) integers.addHash(hashNumber(i % 10_000));
    integers.addHash(hashNumber(-0));
    expect(integers.count()).toBe(10_000);
  });

  it("the same when the values come in 40 parts that are stored and merged, with repeats across parts", () => {
    const total = new DistinctSketch();
    for (let part = 0; part < 40; part++) {
      // Each part holds 5,000 values, half of them also in the next part: 102,500 distinct in all.
      total.merge(stored(sketchOf(range(part * 2500, part * 2500 + 5000, (i) => `id-${i}`))));
    }
    expect(relativeError(total.count(), 102_500)).toBeLessThan(0.02);
    const again = DistinctSketch.fromJSON(JSON.parse(JSON.stringify(total.toJSON())));
    expect(again.count()).toBe(total.count());
  });

  it("merging a sketch already estimated into an exact one estimates the union", () => {
    const exact = sketchOf(range(0, 5000));
    exact.merge(stored(sketchOf(range(2500, 200_000))));
    expect(relativeError(exact.count(), 200_000)).toBeLessThan(0.02);
  });
});

describe("an estimate within 2 % up to 2^53 distinct values, where registers reach the top rank", () => {
  const m = 65_536;
  /**
   * The registers of a sketch that has seen `n` distinct values, drawn from their exact
   * distribution rather than by hashing `n` values: a register's rank is at most `k` when none of
   * the values falling in it ranks higher, probability (1 - 2^-k / m)^n, and 38 (a hash's last 37
   * bits all zero) is the top. A fixed seed keeps the draw the same from run to run.
   */
  function drawn(n: number, seed: number): { registers: string } {
    let state = seed;
    const uniform = () => {
      state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
      return (state + 0.5) / 2 ** 32;
    };
    const atMost = Array.from({ length: 38 }, (_, k) => Math.exp(n * Math.log1p(-(2 ** -k) / m)));
    let binary = "";
    for (let i = 0; i < m; i++) {
      const u = uniform();
      let rank = 0;
      while (rank < 38 && (atMost[rank] as number) < u) rank++;
      binary += String.fromCharCode(rank);
    }
    return { registers: btoa(binary) };
  }

  /**
   * The registers in exactly the proportions `n` values give them (each rank's expected share,
   * rounded to whole registers), with no draw's noise: the estimator is unbiased, so it must give
   * back `n` almost exactly, top-rank correction included.
   */
  function expected(n: number): { registers: string } {
    let binary = "";
    let filled = 0;
    for (let rank = 0; rank <= 38; rank++) {
      const upTo = rank === 38 ? m : Math.round(m * Math.exp(n * Math.log1p(-(2 ** -rank) / m)));
      binary += String.fromCharCode(rank).repeat(upTo - filled);
      filled = upTo;
    }
    return { registers: btoa(binary) };
  }

  it.each([2e4, 1e6, 1e9, 1e12, 2 ** 48, 2 ** 52, 2 ** 53])(
    "%d distinct values, registers as expected: within 0.05 %",
    (n) => {
      expect(relativeError(DistinctSketch.fromJSON(expected(n)).count(), n)).toBeLessThan(0.0005);
    },
  );

  it.each([1e6, 1e9, 1e12, 2 ** 48, 2 ** 52, 2 ** 53])("%d distinct values, registers drawn: within 2 %", (n) => {
    const stored = drawn(n, 7);
    const topRank = [...atob(stored.registers)].filter((rank) => rank.charCodeAt(0) === 38).length;
    // Beyond about 2^44 values some registers hold the top rank, which the estimator corrects for.
    if (n >= 2 ** 48) expect(topRank).toBeGreaterThan(1000);
    expect(relativeError(DistinctSketch.fromJSON(stored).count(), n)).toBeLessThan(0.02);
  });
});

describe("stored form", () => {
  const bytes = (...values: number[]) => btoa(String.fromCharCode(...values));
  const sizeOf = (sketch: DistinctSketch) => JSON.stringify(sketch.toJSON()).length;

  it("stores a chunk-sized estimate sparsely, a third of the dense size, and reads it back register for register", () => {
    const sketch = sketchOf(range(0, 12_000, (i) => `row-${i}`));
    const json = sketch.toJSON();
    expect(json).toHaveProperty("sparse");
    // Dense registers are 65,536 bytes, 87,384 in base64.
    expect(sizeOf(sketch)).toBeLessThan(30_000);
    const back = DistinctSketch.fromJSON(JSON.parse(JSON.stringify(json)));
    expect(back.count()).toBe(sketch.count());
    // Merged into a sketch of other values, it counts as the values themselves would.
    const merged = sketchOf(range(12_000, 30_000, (i) => `row-${i}`));
    merged.merge(stored(sketch));
    expect(merged.count()).toBe(sketchOf(range(0, 30_000, (i) => `row-${i}`)).count());
  });

  it("stores registers densely once that is shorter", () => {
    const sketch = sketchOf(range(0, 300_000, (i) => `row-${i}`));
    expect(sketch.toJSON()).toHaveProperty("registers");
    expect(sizeOf(sketch)).toBeLessThanOrEqual(87_400);
    expect(DistinctSketch.fromJSON(JSON.parse(JSON.stringify(sketch.toJSON()))).count()).toBe(sketch.count());
  });

  it("reads sparse gaps of several bytes: the first and last registers alone", () => {
    // Register 0 with rank 3, then a gap of 65,534 (LEB128 fe ff 03) to register 65,535 with rank 1.
    const sketch = DistinctSketch.decode({ sparse: bytes(0, 3, 0xfe, 0xff, 0x03, 1) });
    expect("registers" in sketch && [sketch.registers[0], sketch.registers[65_535]]).toEqual([3, 1]);
    expect("registers" in sketch && sketch.registers.filter((rank) => rank !== 0).length).toBe(2);
  });

  it("refuses malformed hashes and registers, saying which", () => {
    const hashes = "distinct sketch: malformed hashes";
    const registers = "distinct sketch: malformed registers";
    const sparse = "distinct sketch: malformed sparse registers";
    expect(() => DistinctSketch.fromJSON({ exact: "AAA" })).toThrow(hashes);
    expect(() => DistinctSketch.fromJSON({ registers: btoa("short") })).toThrow(registers);
    // Dense registers of valid ranks but not 65,536 of them.
    expect(() => DistinctSketch.fromJSON({ registers: btoa("\u0001".repeat(10)) })).toThrow(registers);
    // A register past the last, a gap without its rank, a zero rank, a gap that never ends, a rank too high.
    expect(() => DistinctSketch.fromJSON({ sparse: bytes(0, 3, 0xff, 0xff, 0x03, 1) })).toThrow(sparse);
    expect(() => DistinctSketch.fromJSON({ sparse: bytes(0, 3, 5) })).toThrow(sparse);
    expect(() => DistinctSketch.fromJSON({ sparse: bytes(7, 0) })).toThrow(sparse);
    expect(() => DistinctSketch.fromJSON({ sparse: bytes(0x80, 0x80, 0x80, 0x80) })).toThrow(sparse);
    // A gap cut short, after a whole pair or alone.
    expect(() => DistinctSketch.fromJSON({ sparse: bytes(0, 3, 0x80) })).toThrow(sparse);
    expect(() => DistinctSketch.fromJSON({ sparse: bytes(0xff, 0xff) })).toThrow(sparse);
    // A gap is below 2^16, so never more than three bytes, even when the fourth would end it.
    expect(() => DistinctSketch.fromJSON({ sparse: bytes(0x80, 0x80, 0x80, 0x00, 1) })).toThrow(sparse);
    expect(() => DistinctSketch.fromJSON({ sparse: bytes(0, 39) })).toThrow(registers);
    expect(DistinctSketch.fromJSON({ sparse: bytes(0, 38) }).count()).toBeGreaterThan(0);
    const nan = new Uint8Array(new Float64Array([Number.NaN]).buffer);
    expect(() => DistinctSketch.fromJSON({ exact: btoa(String.fromCharCode(...nan)) })).toThrow(hashes);
  });
});

describe("dense registers, as a sketch with more distinct values than the sparse form holds is stored", () => {
  const dense = (last: number) => {
    const registers = new Uint8Array(65_536).fill(1);
    registers[65_535] = last;
    return { registers: Buffer.from(registers).toString("base64") };
  };

  it("accepts the highest rank a hash can have (38) in any register, the last included", () => {
    expect(DistinctSketch.fromJSON(dense(38)).count()).toBeGreaterThan(0);
  });

  it("refuses a rank no hash can have (39), even in the last register", () => {
    expect(() => DistinctSketch.fromJSON(dense(39))).toThrow("distinct sketch: malformed registers");
  });
});

describe("the stored registers, which every chunk and the outcome must read alike", () => {
  const RANK_SPAN = 2 ** 37;
  const dense = (registers: Uint8Array) => {
    let binary = "";
    for (let i = 0; i < registers.length; i += 8192) binary += String.fromCharCode(...registers.subarray(i, i + 8192));
    return { registers: btoa(binary) };
  };
  /** An estimating sketch holding nothing yet: all 65,536 registers zero. */
  const emptyEstimate = () => DistinctSketch.fromJSON(dense(new Uint8Array(65_536)));
  /** The non-zero registers as [index, rank] pairs: comparing them is quicker than 65,536 bytes. */
  const nonZero = (registers: Uint8Array) => {
    expect(registers).toHaveLength(65_536);
    const pairs: [number, number][] = [];
    for (const [index, rank] of registers.entries()) if (rank !== 0) pairs.push([index, rank]);
    return pairs;
  };
  const registersOf = (sketch: DistinctSketch) => {
    const decoded = DistinctSketch.decode(JSON.parse(JSON.stringify(sketch.toJSON())));
    if (!("registers" in decoded)) throw new Error("expected registers");
    return decoded.registers;
  };

  it("an estimating sketch with nothing in it counts 0", () => {
    expect(emptyEstimate().count()).toBe(0);
  });

  it("a hash's top 16 bits choose its register and the first 1 bit of the other 37 its rank", () => {
    const cases: [index: number, rest: number, rank: number][] = [
      [0, 2 ** 36, 1],
      [1, 2 ** 37 - 1, 1],
      [2, 2 ** 35 + 5, 2],
      [3, 2 ** 5, 32],
      [4, 31, 33],
      [5, 8, 34],
      [6, 1, 37],
      [65_535, 0, 38],
    ];
    const sketch = emptyEstimate();
    for (const [index, rest] of cases) sketch.addHash(index * RANK_SPAN + rest);
    const registers = registersOf(sketch);
    for (const [index, , rank] of cases) expect(registers[index], `register ${index}`).toBe(rank);
    expect(registers.filter((rank) => rank !== 0)).toHaveLength(cases.length);
    // A register keeps the highest rank offered.
    sketch.addHash(6 * RANK_SPAN + 2 ** 36);
    sketch.addHash(3 * RANK_SPAN + 3);
    expect([registersOf(sketch)[6], registersOf(sketch)[3]]).toEqual([37, 36]);
  });

  it("keeps every register through the sparse and the dense form, whichever is shorter", () => {
    const gaps = fc.oneof(fc.constantFrom(0, 126, 127, 128, 129, 16_382, 16_383, 16_384, 16_385), fc.nat(300));
    fc.assert(
      fc.property(fc.array(fc.tuple(gaps, fc.integer({ min: 1, max: 38 })), { maxLength: 60 }), (entries) => {
        const registers = new Uint8Array(65_536);
        let index = -1;
        for (const [gap, rank] of entries) {
          index += gap + 1;
          if (index >= 65_536) break;
          registers[index] = rank;
        }
        const sketch = DistinctSketch.fromJSON(dense(registers));
        expect(sketch.toJSON()).toHaveProperty("sparse");
        expect(nonZero(registersOf(sketch))).toEqual(nonZero(registers));
      }),
      { numRuns: 60 },
    );
  });

  it("stores sparsely exactly while that is shorter than the 65,536 dense bytes", () => {
    // Adjacent registers take two bytes each: 32,767 of them fit in 65,534 bytes, 32,768 do not.
    const fill = (count: number) => {
      const registers = new Uint8Array(65_536);
      registers.fill(1, 0, count);
      return registers;
    };
    const shorter = DistinctSketch.fromJSON(dense(fill(32_767)));
    expect(shorter.toJSON()).toHaveProperty("sparse");
    expect(nonZero(registersOf(shorter))).toEqual(nonZero(fill(32_767)));
    const longer = DistinctSketch.fromJSON(dense(fill(32_768)));
    expect(longer.toJSON()).toHaveProperty("registers");
    expect(nonZero(registersOf(longer))).toEqual(nonZero(fill(32_768)));
  });
});

describe("the stored exact hashes", () => {
  const exact = (hashes: number[]) => {
    const bytes = new Uint8Array(new Float64Array(hashes).buffer);
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return { exact: btoa(binary) };
  };

  it("accepts every hash from 0 to 2^53 - 1, and up to 10,000 of them", () => {
    expect(DistinctSketch.fromJSON(exact([0, 1, 2 ** 53 - 1])).count()).toBe(3);
    const full = Array.from({ length: EXACT_LIMIT }, (_, i) => i * 7);
    expect(DistinctSketch.fromJSON(exact(full)).count()).toBe(EXACT_LIMIT);
    const sketch = sketchOf(range(0, EXACT_LIMIT));
    expect(DistinctSketch.fromJSON(JSON.parse(JSON.stringify(sketch.toJSON()))).count()).toBe(EXACT_LIMIT);
  });

  it("refuses more than 10,000 hashes, and values no hash can have", () => {
    const malformed = "distinct sketch: malformed hashes";
    expect(() => DistinctSketch.decode(exact(Array.from({ length: EXACT_LIMIT + 1 }, (_, i) => i)))).toThrow(malformed);
    for (const bad of [-1, 0.5, 2 ** 53, Number.POSITIVE_INFINITY]) {
      expect(() => DistinctSketch.decode(exact([1, bad])), String(bad)).toThrow(malformed);
    }
  });

  it("counts exactly after every single value up to 10,000", () => {
    const sketch = new DistinctSketch();
    for (let i = 1; i <= EXACT_LIMIT; i++) {
      sketch.addHash(hash53(`v${i}`));
      sketch.addHash(hash53(`v${Math.ceil(i / 2)}`));
      if (sketch.count() !== i) expect(sketch.count(), `after ${i} values`).toBe(i);
    }
  });
});
