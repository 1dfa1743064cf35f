/**
 * How many chunks of one consumer batch are parsed, typed and inserted at once, weighed by the
 * cells they hold (records × columns) rather than counted: a parsed cell takes some 50 bytes while
 * its chunk is typed, serialised and sent (a 4 MiB chunk of 500 columns and 1,000 records held about
 * 22 MB of live heap, measured in workerd), so three wide chunks at once came near a Worker's 128 MB
 * while three chunks of a 10-column file (10,400 records, 104,000 cells) hold a fraction of it.
 *
 * The rule: the chunks running at once hold at most `BATCH_CELLS` cells between them; a chunk with
 * more than that runs alone. A 10-column file's chunks still run three at a time (the consumer's
 * own limit), a 500-column file's one at a time.
 */
import { Semaphore } from "async-mutex";

/** Cells the chunks running at once may hold together: about 30 MB of parsed values. */
export const BATCH_CELLS = 600_000;
/** The semaphore counts whole units of this many cells (it keeps a queue per distinct weight). */
const CELLS_PER_UNIT = 10_000;
const CAPACITY = BATCH_CELLS / CELLS_PER_UNIT;

/** A chunk's weight in units: at least one, and at most the whole capacity, so it can always run. */
export function chunkUnits(cells: number): number {
  return Math.min(CAPACITY, Math.max(1, Math.ceil(cells / CELLS_PER_UNIT)));
}

/** One per consumer batch: its chunks run their heavy part through `run`. */
export class ChunkBudget {
  private readonly semaphore = new Semaphore(CAPACITY);

  /** Runs `work` once the chunks running hold few enough cells to admit `cells` more. */
  run<T>(cells: number, work: () => Promise<T>): Promise<T> {
    return this.semaphore.runExclusive(work, chunkUnits(cells));
  }
}
