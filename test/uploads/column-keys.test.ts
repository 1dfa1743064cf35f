/**
 * Column keys are at most 63 characters: every stored row repeats every key, so an unbounded
 * header would multiply what a file costs to store. Longer names are cut and kept unique, the
 * original stays in `name`, and every key keeps its per-column index.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rowIndexStatements } from "../../src/features/uploads/ingest/index-statements.ts";
import { partitionName } from "../../src/features/uploads/ingest/partitions.ts";
import { SEARCH_INDEX_PARTS } from "../../src/features/uploads/ingest/search-index.ts";
import { analyseSample } from "../../src/features/uploads/ingest/validate.ts";
import { withDb } from "../support/env.ts";
import { api } from "../support/http.ts";
import { encode, finished, formUpload } from "../support/uploads.ts";
import { createUser } from "../support/users.ts";

const columnsOf = (header: string[]) => {
  const text = `${header.join(",")}\n${header.map((_, i) => i).join(",")}\n`;
  return analyseSample(encode(text), encode(text).length, { maxColumns: 500 }).columns;
};

const A63 = "a".repeat(63);
const A64 = "a".repeat(64);
const LONG = (tail: string) => `${"word_".repeat(20)}${tail}`; // 100+ characters

describe("column keys: at most 63 characters", () => {
  it("keeps a 63-character key as it is", () => {
    const [column] = columnsOf([A63]);
    expect(column?.key).toBe(A63);
    expect(column?.name).toBe(A63);
  });

  it("cuts a 64-character key to 63 and keeps the original as the name", () => {
    const [column] = columnsOf([A64]);
    expect(column?.key).toBe(A63);
    expect(column?.name).toBe(A64);
  });

  it("keeps cut keys unique with a suffix, still within 63 characters", () => {
    const columns = columnsOf([LONG("one"), LONG("two"), LONG("three"), "id"]);
    const keys = columns.map((c) => c.key);
    expect(new Set(keys).size).toBe(4);
    for (const key of keys) expect(key.length).toBeLessThanOrEqual(63);
    expect(keys[0]).toBe("word_".repeat(20).slice(0, 63).replace(/_+$/, ""));
    expect(keys[1]).toMatch(/^word_.*_2$/);
    expect(keys[2]).toMatch(/^word_.*_3$/);
    expect(keys[3]).toBe("id");
    expect(columns.map((c) => c.name)).toEqual([LONG("one"), LONG("two"), LONG("three"), "id"]);
  });

  it("never takes a key that fits from another column: the cut one gets the suffix", () => {
    const columns = columnsOf([A64, A63]);
    expect(columns.map((c) => c.key)).toEqual([`${"a".repeat(61)}_2`, A63]);
  });

  it("still rejects names that are the same after normalisation and fit", () => {
    expect(() => columnsOf(["Name", "name"])).toThrow(/both become 'name'/);
  });

  it("gives every column of a long header its own index", () => {
    const columns = columnsOf([LONG("one"), LONG("two"), A64]);
    // One B-tree per column, plus the trigram index's parts.
    const { btrees, searchParts } = rowIndexStatements({
      id: crypto.randomUUID(),
      records: 10,
      columns,
      indexKeys: "typed",
    });
    expect(btrees).toHaveLength(columns.length);
    expect(searchParts).toHaveLength(SEARCH_INDEX_PARTS);
  });

  it("stores rows under the short keys, filters by them and exports the original names", async () => {
    const user = await createUser();
    const header = [LONG("amount"), LONG("label")];
    const upload = await finished(user, (await formUpload(user, `${header.join(",")}\n5,x\n7,y\n`)).id);
    expect(upload.status).toBe("completed");
    const [amount, label] = upload.columns;
    expect(amount?.name).toBe(header[0]);
    expect(amount?.key.length).toBeLessThanOrEqual(63);
    expect(label?.key).not.toBe(amount?.key);
    // Rows hold their values in column order; the keys are stored once, on the upload.
    const shapes = await withDb((db) =>
      db.execute<{ shape: string }>(
        sql`select distinct jsonb_typeof(data) as shape from ${sql.identifier(partitionName(upload.id))}`,
      ),
    );
    expect(shapes.rows).toEqual([{ shape: "array" }]);
    const filtered = await api(`/csv-data/uploads/${upload.id}/data/?filter[${amount?.key}][gt]=6`, {
      token: user.token,
    });
    expect(filtered.status).toBe(200);
    expect(((await filtered.json()) as { count: number }).count).toBe(1);
    const csv = await (await api(`/csv-data/uploads/${upload.id}/data/?format=csv`, { token: user.token })).text();
    expect(csv.split(/\r?\n/)[0]).toBe(`row_number,${header.join(",")}`);
  });
});
