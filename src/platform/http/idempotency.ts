/**
 * Safe retries: an authenticated `POST` or `PATCH` may carry `Idempotency-Key` (1 to 255 printable
 * ASCII characters). Per user and key, for 24 hours:
 * - the first request claims the key in the user's `UserState` object (strongly consistent, one
 *   instance worldwide) before it runs, and stores its outcome (status, body) after;
 * - a retry with the same method, path and body answers that outcome again with
 *   `Idempotent-Replayed: true` and runs nothing, so a client whose answer was lost after the
 *   server committed gets the first answer, and exactly one object exists;
 * - the same key with another method, path or body is a 422; while the first request runs, a 409.
 * An outcome of 500 or more frees the key instead (nothing was done, or nothing the client can
 * rely on), so the retry runs again. Requests without the header are not affected.
 * Anonymous requests (login, register, refresh) have no user to keep keys for: the header is ignored.
 */
import type { Context, Next } from "hono";
import type { AppEnv } from "../context/types.ts";
import { userStateOf } from "../edge-state/user-state.client.ts";
import type { IdempotentOutcome } from "../edge-state/user-state.ts";
import { sha256Hex } from "../lib/digest.ts";
import { ApiError } from "../lib/errors.ts";
import { errorFields, log } from "../lib/log.ts";
import { maskId } from "../lib/mask.ts";

export const IDEMPOTENCY_HEADER = "Idempotency-Key";
const VALID_KEY = /^[\x20-\x7e]{1,255}$/;
/** Response headers a replay repeats. */
const KEPT_HEADERS = ["Content-Type", "Location", "ETag"];

/** Method, path (a trailing slash aside: both forms are the same route) and the body's digest. */
async function fingerprintOf(c: Context<AppEnv>): Promise<string> {
  const url = new URL(c.req.url);
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, "") : url.pathname;
  const body = await c.req.raw.clone().arrayBuffer();
  return `${c.req.method} ${path}${url.search} ${await sha256Hex(body)}`;
}

function replay(outcome: IdempotentOutcome): Response {
  const headers = new Headers(outcome.headers);
  headers.set("Idempotent-Replayed", "true");
  const empty = outcome.status === 204 || outcome.status === 304;
  return new Response(empty ? null : outcome.body, { status: outcome.status, headers });
}

/** Runs `next` at most once per user and `Idempotency-Key` (see the module comment). */
export async function withIdempotency(c: Context<AppEnv>, next: Next): Promise<Response | undefined> {
  const key = c.req.header(IDEMPOTENCY_HEADER);
  if (key === undefined || (c.req.method !== "POST" && c.req.method !== "PATCH")) {
    await next();
    return undefined;
  }
  if (!VALID_KEY.test(key)) {
    throw ApiError.invalidParameter(IDEMPOTENCY_HEADER, "must be 1 to 255 printable ASCII characters");
  }
  const fingerprint = await fingerprintOf(c);
  const state = userStateOf(c.env, c.var.user.id);
  let claim: Awaited<ReturnType<typeof state.claimIdempotencyKey>>;
  try {
    claim = await state.claimIdempotencyKey(key, fingerprint);
  } catch (error) {
    log("warn", "idempotency keys unavailable", { user: maskId(c.var.user.id), ...errorFields(error) });
    throw ApiError.unavailable(
      "Idempotency keys cannot be checked right now; retry the request with the same key shortly.",
    );
  }
  if (claim.kind === "replay") return replay(claim.outcome);
  if (claim.kind === "running") {
    throw ApiError.conflict(
      "A request with this Idempotency-Key is still being processed; retry with the same key once it has finished.",
    );
  }
  if (claim.kind === "mismatch") {
    throw ApiError.unprocessable(
      "This Idempotency-Key was already used for a request with another method, path or body; use a new key for a new request.",
    );
  }

  await next();
  const response = c.res;
  let outcome: IdempotentOutcome | null = null;
  if (response.status < 500) {
    const headers: Record<string, string> = {};
    for (const name of KEPT_HEADERS) {
      const value = response.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    outcome = { status: response.status, headers, body: await response.clone().text() };
  }
  try {
    await state.settleIdempotencyKey(key, fingerprint, outcome);
  } catch (error) {
    // The work is done; a retry will be told the request is still running rather than redo it.
    log("error", "idempotency outcome lost", { user: maskId(c.var.user.id), ...errorFields(error) });
  }
  return undefined;
}
