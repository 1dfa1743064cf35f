/**
 * Page mode at any depth over an ingested upload: a later page of every row in file order starts
 * from the chunk it falls in (each chunk records how many rows it stored), so the pages must be the
 * stored rows in order even where rejected records leave gaps in the row numbers, including a run
 * of rejected records longer than a whole chunk (a chunk that stored nothing).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { api, json } from "../support/http.ts";
import { chunkCounts, finished, formUpload, type Upload } from "../support/uploads.ts";
import { createUser, type TestUser } from "../support/users.ts";

const RECORDS = 4_000;
/**
 * Rejected records: a run wider than a 64 KiB chunk (rows are about 600 bytes), and every 97th
 * record; all after the first 2,000, which the column types are inferred from.
 */
const REJECTED_RUN = { from: 2_501, to: 2_750 };
const PADDING = "p".repeat(580);

function rejected(record: number): boolean {
  return (record >= REJECTED_RUN.from && record <= REJECTED_RUN.to) || (record > 2_000 && record % 97 === 0);
}

/** `id` and an integer `amount`; a rejected record's amount is not a number. */
function csv(): string {
  const lines = ["id,amount,note"];
  for (let record = 1; record <= RECORDS; record++) {
    lines.push(`${record},${rejected(record) ? "oops" : record * 3},${PADDING}`);
  }
  return `${lines.join("\n")}\n`;
}

const stored = Array.from({ length: RECORDS }, (_, i) => i + 1).filter((record) => !rejected(record));

interface Page {
  count: number;
  results: { row_number: number; data: { id: number; amount: number } }[];
}

describe("page mode deep in an upload with rejected records", () => {
  let owner: TestUser;
  let upload: Upload;

  beforeAll(async () => {
    owner = await createUser();
    upload = await formUpload(owner, csv());
    const done = await finished(owner, upload.id, 60_000);
    expect(done.status).toBe("completed");
    expect(done.error_rows).toBe(RECORDS - stored.length);
    // Enough chunks that pages start in many of them, one of which stored no row at all.
    expect((await chunkCounts(upload.id)).done).toBeGreaterThan(30);
  }, 90_000);

  async function page(query: string): Promise<Page> {
    const response = await api(`/csv-data/uploads/${upload.id}/data/?nocache=1&${query}`, { token: owner.token });
    expect(response.status).toBe(200);
    return json<Page>(response);
  }

  it("gives every stored row once, in order, walking every page", async () => {
    const size = 100;
    const seen: number[] = [];
    for (let n = 1; n <= Math.ceil(stored.length / size); n++) {
      const body = await page(`page=${n}&page_size=${size}`);
      expect(body.count).toBe(stored.length);
      seen.push(...body.results.map((row) => row.row_number));
    }
    expect(seen).toEqual(stored);
  });

  it("starts a page at its offset wherever it falls: before, inside and after the rejected run, and at the last row", async () => {
    const size = 37;
    const lastPage = Math.ceil(stored.length / size);
    const runPage = Math.floor(stored.indexOf(REJECTED_RUN.from - 1) / size) + 1;
    for (const n of [2, 3, runPage - 1, runPage, runPage + 1, runPage + 2, lastPage - 1, lastPage]) {
      const body = await page(`page=${n}&page_size=${size}`);
      const expected = stored.slice((n - 1) * size, n * size);
      expect(
        body.results.map((row) => row.row_number),
        `page ${n}`,
      ).toEqual(expected);
      // The row's own values, not only its number: the id is the record's, the amount three times it.
      expect(body.results[0]?.data).toEqual({ id: expected[0], amount: (expected[0] ?? 0) * 3, note: PADDING });
    }
  });

  it("answers an empty page just past the last row", async () => {
    const size = 50;
    const past = Math.ceil(stored.length / size) + 1;
    expect((await page(`page=${past}&page_size=${size}`)).results).toEqual([]);
  });
});
