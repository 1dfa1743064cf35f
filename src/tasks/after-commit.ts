/**
 * What a task write does once its transaction has committed: bump the cache versions of every
 * affected user, then enqueue the emails recorded in the outbox. Both run in `waitUntil`, after
 * the response; neither can fail the request. Doing this only after commit means a concurrent
 * read can never re-cache the pre-write state under the new version.
 */
import type { Context } from "hono";
import { bumpUserVersions } from "../cache/versions.ts";
import { dispatchEmails } from "../email/outbox.ts";
import type { AppEnv } from "../types.ts";

export function afterCommit(c: Context<AppEnv>, result: { emailIds: number[]; affectedUserIds: number[] }): void {
  const work = Promise.all([
    bumpUserVersions(c.env.CACHE, [c.var.user.id, ...result.affectedUserIds]),
    dispatchEmails(c.env, result.emailIds),
  ]);
  c.executionCtx.waitUntil(work);
}
