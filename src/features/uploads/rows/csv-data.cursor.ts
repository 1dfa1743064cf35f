/**
 * Opaque, tamper-evident cursors: a base64url JSON position plus an HMAC-SHA256 over it, bound to
 * the upload, its data version and the query's fingerprint. A cursor edited by hand, replayed
 * against another query, or kept across a re-ingestion is a 400, never a wrong page.
 */
import { fromBase64Url, toBase64Url } from "../../../platform/lib/base64.ts";
import { ApiError } from "../../../platform/lib/errors.ts";
import { parseExactJson } from "../../../platform/lib/exact-json.ts";
import type { KeysetPosition } from "./csv-data.sql.ts";

interface CursorPayload extends KeysetPosition {
  upload: string;
  version: number;
  query: string;
}

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(`cursor:${secret}`), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    keys.set(secret, key);
  }
  return key;
}

export async function fingerprintHash(fingerprint: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(fingerprint));
  return toBase64Url(new Uint8Array(digest)).slice(0, 22);
}

export async function encodeCursor(secret: string, payload: CursorPayload): Promise<string> {
  const body = toBase64Url(encoder.encode(JSON.stringify(payload)));
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(body)));
  return `${body}.${toBase64Url(signature)}`;
}

async function signedBy(secret: string, body: string, signature: string): Promise<boolean> {
  try {
    return await crypto.subtle.verify("HMAC", await hmacKey(secret), fromBase64Url(signature), encoder.encode(body));
  } catch {
    // A signature that is not base64 at all.
    return false;
  }
}

const INVALID = "The cursor is invalid, was changed, or belongs to another query; start again without a cursor.";

export async function decodeCursor(
  secret: string,
  token: string,
  expected: { upload: string; version: number; query: string },
): Promise<KeysetPosition> {
  const [body, signature, extra] = token.split(".");
  if (!body || !signature || extra !== undefined || token.length > 2048)
    throw ApiError.invalidParameter("cursor", INVALID);
  if (!(await signedBy(secret, body, signature))) throw ApiError.invalidParameter("cursor", INVALID);
  // Exact: a sort value may be a number a double cannot hold.
  const payload = parseExactJson(new TextDecoder().decode(fromBase64Url(body))) as CursorPayload;
  if (payload.upload !== expected.upload || payload.query !== expected.query) {
    throw ApiError.invalidParameter("cursor", INVALID);
  }
  if (payload.version !== expected.version) {
    throw ApiError.invalidParameter("cursor", "The upload's rows changed since this cursor was issued; start again.");
  }
  return { value: payload.value, rowNumber: payload.rowNumber };
}
