import { describe, expect, it } from "vitest";
import { MAX_PLAN_READS, planReadBytes } from "../../src/features/uploads/ingest/boundaries.ts";

const MiB = 1024 * 1024;

describe("planReadBytes: how much of the file the planner reads at a time", () => {
  it("reads two chunks at a time while that takes at most MAX_PLAN_READS reads", () => {
    expect(planReadBytes(4 * MiB, 400 * MiB)).toBe(8 * MiB);
    expect(planReadBytes(64 * 1024, 9 * MiB)).toBe(128 * 1024);
    // Exactly MAX_PLAN_READS reads of two chunks: still two chunks.
    expect(planReadBytes(4 * MiB, MAX_PLAN_READS * 8 * MiB)).toBe(8 * MiB);
  });

  it("reads larger slices past that, so no file needs more than MAX_PLAN_READS reads", () => {
    const just = MAX_PLAN_READS * 8 * MiB + 1;
    expect(planReadBytes(4 * MiB, just)).toBe(8 * MiB + 1);
    const tenGiB = 10 * 1024 * MiB;
    expect(planReadBytes(4 * MiB, tenGiB)).toBe(20 * MiB);
    for (const size of [just, tenGiB, tenGiB + 7]) {
      expect(Math.ceil(size / planReadBytes(4 * MiB, size))).toBeLessThanOrEqual(MAX_PLAN_READS);
    }
  });
});
