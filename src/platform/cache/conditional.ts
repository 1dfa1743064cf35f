/**
 * Conditional requests (entity tags).
 *
 * - Every finite 200 answer to a GET, PUT or PATCH on the routes this middleware covers carries a
 *   strong `ETag`: the first 128 bits of the SHA-256 of the body's bytes, as hex. Equal bodies give
 *   equal tags, so the tag of a task's detail (GET) is also the tag of the same task as a write
 *   returns it, and a client can send either in `If-Match`.
 * - A GET whose `If-None-Match` lists the current tag (weak comparison, or `*`) answers
 *   304 with no body and the same `ETag`, `Cache-Control`, `Vary` and `X-Cache` headers. The tag
 *   is taken from the answer the route produced anyway, so a 304 costs exactly what that answer
 *   cost: nothing from the database when it came from the cache.
 * - Streamed answers (`Cache-Control: no-store`, such as row exports) are passed through untouched:
 *   hashing them would mean holding the whole export in memory.
 *
 * `If-Match` (a write only when the caller still has the current version) is checked by the
 * service that writes, against the tag of the representation it read (`entityTag`).
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context/types.ts";
import { sha256Hex } from "../lib/digest.ts";
import { ApiError } from "../lib/errors.ts";

const TAG_HEX_LENGTH = 32;

/** The strong entity tag of a body: `"<first 128 bits of its SHA-256, hex>"`. */
export async function entityTag(body: string | ArrayBuffer): Promise<string> {
  return `"${(await sha256Hex(body)).slice(0, TAG_HEX_LENGTH)}"`;
}

/** The entity tags of an `If-Match` / `If-None-Match` value; `["*"]` for the wildcard. */
function listedTags(header: string): string[] {
  if (header.trim() === "*") return ["*"];
  return header.match(/(W\/)?"[^"]*"/g) ?? [];
}

const opaque = (tag: string): string => (tag.startsWith("W/") ? tag.slice(2) : tag);

/** `If-None-Match` holds: none of its tags equals `current` by weak comparison (a weak tag matches its strong twin). */
export function noneMatch(header: string | undefined, current: string): boolean {
  if (header === undefined) return true;
  const tags = listedTags(header);
  if (tags.includes("*")) return false;
  return !tags.some((tag) => opaque(tag) === opaque(current));
}

/**
 * `If-Match` holds: `*`, or one of its tags equals `current` by strong comparison (a weak tag never
 * matches: it cannot promise the bytes are the ones the client saw). No header always holds.
 */
export function ifMatchHolds(header: string | undefined, current: string): boolean {
  if (header === undefined) return true;
  const tags = listedTags(header);
  if (tags.includes("*")) return true;
  return tags.some((tag) => !tag.startsWith("W/") && tag === current);
}

/** The 412 a write answers when the caller's `If-Match` names a version that is no longer current. */
export function preconditionFailed(what: string, current: string): ApiError {
  return new ApiError(
    412,
    `The ${what} changed since you read it (If-Match does not name its current ETag ${current}); nothing was changed. Load it again and repeat your change if it still applies.`,
    { headers: { ETag: current } },
  );
}

/** Tags finite 200 answers to GET, PUT and PATCH, and answers a GET whose `If-None-Match` matches with 304. */
export const conditionalRequests: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  const method = c.req.method;
  if (c.res.status !== 200 || !(method === "GET" || method === "PUT" || method === "PATCH")) return;
  if (/(^|,)\s*no-store\s*(,|$)/i.test(c.res.headers.get("Cache-Control") ?? "")) return;

  const contentType = c.res.headers.get("Content-Type");
  const body = await c.res.arrayBuffer();
  const tag = await entityTag(body);
  const notModified = method === "GET" && !noneMatch(c.req.header("If-None-Match"), tag);
  // Assigning `c.res` keeps every header already set but Content-Type (Cache-Control, Vary,
  // X-Cache, the request id); a 304 has no content to type.
  c.res = notModified
    ? new Response(null, { status: 304 })
    : new Response(body, { status: 200, headers: contentType ? { "Content-Type": contentType } : {} });
  c.res.headers.set("ETag", tag);
};
