/**
 * Access tokens are short-lived HS256 JWTs (jose). Verification pins the algorithm, issuer and
 * audience, so `alg: none`, other algorithms and foreign tokens are all rejected. Refresh tokens
 * are opaque random strings; only their SHA-256 is stored.
 */
import { type JWTPayload, errors as joseErrors, jwtVerify, SignJWT } from "jose";
import type { AppConfig } from "../config/config.ts";
import { toBase64Url } from "../lib/base64.ts";
import { ApiError } from "../lib/errors.ts";

const ALGORITHM = "HS256";
const TOKEN_TYPE = "access";

export interface AccessClaims {
  userId: number;
  sessionId: string;
}

const keys = new Map<string, Uint8Array>();
function signingKey(secret: string): Uint8Array {
  let key = keys.get(secret);
  if (!key) {
    key = new TextEncoder().encode(secret);
    keys.set(secret, key);
  }
  return key;
}

export async function signAccessToken(config: AppConfig, claims: AccessClaims): Promise<string> {
  return new SignJWT({ sid: claims.sessionId, typ: TOKEN_TYPE })
    .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
    .setSubject(String(claims.userId))
    .setJti(crypto.randomUUID())
    .setIssuedAt()
    .setNotBefore("0s")
    .setExpirationTime(`${config.ACCESS_TOKEN_TTL_SECONDS}s`)
    .setIssuer(config.JWT_ISSUER)
    .setAudience(config.JWT_AUDIENCE)
    .sign(signingKey(config.JWT_SECRET));
}

export async function verifyAccessToken(config: AppConfig, token: string): Promise<AccessClaims> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, signingKey(config.JWT_SECRET), {
      algorithms: [ALGORITHM],
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      requiredClaims: ["sub", "sid", "jti", "iat", "exp"],
      // jose checks `iat` only against a maximum age. We sign every token with exp = iat + TTL, so
      // this rejects nothing we issued, but it does reject a token stamped as issued in the future
      // (a clock we do not trust or a forged stamp) and caps any token's life at the TTL whatever
      // its `exp` says.
      maxTokenAge: config.ACCESS_TOKEN_TTL_SECONDS,
    }));
  } catch (error) {
    throw verificationError(error);
  }
  // A user id is a positive integer written plainly: "", "0", "1.0" or "+1" are not one.
  const subject = String(payload.sub);
  if (payload.typ !== TOKEN_TYPE || !/^[1-9][0-9]*$/.test(subject) || typeof payload.sid !== "string") {
    throw ApiError.unauthenticated("The access token is invalid.");
  }
  return { userId: Number(subject), sessionId: payload.sid };
}

/** The 401 for a token jose refused, saying why when the reason helps the client. */
function verificationError(error: unknown): ApiError {
  if (error instanceof joseErrors.JWTExpired) {
    return ApiError.unauthenticated("The access token has expired; refresh it or log in again.");
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed && (error.claim === "nbf" || error.claim === "iat")) {
    return ApiError.unauthenticated("The access token is not valid yet (issued or valid from a time in the future).");
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return ApiError.unauthenticated(`The access token is not valid here (${error.claim} claim rejected).`);
  }
  return ApiError.unauthenticated("The access token is invalid.");
}

/** A new opaque refresh token: 32 random bytes, base64url, with a prefix that says what it is. */
export function newRefreshToken(): string {
  return `rt_${toBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`;
}

/** Refresh tokens are stored as their SHA-256. */
export { sha256Hex } from "../lib/digest.ts";
