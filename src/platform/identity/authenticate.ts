/**
 * Who is calling: an access token resolved to its user, for the request path's `requireAuth`.
 * Kept apart from the auth feature's service (register, login, refresh, logout) because every
 * feature's routes need it, and it needs nothing of theirs: the token, the user's edge state,
 * and Postgres only when that object cannot answer.
 */
import type { AppConfig } from "../config/config.ts";
import type { AuthUser } from "../context/types.ts";
import type { Db } from "../db/client.ts";
import { loadLogin } from "../edge-state/login-source.ts";
import { edgeLogin } from "../edge-state/user-state.client.ts";
import { ApiError } from "../lib/errors.ts";
import { verifyAccessToken } from "./tokens.ts";

const ACCOUNT_GONE = "The account for this token no longer exists or is disabled.";
const LOGIN_REVOKED = "This login has been revoked (logged out); log in again.";

/**
 * Resolves an access token to its user. The user's edge state answers without a trip to the
 * database region; only if that object cannot be reached is the login checked in Postgres, and
 * the request is then served without the cache (`cacheVersions: null`).
 */
export async function authenticate(env: Env, db: () => Db, config: AppConfig, token: string): Promise<AuthUser> {
  const claims = await verifyAccessToken(config, token);
  const answer = await edgeLogin(env, claims.userId, claims.sessionId);
  if (answer) {
    if (!answer.ok) throw ApiError.unauthenticated(answer.reason === "gone" ? ACCOUNT_GONE : LOGIN_REVOKED);
    return { ...answer.user, sessionId: claims.sessionId, cacheVersions: answer.versions };
  }
  const login = await loadLogin(db(), claims.userId, claims.sessionId);
  if (!login?.user) throw ApiError.unauthenticated(ACCOUNT_GONE);
  if (login.revokedAt !== null || login.expiresAt <= Date.now()) throw ApiError.unauthenticated(LOGIN_REVOKED);
  return { ...login.user, sessionId: claims.sessionId, cacheVersions: null };
}
