/**
 * KV cache for row pages and counts. Keys carry the upload id, its data version and a hash of the
 * normalised query, so a changed upload can never serve an old page. KV trouble never fails a
 * read: it is served uncached.
 *
 * A completed upload's description (owner check, columns, data version, what its indexes hold) is
 * cached too, under the owner's `uploads` cache version from their edge state: a completed upload
 * changes only by being deleted, which replaces that version before the delete answers. With both
 * in KV a cached row page is answered without a trip to the database region.
 */
import { parseExactJson } from "../../../platform/lib/exact-json.ts";
import { errorFields, log } from "../../../platform/lib/log.ts";
import { fingerprintHash } from "./csv-data.cursor.ts";
import { queryFingerprint, type RowQuery } from "./csv-data.query.ts";
import type { QueryableUpload } from "./csv-data.service.ts";

export async function rowsCacheKey(upload: QueryableUpload, query: RowQuery): Promise<string> {
  const page = query.pagination === "page" ? `p${query.page}` : `c${query.cursor ?? ""}`;
  const hash = await fingerprintHash(`${queryFingerprint(query)}|${query.pagination}|${page}|${query.pageSize}`);
  return `rows:${upload.id}:v${upload.dataVersion}:${hash}`;
}

export type CacheLookup<T> = { status: "HIT"; value: T } | { status: "MISS" | "BYPASS" };

/** A cached page; `BYPASS` when KV cannot be read (the page is then served uncached, not stored). */
export async function readCached<T>(kv: KVNamespace, key: string): Promise<CacheLookup<T>> {
  try {
    // Text, parsed exactly: a cached page may hold numbers a double cannot.
    const text = await kv.get(key, "text");
    return text === null ? { status: "MISS" } : { status: "HIT", value: parseExactJson(text) as T };
  } catch (error) {
    log("warn", "row cache read failed", errorFields(error));
    return { status: "BYPASS" };
  }
}

export async function writeCached(kv: KVNamespace, key: string, value: unknown, ttlSeconds: number): Promise<void> {
  try {
    await kv.put(key, JSON.stringify(value), { expirationTtl: ttlSeconds });
  } catch (error) {
    log("warn", "row cache write failed", errorFields(error));
  }
}

/**
 * The shape of a cached upload description: raised whenever a field is added, so a description
 * cached by an earlier version (without it) is never read as a complete one.
 */
const UPLOAD_DESCRIPTION_SHAPE = 3;

/** Where a completed upload's description is cached for its owner; `null` when not cacheable now. */
export function uploadCacheKey(ownerId: number, uploadsVersion: string | undefined, uploadId: string): string | null {
  return uploadsVersion ? `upload:s${UPLOAD_DESCRIPTION_SHAPE}:u${ownerId}:${uploadsVersion}:${uploadId}` : null;
}
