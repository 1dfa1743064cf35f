/**
 * Per-account throttling of failed logins, on top of the per-IP limit (which a guessing run that
 * rotates addresses never meets).
 *
 * Rule: an account (its normalised email, known or not, so the answer reveals nothing) may fail
 * `LOGIN_ACCOUNT_FAILURES` times per 60 s window. The next failure answers 429 and blocks the
 * account for `LOGIN_ACCOUNT_BLOCK_SECONDS`: every login for it, right or wrong, gets 429 with
 * `Retry-After` without the password being checked, so guessing is held to about 10 tries a minute
 * however many addresses it comes from. Successful logins never count. A block always lapses on its
 * own after 60 s: a stranger can slow a victim's logins only while actively failing them (and each
 * of the stranger's addresses is itself held to 30 attempts a minute), never lock the account.
 *
 * The failures are counted by the `LOGIN_FAILURE_LIMITER` rate-limit binding (atomic per key); the
 * block is a KV key with a 60 s expiry, since the binding cannot be asked without counting. Both
 * are per Cloudflare location, like the per-IP limit. Keys hold a hash of the email, never the email.
 */
import { sha256Hex } from "../../platform/lib/digest.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { errorFields, log } from "../../platform/lib/log.ts";

export const LOGIN_ACCOUNT_FAILURES = 10;
export const LOGIN_ACCOUNT_BLOCK_SECONDS = 60;
const BLOCKED = "Too many failed logins for this account; try again in 60 seconds.";

async function accountKey(email: string): Promise<string> {
  return `login-blocked:${await sha256Hex(email)}`;
}

function blocked(): ApiError {
  return new ApiError(429, BLOCKED, { headers: { "Retry-After": String(LOGIN_ACCOUNT_BLOCK_SECONDS) } });
}

/** 429 while the account is blocked. `email` is normalised. */
export async function assertLoginAllowed(env: Env, email: string): Promise<void> {
  let isBlocked = false;
  try {
    isBlocked = (await env.CACHE.get(await accountKey(email))) !== null;
  } catch (error) {
    // KV being unavailable must not stop every login; the per-IP limit still applies.
    log("warn", "login throttle unavailable", errorFields(error));
  }
  if (isBlocked) throw blocked();
}

/** Counts a failed login; the failure past the limit blocks the account and answers 429. */
export async function recordLoginFailure(env: Env, email: string): Promise<void> {
  const key = await accountKey(email);
  let allowed = true;
  try {
    ({ success: allowed } = await env.LOGIN_FAILURE_LIMITER.limit({ key }));
    if (!allowed) await env.CACHE.put(key, "1", { expirationTtl: LOGIN_ACCOUNT_BLOCK_SECONDS });
  } catch (error) {
    log("warn", "login throttle unavailable", errorFields(error));
  }
  if (!allowed) throw blocked();
}
