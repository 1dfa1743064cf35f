/**
 * The chunk budget: chunks of one batch run at once only while the cells they hold (records ×
 * columns) stay within BATCH_CELLS; a chunk larger than that still runs, alone.
 */
import { describe, expect, it } from "vitest";
import { BATCH_CELLS, ChunkBudget, chunkUnits } from "../../src/features/uploads/ingest/chunk-budget.ts";

/** Starts works of the given cells on one budget; reports which have started, and finishes them on demand. */
function schedule(cells: number[]) {
  const budget = new ChunkBudget();
  const started: number[] = [];
  const finish: (() => void)[] = [];
  const done = cells.map((size, i) =>
    budget.run(size, () => {
      started.push(i);
      return new Promise<void>((resolve) => {
        finish[i] = resolve;
      });
    }),
  );
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  /** Finishes work `i` and lets the budget admit what waited for it. */
  const finishThenSettle = async (i: number) => {
    finish[i]?.();
    await settle();
  };
  return { started, done, settle, finishThenSettle };
}

describe("chunk budget", () => {
  it("runs three chunks of a 10-column file (10,469 records) at once", async () => {
    const { started, settle } = schedule([104_690, 104_690, 104_690]);
    await settle();
    expect(started).toEqual([0, 1, 2]);
  });

  it("runs a 500-column file's chunks (1,000 records) one at a time, in order", async () => {
    const { started, settle, done, finishThenSettle } = schedule([500_000, 500_000, 500_000]);
    await settle();
    expect(started).toEqual([0]);
    await finishThenSettle(0);
    expect(started).toEqual([0, 1]);
    await finishThenSettle(1);
    await finishThenSettle(2);
    await Promise.all(done);
    expect(started).toEqual([0, 1, 2]);
  });

  it("admits chunks up to the budget exactly, and not one cell more", async () => {
    const half = BATCH_CELLS / 2;
    const fits = schedule([half, half]);
    await fits.settle();
    expect(fits.started).toEqual([0, 1]);
    const over = schedule([half, half + 1]);
    await over.settle();
    expect(over.started).toEqual([0]);
  });

  it("runs a chunk larger than the whole budget alone rather than never", async () => {
    const { started, settle, done, finishThenSettle } = schedule([BATCH_CELLS * 4, 10]);
    await settle();
    expect(started).toEqual([0]);
    await finishThenSettle(0);
    expect(started).toEqual([0, 1]);
    await finishThenSettle(1);
    await Promise.all(done);
  });

  it("weighs an empty chunk as one unit", () => {
    expect(chunkUnits(0)).toBe(1);
    expect(chunkUnits(1)).toBe(1);
    expect(chunkUnits(BATCH_CELLS * 10)).toBe(chunkUnits(BATCH_CELLS));
  });
});
