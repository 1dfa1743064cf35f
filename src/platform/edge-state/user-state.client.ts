/**
 * The only caller of the per-user `UserState` objects. Routes and services tell it what changed,
 * after their transaction commits and before they answer, so the next request anywhere sees it.
 *
 * A notification that fails is retried; if the object stays unreachable the failure is logged,
 * and the object's snapshot age (`SNAPSHOT_MAX_AGE_MS`) bounds how long the change can go unseen.
 * Reading never depends on the object being up: `authenticateAtEdge` falls back to Postgres and
 * the request is then served without the cache.
 */
import { errorFields, log } from "../lib/log.ts";
import { maskId } from "../lib/mask.ts";
import {
  type AuthAnswer,
  type CacheScope,
  type CacheVersions,
  SNAPSHOT_MAX_AGE_MS,
  STREAM_SESSION_HEADER,
} from "./user-state.ts";

export type { CacheScope, CacheVersions };

const NOTIFY_ATTEMPTS = 3;

/** The user's object (exported for operators' tools and tests; the app goes through the functions below). */
export function userStateOf(env: Env, userId: number) {
  return env.USER_STATE.get(env.USER_STATE.idFromName(`user:${userId}`));
}

/** The login's answer from the user's object; `null` when the object cannot be reached. */
export async function edgeLogin(env: Env, userId: number, sessionId: string): Promise<AuthAnswer | null> {
  try {
    return await userStateOf(env, userId).authenticate(userId, sessionId);
  } catch (error) {
    log("warn", "user state unavailable", { user: maskId(userId), ...errorFields(error) });
    return null;
  }
}

async function notify(userId: number, what: string, call: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await call();
      return;
    } catch (error) {
      if (attempt >= NOTIFY_ATTEMPTS) {
        log("error", "user state notification lost", {
          user: maskId(userId),
          what,
          stale_for_at_most_ms: SNAPSHOT_MAX_AGE_MS,
          ...errorFields(error),
        });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}

/** Everything these users can see may have changed in `scopes`: their cached answers are dropped. */
export async function bumpCacheVersions(
  env: Env,
  userIds: Iterable<number>,
  scopes: readonly CacheScope[] = ["tasks"],
): Promise<void> {
  await Promise.all([...new Set(userIds)].map((id) => notify(id, "bump", () => userStateOf(env, id).bump(scopes))));
}

/** These users' accounts changed (role, department, active, deleted): reload them, drop their caches. */
export async function userChanged(
  env: Env,
  userIds: Iterable<number>,
  options: { revokeAllSessions?: boolean } = {},
): Promise<void> {
  await Promise.all(
    [...new Set(userIds)].map((id) => notify(id, "user changed", () => userStateOf(env, id).userChanged(options))),
  );
}

export async function sessionRevoked(env: Env, userId: number, sessionId: string): Promise<void> {
  await notify(userId, "session revoked", () => userStateOf(env, userId).sessionRevoked(sessionId));
}

export async function sessionStarted(env: Env, userId: number, sessionId: string, expiresAt: Date): Promise<void> {
  await notify(userId, "session started", () =>
    userStateOf(env, userId).sessionStarted(sessionId, expiresAt.getTime()),
  );
}

/**
 * Sends `messages` to the user's open notification streams (none open: nothing happens). Only the
 * user's own object is called, so only their sockets receive them.
 */
export async function deliverToStreams(env: Env, userId: number, messages: readonly string[]): Promise<void> {
  if (messages.length === 0) return;
  await notify(userId, "stream delivery", async () => {
    await userStateOf(env, userId).deliver(messages);
  });
}

/**
 * Hands a WebSocket upgrade, already authenticated as `sessionId` of `userId`, to the user's
 * object, which keeps the socket. Any session header the client sent is replaced.
 */
export function openStream(env: Env, userId: number, sessionId: string, request: Request): Promise<Response> {
  const headers = new Headers(request.headers);
  headers.set(STREAM_SESSION_HEADER, sessionId);
  return userStateOf(env, userId).fetch(new Request(request, { headers }));
}
