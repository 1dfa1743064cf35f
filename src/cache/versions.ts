/**
 * Per-user cache versions in KV. Every write that changes what a user sees bumps that user's
 * version after the transaction commits, so cache keys built with the old version are never read
 * again (they expire by TTL).
 *
 * A version is a fresh random token, not a counter: a bump never reads the old value, so two
 * concurrent bumps cannot lose each other. KV accepts about one write per second per key; a burst
 * of writes for one user gets 429s from KV. Such a failed bump is retried after a second (inside
 * `waitUntil`), and it cannot serve stale data in between, because cache keys also carry a
 * freshness marker read from Postgres (see `cache/http.ts`). The KV version is the cheap,
 * immediate invalidation; the Postgres marker is the guarantee.
 */
import { errorFields, log } from "../lib/log.ts";

const versionKey = (userId: number): string => `ver:user:${userId}`;

/** The user's current version token ("0" before any write). Throws when KV is unreachable. */
export async function userVersion(kv: KVNamespace, userId: number): Promise<string> {
  return (await kv.get(versionKey(userId))) ?? "0";
}

async function bumpOne(kv: KVNamespace, userId: number, retries: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await kv.put(versionKey(userId), crypto.randomUUID());
      return;
    } catch (error) {
      if (attempt >= retries) {
        log("warn", "cache version bump failed", { attempts: attempt + 1, ...errorFields(error) });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1100 * (attempt + 1)));
    }
  }
}

/** Bumps each user's version; never throws (a failed bump only costs a cache miss later). */
export async function bumpUserVersions(kv: KVNamespace, userIds: Iterable<number>, retries = 2): Promise<void> {
  const unique = [...new Set(userIds)];
  await Promise.all(unique.map((id) => bumpOne(kv, id, retries)));
}
