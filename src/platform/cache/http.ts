/**
 * Read-through caching of GET responses in KV, per user. The key is
 * `cache:<scope>:<user>:<sha256(role, department, cache version, request params)>`:
 * - role and department, because they decide what the user may see;
 * - the user's `tasks` cache version, held by the user's edge state object (strongly consistent)
 *   and replaced after every commit that changes anything the user can see, before that write
 *   answers. A cached answer is therefore never older than a committed write its reader could
 *   see, and a hit needs no trip to the database region.
 * KV only stores bodies under keys that name their version; it never decides freshness, so its
 * eventual consistency costs at most a miss. `X-Cache` says HIT, MISS or BYPASS (`nocache=1`,
 * `Cache-Control: no-cache`, KV unavailable, or the edge state unreachable: a cache failure
 * never fails the request).
 */
import type { Context, TypedResponse } from "hono";
import type { JSONParsed } from "hono/utils/types";
import type { AppEnv } from "../context/types.ts";
import { sha256Hex } from "../lib/digest.ts";
import { errorFields, log } from "../lib/log.ts";

export type CacheStatus = "HIT" | "MISS" | "BYPASS";

export interface CachedBody {
  body: string;
  contentType: string;
}

export interface CacheRequest {
  /** What is cached: `tasks:list`, `tasks:detail`, `reports:overdue`, ... */
  scope: string;
  /** Everything that changes the answer besides the user (query, path id, format). */
  params: unknown;
  ttlSeconds: number;
  /** Produces the response body on a miss. */
  load: () => Promise<CachedBody>;
}

/**
 * Whether the client asked for an answer straight from the database: `nocache=1` (or `true`), or
 * `Cache-Control: no-cache` / `no-store`. Every cached route asks this one function.
 */
export function wantsBypass(c: Context<AppEnv>): boolean {
  const nocache = c.req.query("nocache");
  if (nocache === "1" || nocache === "true") return true;
  return /(^|,)\s*no-(cache|store)\s*(,|$)/i.test(c.req.header("Cache-Control") ?? "");
}

/** Answers from KV when possible, else loads, stores (after responding) and answers. */
export async function cachedResponse(c: Context<AppEnv>, request: CacheRequest): Promise<Response> {
  const user = c.var.user;
  const respond = (cached: CachedBody, status: CacheStatus): Response => {
    c.header("X-Cache", status);
    c.header("Content-Type", cached.contentType);
    c.header("Cache-Control", "private, no-cache");
    return c.body(cached.body, 200);
  };
  if (wantsBypass(c)) return respond(await request.load(), "BYPASS");

  const kv = c.env.CACHE;
  const version = user.cacheVersions?.tasks;
  if (!version) return respond(await request.load(), "BYPASS");

  const digest = await sha256Hex(JSON.stringify([user.role, user.departmentId, version, request.params]));
  const key = `cache:${request.scope}:u${user.id}:${digest}`;
  let hit: CachedBody | null = null;
  try {
    hit = await kv.get<CachedBody>(key, "json");
  } catch (error) {
    kvFailed(error);
    return respond(await request.load(), "BYPASS");
  }
  if (hit && typeof hit.body === "string") return respond(hit, "HIT");

  const fresh = await request.load();
  const store = kv
    .put(key, JSON.stringify(fresh), { expirationTtl: Math.max(60, request.ttlSeconds) })
    .catch((error: unknown) => log("warn", "cache write failed", errorFields(error)));
  c.executionCtx.waitUntil(store);
  return respond(fresh, "MISS");
}

/** A cached JSON answer, typed as the value its loader produces. */
export type CachedJson<T> = Response & TypedResponse<JSONParsed<T>, 200, "json">;

/**
 * `cachedResponse` for a JSON body: the loader returns the value itself, typed by the route, and
 * the answer carries that type, so the OpenAPI router checks a cached route's body against its
 * documented schema exactly as it checks `c.json`. The bytes are the ones cached (a hit is never
 * parsed); the one assertion below only names their type, which `load` fixed when they were made.
 */
export async function cachedJson<T>(
  c: Context<AppEnv>,
  request: Omit<CacheRequest, "load"> & { load: () => Promise<T> },
): Promise<CachedJson<T>> {
  const response = await cachedResponse(c, {
    ...request,
    load: async () => ({ body: JSON.stringify(await request.load()), contentType: "application/json" }),
  });
  return response as CachedJson<T>;
}

function kvFailed(error: unknown): null {
  log("warn", "cache unavailable", errorFields(error));
  return null;
}
