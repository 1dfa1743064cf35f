/**
 * A stored row is the array of its values in column order; the API answers it as `{key: value}`.
 */
import { describe, expect, it } from "vitest";
import { rowObject } from "../../src/features/uploads/ingest/row-layout.ts";

describe("row layout: a stored row as the API answers it", () => {
  it("pairs each column's key with the value at its position, in column order", () => {
    const row = rowObject(["id", "name", "active"], [7, "Ada", false]);
    expect(row).toEqual({ id: 7, name: "Ada", active: false });
    expect(Object.keys(row)).toEqual(["id", "name", "active"]);
  });

  it("answers a position the row does not hold as null, never leaving the key out", () => {
    const row = rowObject(["id", "name", "note"], [7, null]);
    expect(row).toStrictEqual({ id: 7, name: null, note: null });
    expect(JSON.stringify(row)).toBe('{"id":7,"name":null,"note":null}');
  });
});
