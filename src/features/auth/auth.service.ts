/**
 * Accounts and logins: registration, login, refresh-token rotation with reuse detection, logout,
 * and resolving an access token to the current user. Logins live in Postgres; the user's edge
 * state object (`edge-state/`) holds the strongly consistent copy every request checks, and is
 * told of each new or revoked login before the answer, so logout and role changes take effect on
 * the very next request everywhere without a trip to the database region.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import type { AppConfig } from "../../platform/config/config.ts";
import { type Db, PG_UNIQUE_VIOLATION, type PoolDb, pgErrorCode } from "../../platform/db/client.ts";
import { insertedRow } from "../../platform/db/rows.ts";
import { authSessions, refreshTokens, users } from "../../platform/db/schema.ts";
import { sessionRevoked, sessionStarted } from "../../platform/edge-state/user-state.client.ts";
import { newRefreshToken, sha256Hex, signAccessToken } from "../../platform/identity/tokens.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { recordEmail } from "../email/outbox.ts";
import { toUserResponse, type UserResponse } from "../users/users.serializer.ts";
import { assertLoginAllowed, recordLoginFailure } from "./login-throttle.ts";
import { DUMMY_PASSWORD_HASH, hashPassword, passwordWeakness, verifyPassword } from "./password.ts";

export interface RegisterInput {
  email: string;
  password: string;
  fullName: string;
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: "Bearer";
  expires_in: number;
  user: UserResponse;
}

const INVALID_LOGIN = "Unable to log in with the provided email and password.";
const INVALID_REFRESH = "The refresh token is invalid or has expired; log in again.";

export const normaliseEmail = (email: string): string => email.trim().toLowerCase();

export async function register(db: PoolDb, input: RegisterInput): Promise<{ user: UserResponse; emailIds: number[] }> {
  const email = normaliseEmail(input.email);
  const weakness = passwordWeakness(input.password, [email, input.fullName]);
  if (weakness) throw ApiError.badRequest(weakness, [{ field: "password", message: weakness }]);
  const passwordHash = await hashPassword(input.password);
  try {
    return await db.transaction(async (tx) => {
      const user = insertedRow(
        await tx.insert(users).values({ email, fullName: input.fullName.trim(), passwordHash }).returning(),
      );
      const emailIds = await recordEmail(tx, "welcome", [{ email: user.email, userId: user.id }], {
        fullName: user.fullName,
      });
      return { user: toUserResponse(user), emailIds };
    });
  } catch (error) {
    if (pgErrorCode(error) === PG_UNIQUE_VIOLATION) {
      throw new ApiError(409, "A user with this email already exists.", {
        errors: [{ field: "email", message: "already registered" }],
      });
    }
    throw error;
  }
}

async function issueTokens(
  db: Db,
  config: AppConfig,
  userId: number,
  sessionId: string,
): Promise<{ access: string; refresh: string }> {
  const refresh = newRefreshToken();
  await db.insert(refreshTokens).values({
    sessionId,
    tokenHash: await sha256Hex(refresh),
    expiresAt: new Date(Date.now() + config.REFRESH_TOKEN_TTL_SECONDS * 1000),
  });
  const access = await signAccessToken(config, { userId, sessionId });
  return { access, refresh };
}

export async function login(
  env: Env,
  db: Db,
  config: AppConfig,
  input: { email: string; password: string; userAgent?: string },
): Promise<TokenPair> {
  const email = normaliseEmail(input.email);
  await assertLoginAllowed(env, email);
  const [user] = await db
    .select()
    .from(users)
    .where(eq(sql`lower(${users.email})`, email))
    .limit(1);
  // Verify against a dummy hash when the email is unknown so both failures take the same time.
  const valid = await verifyPassword(input.password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
  if (!user || !valid || !user.isActive) {
    await recordLoginFailure(env, email);
    throw ApiError.unauthenticated(INVALID_LOGIN);
  }

  const expiresAt = new Date(Date.now() + config.REFRESH_TOKEN_TTL_SECONDS * 1000);
  const session = insertedRow(
    await db
      .insert(authSessions)
      .values({ userId: user.id, expiresAt, userAgent: input.userAgent?.slice(0, 300) ?? null })
      .returning({ id: authSessions.id }),
  );
  const { access, refresh } = await issueTokens(db, config, user.id, session.id);
  await sessionStarted(env, user.id, session.id, expiresAt);
  return {
    access_token: access,
    refresh_token: refresh,
    token_type: "Bearer",
    expires_in: config.ACCESS_TOKEN_TTL_SECONDS,
    user: toUserResponse(user),
  };
}

/** Ends a login in Postgres, then at the edge: its access tokens fail from the next request on. */
export async function revokeSession(
  env: Env,
  db: Db,
  session: { userId: number; sessionId: string },
  reason: string,
): Promise<void> {
  await db
    .update(authSessions)
    .set({ revokedAt: new Date(), revokedReason: reason })
    .where(and(eq(authSessions.id, session.sessionId), isNull(authSessions.revokedAt)));
  await sessionRevoked(env, session.userId, session.sessionId);
}

/**
 * Rotates a refresh token. The token is spent atomically (`used_at` set where it was null), so of
 * two concurrent refreshes only one wins; presenting a spent token revokes the whole login.
 */
export async function refresh(env: Env, db: Db, config: AppConfig, presented: string): Promise<TokenPair> {
  if (presented.split(".").length === 3) {
    throw ApiError.unauthenticated("This is an access token; refresh with the refresh token issued with it.");
  }
  if (!presented.startsWith("rt_")) throw ApiError.unauthenticated(INVALID_REFRESH);
  const tokenHash = await sha256Hex(presented);
  const [record] = await db
    .select({
      id: refreshTokens.id,
      sessionId: refreshTokens.sessionId,
      usedAt: refreshTokens.usedAt,
      expiresAt: refreshTokens.expiresAt,
      revokedAt: authSessions.revokedAt,
      sessionExpiresAt: authSessions.expiresAt,
      user: users,
    })
    .from(refreshTokens)
    .innerJoin(authSessions, eq(authSessions.id, refreshTokens.sessionId))
    .innerJoin(users, eq(users.id, authSessions.userId))
    .where(eq(refreshTokens.tokenHash, tokenHash))
    .limit(1);
  if (!record) throw ApiError.unauthenticated(INVALID_REFRESH);
  if (record.revokedAt) throw ApiError.unauthenticated("This login has been revoked; log in again.");
  if (record.usedAt) {
    await revokeSession(env, db, { userId: record.user.id, sessionId: record.sessionId }, "refresh token reuse");
    throw ApiError.unauthenticated("This refresh token was already used; the login has been revoked. Log in again.");
  }
  const now = Date.now();
  if (record.expiresAt.getTime() <= now || record.sessionExpiresAt.getTime() <= now || !record.user.isActive) {
    throw ApiError.unauthenticated(INVALID_REFRESH);
  }
  const spent = await db
    .update(refreshTokens)
    .set({ usedAt: new Date() })
    .where(and(eq(refreshTokens.id, record.id), isNull(refreshTokens.usedAt)))
    .returning({ id: refreshTokens.id });
  if (spent.length === 0) {
    await revokeSession(env, db, { userId: record.user.id, sessionId: record.sessionId }, "refresh token reuse");
    throw ApiError.unauthenticated("This refresh token was already used; the login has been revoked. Log in again.");
  }
  const { access, refresh: next } = await issueTokens(db, config, record.user.id, record.sessionId);
  await db.update(authSessions).set({ lastUsedAt: new Date() }).where(eq(authSessions.id, record.sessionId));
  return {
    access_token: access,
    refresh_token: next,
    token_type: "Bearer",
    expires_in: config.ACCESS_TOKEN_TTL_SECONDS,
    user: toUserResponse(record.user),
  };
}

export async function getUser(db: Db, id: number): Promise<UserResponse> {
  const [user] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  if (!user) throw ApiError.notFound("User");
  return toUserResponse(user);
}
