import { decodeJwt, decodeProtectedHeader, type JWTPayload, SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type AppConfig, getConfig } from "../../src/platform/config/config.ts";
import { newRefreshToken, sha256Hex, signAccessToken, verifyAccessToken } from "../../src/platform/identity/tokens.ts";
import { ApiError } from "../../src/platform/lib/errors.ts";

const SECRET = "a-test-secret-of-at-least-32-characters!";
const TTL = 900;
const env = (vars: Record<string, string>): Env => vars as unknown as Env;
const config: AppConfig = getConfig(
  env({
    JWT_SECRET: SECRET,
    DATABASE_URL: "postgres://localhost/db",
    JWT_ISSUER: "tasks-issuer",
    JWT_AUDIENCE: "tasks-clients",
    ACCESS_TOKEN_TTL_SECONDS: String(TTL),
  }),
);
const claims = { userId: 4217, sessionId: "session-1" };
const NOW = new Date("2026-06-01T12:00:00Z");
const nowSeconds = NOW.getTime() / 1000;

const INVALID = "The access token is invalid.";
const EXPIRED = "The access token has expired; refresh it or log in again.";
const NOT_YET = "The access token is not valid yet (issued or valid from a time in the future).";
const notHere = (claim: string) => `The access token is not valid here (${claim} claim rejected).`;

afterEach(() => {
  vi.useRealTimers();
});

/** Freezes the clock jose reads (Date only; WebCrypto keeps working). */
function at(seconds: number): void {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(seconds * 1000);
}

/** A token signed with HS256 by hand, for claims our signer would never produce. */
function handSigned(payload: JWTPayload, secret = SECRET, typ = "JWT"): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ }).sign(new TextEncoder().encode(secret));
}

/** Everything a valid token holds, at the frozen time. */
const validPayload = (): JWTPayload => ({
  sub: "4217",
  sid: "session-1",
  typ: "access",
  jti: "j-1",
  iat: nowSeconds,
  nbf: nowSeconds,
  exp: nowSeconds + TTL,
  iss: "tasks-issuer",
  aud: "tasks-clients",
});

async function refusal(token: string): Promise<{ status: number; detail: string }> {
  try {
    await verifyAccessToken(config, token);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    const apiError = error as ApiError;
    return { status: apiError.status, detail: apiError.detail };
  }
  throw new Error("the token was accepted");
}

describe("signAccessToken", () => {
  it("signs HS256 with the subject, session, type, issuer, audience and a lifetime of the TTL", async () => {
    at(nowSeconds);
    const token = await signAccessToken(config, claims);
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "JWT" });
    const payload = decodeJwt(token);
    expect(payload).toMatchObject({
      sub: "4217",
      sid: "session-1",
      typ: "access",
      iss: "tasks-issuer",
      aud: "tasks-clients",
      iat: nowSeconds,
      nbf: nowSeconds,
      exp: nowSeconds + TTL,
    });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("gives every token its own id", async () => {
    const first = decodeJwt(await signAccessToken(config, claims)).jti;
    const second = decodeJwt(await signAccessToken(config, claims)).jti;
    expect(first).not.toBe(second);
  });
});

describe("verifyAccessToken", () => {
  it("accepts its own token and returns the user and session", async () => {
    expect(await verifyAccessToken(config, await signAccessToken(config, claims))).toEqual(claims);
  });

  it("accepts a token up to its last second and refuses it from its expiry on", async () => {
    at(nowSeconds);
    const token = await signAccessToken(config, claims);
    at(nowSeconds + TTL - 1);
    expect(await verifyAccessToken(config, token)).toEqual(claims);
    at(nowSeconds + TTL);
    expect(await refusal(token)).toEqual({ status: 401, detail: EXPIRED });
  });

  it("refuses a token whose validity starts in the future, and accepts it once it starts", async () => {
    at(nowSeconds);
    const token = await handSigned({ ...validPayload(), nbf: nowSeconds + 60 });
    expect(await refusal(token)).toEqual({ status: 401, detail: NOT_YET });
    at(nowSeconds + 60);
    expect(await verifyAccessToken(config, token)).toEqual(claims);
  });

  it("refuses a token stamped as issued in the future", async () => {
    at(nowSeconds);
    const token = await handSigned({ ...validPayload(), iat: nowSeconds + 120, nbf: nowSeconds });
    expect(await refusal(token)).toEqual({ status: 401, detail: NOT_YET });
  });

  it("caps a token's life at the TTL from its issue, whatever its expiry says", async () => {
    at(nowSeconds);
    const token = await handSigned({ ...validPayload(), exp: nowSeconds + 10 * TTL });
    at(nowSeconds + TTL);
    expect(await verifyAccessToken(config, token)).toEqual(claims);
    at(nowSeconds + TTL + 1);
    expect((await refusal(token)).status).toBe(401);
  });

  it("accepts a hand-signed token holding exactly the expected claims", async () => {
    at(nowSeconds);
    expect(await verifyAccessToken(config, await handSigned(validPayload()))).toEqual(claims);
  });

  it("refuses a token signed with another secret", async () => {
    at(nowSeconds);
    const token = await handSigned(validPayload(), "another-secret-of-at-least-32-characters");
    expect(await refusal(token)).toEqual({ status: 401, detail: INVALID });
  });

  it("refuses a token checked against another secret", async () => {
    const token = await signAccessToken(config, claims);
    const other = { ...config, JWT_SECRET: "another-secret-of-at-least-32-characters" };
    await expect(verifyAccessToken(other, token)).rejects.toMatchObject({ status: 401, detail: INVALID });
  });

  it("refuses a tampered payload (another user id under the same signature)", async () => {
    const [header, payload, signature] = (await signAccessToken(config, claims)).split(".");
    const forged = JSON.parse(Buffer.from(payload ?? "", "base64url").toString());
    forged.sub = "1";
    const tampered = [header, Buffer.from(JSON.stringify(forged)).toString("base64url"), signature].join(".");
    expect(await refusal(tampered)).toEqual({ status: 401, detail: INVALID });
  });

  it("refuses an unsigned token (alg none) and one in another algorithm", async () => {
    at(nowSeconds);
    const body = Buffer.from(JSON.stringify(validPayload())).toString("base64url");
    const none = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${body}.`;
    expect(await refusal(none)).toEqual({ status: 401, detail: INVALID });
    const hs512 = await new SignJWT(validPayload())
      .setProtectedHeader({ alg: "HS512" })
      .sign(new TextEncoder().encode(SECRET));
    expect(await refusal(hs512)).toEqual({ status: 401, detail: INVALID });
  });

  it("refuses a token of another issuer or audience, naming the claim", async () => {
    at(nowSeconds);
    expect(await refusal(await handSigned({ ...validPayload(), iss: "someone-else" }))).toEqual({
      status: 401,
      detail: notHere("iss"),
    });
    expect(await refusal(await handSigned({ ...validPayload(), aud: "other-clients" }))).toEqual({
      status: 401,
      detail: notHere("aud"),
    });
  });

  it("refuses a token missing any required claim", async () => {
    at(nowSeconds);
    // jose reports a missing `iat` through its maximum-age check, hence the "not valid yet" answer.
    const answers: Record<string, string> = {
      sub: notHere("sub"),
      sid: notHere("sid"),
      jti: notHere("jti"),
      iat: NOT_YET,
      exp: notHere("exp"),
    };
    for (const [claim, detail] of Object.entries(answers)) {
      const payload = validPayload();
      delete payload[claim];
      expect(await refusal(await handSigned(payload)), claim).toEqual({ status: 401, detail });
    }
  });

  it("refuses a token of another type (a refresh or foreign token signed with the same secret)", async () => {
    at(nowSeconds);
    expect(await refusal(await handSigned({ ...validPayload(), typ: "refresh" }))).toEqual({
      status: 401,
      detail: INVALID,
    });
    const { typ: _typ, ...untyped } = validPayload();
    expect(await refusal(await handSigned(untyped))).toEqual({ status: 401, detail: INVALID });
  });

  it("refuses a subject that is not an integer user id, and a session id that is not a string", async () => {
    at(nowSeconds);
    for (const sub of ["abc", "4.5", "", "0", "+7", "07", "1e3"]) {
      expect(await refusal(await handSigned({ ...validPayload(), sub })), sub).toEqual({
        status: 401,
        detail: INVALID,
      });
    }
    expect(await refusal(await handSigned({ ...validPayload(), sid: 7 }))).toEqual({ status: 401, detail: INVALID });
  });

  it("refuses garbage", async () => {
    expect(await refusal("not-a-token")).toEqual({ status: 401, detail: INVALID });
    expect(await refusal("")).toEqual({ status: 401, detail: INVALID });
  });
});

describe("refresh tokens", () => {
  it("are rt_ and 32 random bytes in base64url, never the same twice", () => {
    const first = newRefreshToken();
    expect(first).toMatch(/^rt_[A-Za-z0-9_-]{43}$/);
    expect(newRefreshToken()).not.toBe(first);
  });

  it("are stored as the lowercase hex SHA-256 of the token", async () => {
    expect(await sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(await sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
});
