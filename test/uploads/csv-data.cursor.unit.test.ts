import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor, fingerprintHash } from "../../src/features/uploads/rows/csv-data.cursor.ts";
import { toBase64Url } from "../../src/platform/lib/base64.ts";
import { ApiError } from "../../src/platform/lib/errors.ts";

const SECRET = "unit-secret-0123456789abcdef0123456789";
const WHERE = { upload: "0f4d1b9e-upload", version: 3, query: "q-fingerprint" };
const INVALID =
  "Invalid value for 'cursor': The cursor is invalid, was changed, or belongs to another query; start again without a cursor.";
const CHANGED = "Invalid value for 'cursor': The upload's rows changed since this cursor was issued; start again.";

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ApiError);
  const apiError = error as ApiError;
  expect(apiError.status).toBe(400);
  expect(apiError.errors).toEqual([
    { field: "cursor", message: apiError.detail.replace("Invalid value for 'cursor': ", "") },
  ]);
  return apiError;
}

/** A token signed like the codec signs, but with a key of the caller's choosing. */
async function signWith(keyText: string, body: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", encoder.encode(keyText), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(body)));
  return `${body}.${toBase64Url(signature)}`;
}

const bodyOf = (payload: unknown) => toBase64Url(new TextEncoder().encode(JSON.stringify(payload)));

describe("cursor codec", () => {
  it("gives back the position it was given, and nothing of the binding", async () => {
    const token = await encodeCursor(SECRET, { ...WHERE, value: "Zürich", rowNumber: 41 });
    expect(await decodeCursor(SECRET, token, WHERE)).toEqual({ value: "Zürich", rowNumber: 41 });
  });

  it("round-trips the null tail, numbers and booleans", async () => {
    for (const value of [null, 0, -2.5, 12, true, false]) {
      const token = await encodeCursor(SECRET, { ...WHERE, value, rowNumber: 7 });
      expect(await decodeCursor(SECRET, token, WHERE)).toEqual({ value, rowNumber: 7 });
    }
  });

  it("keeps a sort value a double cannot hold digit for digit", async () => {
    const value = JSON.rawJSON("1790000000000000001");
    const token = await encodeCursor(SECRET, { ...WHERE, value, rowNumber: 2 });
    const position = await decodeCursor(SECRET, token, WHERE);
    expect(JSON.stringify(position.value)).toBe("1790000000000000001");
  });

  it("is opaque URL-safe text: a base64url body and a base64url HMAC-SHA256, joined by a dot", async () => {
    const token = await encodeCursor(SECRET, { ...WHERE, value: "a/b+c?", rowNumber: 1 });
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    const [body] = token.split(".");
    expect(
      JSON.parse(
        new TextDecoder().decode(
          Uint8Array.from(atob(body!.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0)),
        ),
      ),
    ).toEqual({
      ...WHERE,
      value: "a/b+c?",
      rowNumber: 1,
    });
  });

  it("refuses a cursor whose position was edited", async () => {
    const token = await encodeCursor(SECRET, { ...WHERE, value: "a", rowNumber: 10 });
    const [, signature] = token.split(".");
    const forged = `${bodyOf({ ...WHERE, value: "a", rowNumber: 11 })}.${signature}`;
    expect((await refusal(decodeCursor(SECRET, forged, WHERE))).detail).toBe(INVALID);
  });

  it("refuses a cursor whose signature was edited", async () => {
    const token = await encodeCursor(SECRET, { ...WHERE, value: "a", rowNumber: 10 });
    const last = token.at(-1) === "A" ? "B" : "A";
    expect((await refusal(decodeCursor(SECRET, `${token.slice(0, -1)}${last}`, WHERE))).detail).toBe(INVALID);
  });

  it("refuses a cursor signed with another secret", async () => {
    const token = await encodeCursor(`${SECRET}-other`, { ...WHERE, value: "a", rowNumber: 10 });
    expect((await refusal(decodeCursor(SECRET, token, WHERE))).detail).toBe(INVALID);
  });

  it("refuses a cursor signed with the bare secret: the cursor key is its own", async () => {
    const token = await signWith(SECRET, bodyOf({ ...WHERE, value: "a", rowNumber: 10 }));
    expect((await refusal(decodeCursor(SECRET, token, WHERE))).detail).toBe(INVALID);
    const own = await signWith(`cursor:${SECRET}`, bodyOf({ ...WHERE, value: "a", rowNumber: 10 }));
    expect(await decodeCursor(SECRET, own, WHERE)).toEqual({ value: "a", rowNumber: 10 });
  });

  it.each([
    ["empty", ""],
    ["no signature", "eyJhIjoxfQ"],
    ["an empty signature", "eyJhIjoxfQ."],
    ["an empty body", ".c2lnbmF0dXJl"],
    ["a signature that is not base64", "eyJhIjoxfQ.!!!"],
  ])("refuses a malformed cursor (%s)", async (_name, token) => {
    expect((await refusal(decodeCursor(SECRET, token, WHERE))).detail).toBe(INVALID);
  });

  it("refuses a cursor whose signature is not base64, even over a genuine position", async () => {
    const token = `${bodyOf({ ...WHERE, value: "a", rowNumber: 10 })}.!!!`;
    expect((await refusal(decodeCursor(SECRET, token, WHERE))).detail).toBe(INVALID);
  });

  it("refuses a third dot-separated part even when the first two are valid", async () => {
    const token = await encodeCursor(SECRET, { ...WHERE, value: "a", rowNumber: 10 });
    expect((await refusal(decodeCursor(SECRET, `${token}.x`, WHERE))).detail).toBe(INVALID);
    expect((await refusal(decodeCursor(SECRET, `${token}.`, WHERE))).detail).toBe(INVALID);
  });

  it("accepts a valid cursor of 2048 characters and refuses a longer one", async () => {
    const tokenOfLength = async (length: number) => {
      for (let pad = 0; pad < 2048; pad++) {
        const token = await encodeCursor(SECRET, { ...WHERE, value: "x".repeat(pad), rowNumber: 1 });
        if (token.length === length) return token;
      }
      throw new Error(`no token of length ${length}`);
    };
    const longest = await tokenOfLength(2048);
    expect(await decodeCursor(SECRET, longest, WHERE)).toMatchObject({ rowNumber: 1 });
    // Base64 never gives a body one character longer, so 2050 is the shortest valid token above the limit.
    const tooLong = await tokenOfLength(2050);
    expect((await refusal(decodeCursor(SECRET, tooLong, WHERE))).detail).toBe(INVALID);
  });

  it("refuses a cursor from another upload", async () => {
    const token = await encodeCursor(SECRET, { ...WHERE, upload: "another-upload", value: "a", rowNumber: 1 });
    expect((await refusal(decodeCursor(SECRET, token, WHERE))).detail).toBe(INVALID);
  });

  it("refuses a cursor from another query over the same upload", async () => {
    const token = await encodeCursor(SECRET, { ...WHERE, query: "other-query", value: "a", rowNumber: 1 });
    expect((await refusal(decodeCursor(SECRET, token, WHERE))).detail).toBe(INVALID);
  });

  it("refuses a cursor kept across a re-ingestion, saying the rows changed", async () => {
    const token = await encodeCursor(SECRET, { ...WHERE, value: "a", rowNumber: 1 });
    expect((await refusal(decodeCursor(SECRET, token, { ...WHERE, version: 4 }))).detail).toBe(CHANGED);
    expect((await refusal(decodeCursor(SECRET, token, { ...WHERE, version: 2 }))).detail).toBe(CHANGED);
  });
});

describe("fingerprintHash", () => {
  it("is the first 22 base64url characters of the SHA-256 of the fingerprint", async () => {
    expect(await fingerprintHash("abc")).toBe("ungWv48Bz-pBQUDeXa4iI7");
  });

  it("differs between fingerprints", async () => {
    expect(await fingerprintHash("sort=a")).not.toBe(await fingerprintHash("sort=-a"));
  });
});
