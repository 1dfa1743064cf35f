/**
 * The distinct-value sketch of column statistics: exact up to 10,000 values, within 2 % above,
 * the same when its values arrive split over many sketches that are merged (as chunks are), and
 * the same after a round trip through its stored form.
 */
import { describe, expect, it } from "vitest";
import { DistinctSketch, EXACT_LIMIT, hash53, hashNumber } from "../../src/features/uploads/ingest/distinct-sketch.ts";

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

  it("does not collide on a million sequential values", () => {
    expect(new Set(Array.from(range(0, 1_000_000), hash53)).size).toBe(1_000_000);
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

  it("refuses malformed hashes and registers", () => {
    expect(() => DistinctSketch.fromJSON({ exact: "AAA" })).toThrow();
    expect(() => DistinctSketch.fromJSON({ registers: btoa("short") })).toThrow();
    // A register past the last, a gap without its rank, a zero rank, a gap that never ends, a rank too high.
    expect(() => DistinctSketch.fromJSON({ sparse: bytes(0, 3, 0xff, 0xff, 0x03, 1) })).toThrow();
    expect(() => DistinctSketch.fromJSON({ sparse: bytes(0, 3, 5) })).toThrow();
    expect(() => DistinctSketch.fromJSON({ sparse: bytes(7, 0) })).toThrow();
    expect(() => DistinctSketch.fromJSON({ sparse: bytes(0x80, 0x80, 0x80, 0x80) })).toThrow();
    expect(() => DistinctSketch.fromJSON({ sparse: bytes(0, 39) })).toThrow();
    expect(DistinctSketch.fromJSON({ sparse: bytes(0, 38) }).count()).toBeGreaterThan(0);
    const nan = new Uint8Array(new Float64Array([Number.NaN]).buffer);
    expect(() => DistinctSketch.fromJSON({ exact: btoa(String.fromCharCode(...nan)) })).toThrow();
  });
});
