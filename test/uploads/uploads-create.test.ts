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
});
