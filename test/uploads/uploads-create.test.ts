import { describe, expect, it } from "vitest";
import { api, json } from "../support/http.ts";
import { createUser } from "../support/users.ts";

describe("POST /csv-data/uploads/ declared size", () => {
  it("refuses 0 bytes with a sentence about the empty file, and accepts 1 byte", async () => {
    const user = await createUser();
    const empty = await api("/csv-data/uploads/", { token: user.token, json: { filename: "a.csv", size_bytes: 0 } });
    expect(empty.status).toBe(400);
    expect((await json<{ detail: string }>(empty)).detail).toBe(
      "Invalid input in size_bytes: must be at least 1 byte; an empty file has nothing to upload.",
    );
    const one = await api("/csv-data/uploads/", { token: user.token, json: { filename: "a.csv", size_bytes: 1 } });
    expect(one.status).toBe(201);
  });

  it("accepts exactly the 2 GiB limit and refuses one byte more with 413", async () => {
    const user = await createUser();
    const create = (size_bytes: number) =>
      api("/csv-data/uploads/", { token: user.token, json: { filename: "big.csv", size_bytes } });
    expect((await create(2 * 1024 ** 3)).status).toBe(201);
    const over = await create(2 * 1024 ** 3 + 1);
    expect(over.status).toBe(413);
    expect((await json<{ detail: string }>(over)).detail).toMatch(/2147483648/);
  });
});

describe("POST /csv-data/uploads/ part URLs", () => {
  it("live for an hour: expires_at and every URL's X-Amz-Expires say 3600 s", async () => {
    const user = await createUser();
    const before = Date.now();
    const created = await api("/csv-data/uploads/", {
      token: user.token,
      json: { filename: "a.csv", size_bytes: 40 * 1024 * 1024 },
    });
    expect(created.status).toBe(201);
    const { upload } = await json<{ upload: { expires_at: string; parts: { url: string }[] } }>(created);
    const lifetime = Date.parse(upload.expires_at) - before;
    expect(lifetime).toBeGreaterThan(3_600_000 - 60_000);
    expect(lifetime).toBeLessThanOrEqual(3_600_000 + 1_000);
    expect(upload.parts.length).toBeGreaterThan(1);
    for (const part of upload.parts) expect(new URL(part.url).searchParams.get("X-Amz-Expires")).toBe("3600");
  });
});
