/**
 * Numbers a double cannot hold (ids, account numbers, snowflakes, long decimals) come back exactly
 * as they were in the file: in JSON pages, cursors, NDJSON and CSV, and filters and sorting
 * compare them exactly. Checked on the raw response text, since a JavaScript client's JSON.parse
 * would round them again.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { convertValue, inferType } from "../../src/features/uploads/ingest/csv-format.ts";
import { api } from "../support/http.ts";
import { finished, formUpload, type Upload } from "../support/uploads.ts";
import { createUser, type TestUser } from "../support/users.ts";

const CSV = [
  "label,snowflake,edge,amount",
  "a,1790000000000000001,9007199254740991,0.12345678901234567",
  "b,1790000000000000003,9007199254740993,2.5",
  "c,1234567890123456789,9007199254740992,123456789.123456789",
  "d,42,,",
].join("\n");

let user: TestUser;
let upload: Upload;

const rowsText = async (query: string) => {
  const response = await api(`/csv-data/uploads/${upload.id}/data/${query}`, { token: user.token });
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return text;
};
/** The labels of the rows in a JSON page, in order (labels are plain strings: safe to parse). */
const labels = async (query: string) =>
  (JSON.parse(await rowsText(query)) as { results: { data: { label: string } }[] }).results.map((r) => r.data.label);

beforeAll(async () => {
  user = await createUser();
  upload = await finished(user, (await formUpload(user, `${CSV}\n`, "ids.csv")).id);
});

describe("exact numbers: typing", () => {
  it("types integers of any size as integer, and long decimals as number", () => {
    expect(upload.status).toBe("completed");
    expect(upload.error_rows).toBe(0);
    expect(upload.columns.map((c) => [c.key, c.type])).toEqual([
      ["label", "string"],
      ["snowflake", "integer"],
      ["edge", "integer"],
      ["amount", "number"],
    ]);
  });

  it("keeps safe integers plain numbers and the rest exact", () => {
    expect(inferType(["9007199254740991"])).toBe("integer");
    expect(inferType(["9007199254740993"])).toBe("integer");
    const safe = convertValue("9007199254740991", "integer");
    expect(safe).toEqual({ ok: true, value: 9007199254740991 });
    const big = convertValue("9007199254740993", "integer");
    expect(big.ok && JSON.stringify(big.value)).toBe("9007199254740993");
    expect(JSON.stringify(convertValue("+.5", "number"))).toBe('{"ok":true,"value":0.5}');
    const long = convertValue("+.12345678901234567", "number");
    expect(long.ok && JSON.stringify(long.value)).toBe("0.12345678901234567");
    // Beyond a double's range is not a number at all (the column would be text).
    expect(convertValue("1e400", "number").ok).toBe(false);
  });
});

describe("exact numbers: round trips", () => {
  it("lists every value exactly as in the file", async () => {
    const text = await rowsText("");
    for (const value of [
      '"snowflake":1790000000000000001',
      '"snowflake":1790000000000000003',
      '"snowflake":1234567890123456789',
      '"edge":9007199254740991',
      '"edge":9007199254740993',
      '"edge":9007199254740992',
      '"amount":0.12345678901234567',
      '"amount":123456789.123456789',
      '"amount":2.5',
      '"snowflake":42',
    ]) {
      expect(text).toContain(value);
    }
  });

  it("streams NDJSON and CSV exactly", async () => {
    const ndjson = await rowsText("?format=ndjson");
    const lines = ndjson.trim().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toContain('"snowflake":1790000000000000001');
    expect(lines[0]).toContain('"edge":9007199254740991');
    expect(lines[1]).toContain('"snowflake":1790000000000000003');
    expect(lines[1]).toContain('"edge":9007199254740993');
    expect(lines[2]).toContain('"amount":123456789.123456789');
    const csv = await rowsText("?format=csv");
    expect(csv).toContain("a,1790000000000000001,9007199254740991,0.12345678901234567");
    expect(csv).toContain("b,1790000000000000003,9007199254740993,2.5");
    expect(csv).toContain("c,1234567890123456789,9007199254740992,123456789.123456789");
  });

  it("serves a cached page exactly", async () => {
    await rowsText("?filter[snowflake][gt]=0");
    const again = await api(`/csv-data/uploads/${upload.id}/data/?filter[snowflake][gt]=0`, { token: user.token });
    expect(again.headers.get("X-Cache")).toBe("HIT");
    expect(await again.text()).toContain('"snowflake":1790000000000000003');
  });
});

describe("exact numbers: filters and sorting compare exactly", () => {
  const cases: [string, string[]][] = [
    ["?filter[snowflake][eq]=1790000000000000003", ["b"]],
    ["?snowflake=1790000000000000001", ["a"]],
    ["?filter[snowflake][ne]=1790000000000000001", ["b", "c", "d"]],
    ["?filter[snowflake][gt]=1790000000000000001", ["b"]],
    ["?filter[snowflake][gte]=1790000000000000001", ["a", "b"]],
    ["?filter[snowflake][lt]=1790000000000000003", ["a", "c", "d"]],
    ["?filter[snowflake][lte]=1790000000000000002", ["a", "c", "d"]],
    ["?filter[snowflake][in]=1790000000000000003,42", ["b", "d"]],
    ["?filter[snowflake][in]=[1790000000000000003]", ["b"]],
    ["?filter[edge][eq]=9007199254740993", ["b"]],
    ["?filter[edge][eq]=9007199254740992", ["c"]],
    ["?filter[edge][eq]=9007199254740991", ["a"]],
    ["?filter[amount][gt]=0.12345678901234566", ["a", "b", "c"]],
    ["?filter[amount][lt]=0.12345678901234568", ["a"]],
    ["?filter[amount][eq]=0.12345678901234567", ["a"]],
    ["?sort_by=-snowflake", ["b", "a", "c", "d"]],
    ["?sort_by=edge", ["a", "c", "b", "d"]],
  ];
  for (const [query, want] of cases) {
    it(query, async () => {
      expect(await labels(query)).toEqual(want);
    });
  }

  it("walks a cursor sorted by exact values without skipping or repeating", async () => {
    const seen: string[] = [];
    let next: string | null = `/csv-data/uploads/${upload.id}/data/?pagination=cursor&page_size=1&sort_by=edge`;
    while (next) {
      const response = await api(next, { token: user.token });
      const text = await response.text();
      expect(response.status, text).toBe(200);
      const body = JSON.parse(text) as { results: { data: { label: string } }[]; next: string | null };
      seen.push(...body.results.map((r) => r.data.label));
      next = body.next;
    }
    expect(seen).toEqual(["a", "c", "b", "d"]);
  });
});
