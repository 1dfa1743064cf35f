/**
 * One Durable Object per user: the edge's strongly consistent copy of what every authenticated
 * request needs before it can answer, so that a cached read never travels to the database region.
 *
 * It holds:
 * - the user's role, department and whether the account is live (a snapshot of `users`);
 * - each login (`auth_sessions` row) this object has seen: live until its expiry, or revoked;
 * - the version tokens of the user's cached answers: `tasks` (task lists, details, reports) and
 *   `uploads` (CSV row pages). A cache key carries the version; a new version makes every older
 *   key unreachable at once;
 * - the user's open notification streams: WebSockets accepted with the Hibernation API (the object
 *   may be evicted while they stay open), each tagged with its login, so that what is sent here
 *   (`deliver`) reaches this user's sockets and no one else's, and a revoked login loses its stream.
 *
 * Postgres stays the source of truth. Whatever this object does not know (a new login, a user it
 * never saw, a snapshot older than `SNAPSHOT_MAX_AGE_MS`) it reads from Postgres over HTTP, one
 * round trip. Every write that changes a login, a role, a department or what a user can see tells
 * this object after its commit and before it answers (`user-state.client.ts`), so the very next
 * request anywhere sees the change. A Durable Object is one single-threaded instance worldwide,
 * so there is no replica to lag behind.
 *
 * Losing the object's storage (or the object itself) loses nothing that matters: sessions and the
 * snapshot are reloaded from Postgres, and fresh random version tokens orphan every cached answer
 * stored under the old ones. Versions are random tokens, never counters, so a reset can never
 * bring an old version back.
 */
import { DurableObject } from "cloudflare:workers";
import { getConfig } from "../config/config.ts";
import { connectHttp } from "../db/client.ts";
import type { Role } from "../db/schema.ts";
import { loadLogin } from "./login-source.ts";

/** The caller as the request path needs it. */
export interface EdgeUser {
  id: number;
  email: string;
  fullName: string;
  role: Role;
  departmentId: number | null;
}

export type CacheScope = "tasks" | "uploads";
export type CacheVersions = Record<CacheScope, string>;

export type AuthAnswer =
  | { ok: true; user: EdgeUser; versions: CacheVersions }
  | { ok: false; reason: "revoked" | "gone" };

interface Snapshot {
  /** `null`: the account does not exist or is disabled. */
  user: EdgeUser | null;
  loadedAt: number;
}

interface SessionEntry {
  revoked: boolean;
  expiresAt: number;
}

/**
 * A snapshot older than this is read again from Postgres: the bound on how long a change could
 * go unseen if its notification were lost for good (every notification is retried first).
 */
export const SNAPSHOT_MAX_AGE_MS = 5 * 60_000;
/** How many times a load is repeated when a change arrives while it is reading. */
const LOAD_ATTEMPTS = 3;

/** How long a request's outcome answers retries that carry its `Idempotency-Key`. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60_000;

/** What a finished request answered, kept for the retries of its `Idempotency-Key`. */
export interface IdempotentOutcome {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface IdempotencyEntry {
  fingerprint: string;
  expiresAt: number;
  /** `null` while the first request runs. */
  outcome: IdempotentOutcome | null;
}

export type IdempotencyClaim =
  | { kind: "claimed" }
  | { kind: "running" }
  | { kind: "mismatch" }
  | { kind: "replay"; outcome: IdempotentOutcome };

const idempotencyKey = (key: string) => `idempotency:${key}`;

const VERSIONS = "versions";
const SNAPSHOT = "snapshot";
const sessionKey = (sessionId: string) => `session:${sessionId}`;
const newVersion = (): string => crypto.randomUUID();

/** The tag of every notification stream socket, and of the ones of one login. */
const STREAM_TAG = "notifications";
const streamSessionTag = (sessionId: string) => `login:${sessionId}`;
/**
 * Set by the API (after authenticating the upgrade; never taken from a client) on the upgrade it
 * forwards here: the login the stream belongs to.
 */
export const STREAM_SESSION_HEADER = "X-Edge-Stream-Session";
/** The close code of a stream whose login was revoked (the 4000s are the application's own). */
export const STREAM_REVOKED_CODE = 4401;

export class UserState extends DurableObject<Env> {
  /**
   * Moves on every change notification. A Postgres read that started before a change may have
   * seen the state before it; a load keeps its result only if no change arrived meanwhile.
   */
  private generation = 0;

  /** Resolves a verified access token's login to the user and their cache versions. */
  async authenticate(userId: number, sessionId: string): Promise<AuthAnswer> {
    const now = Date.now();
    // One storage read for the common case: a known live login and a fresh snapshot.
    const stored = await this.ctx.storage.get<unknown>([sessionKey(sessionId), SNAPSHOT, VERSIONS]);
    const session = stored.get(sessionKey(sessionId)) as SessionEntry | undefined;
    const snapshot = stored.get(SNAPSHOT) as Snapshot | undefined;
    const versions = stored.get(VERSIONS) as CacheVersions | undefined;
    if (session?.revoked) return { ok: false, reason: "revoked" };
    const fresh = snapshot && now - snapshot.loadedAt < SNAPSHOT_MAX_AGE_MS;
    if (fresh && session && session.expiresAt > now) return this.answer(snapshot.user, versions);

    for (let attempt = 0; attempt < LOAD_ATTEMPTS; attempt++) {
      const generation = this.generation;
      const login = await loadLogin(connectHttp(getConfig(this.env)), userId, sessionId);
      if (generation !== this.generation) continue;
      const loaded: Snapshot = { user: login?.user ?? null, loadedAt: Date.now() };
      const entry: SessionEntry = {
        revoked: !login || login.revokedAt !== null,
        expiresAt: login?.expiresAt ?? now,
      };
      // A revocation noted meanwhile is sticky: a load never brings a revoked login back.
      const current = await this.session(sessionId);
      if (current?.revoked) entry.revoked = true;
      await this.ctx.storage.put({ [SNAPSHOT]: loaded, [sessionKey(sessionId)]: entry });
      if (!login) return { ok: false, reason: "gone" };
      if (entry.revoked) return { ok: false, reason: "revoked" };
      if (entry.expiresAt <= Date.now()) return { ok: false, reason: "revoked" };
      return this.answer(loaded.user);
    }
    throw new Error("the user's login kept changing while it was being read");
  }

  /** A login was just created (its first request then needs no trip to Postgres). */
  async sessionStarted(sessionId: string, expiresAt: number): Promise<void> {
    const existing = await this.session(sessionId);
    if (existing) return;
    await this.ctx.storage.put(sessionKey(sessionId), { revoked: false, expiresAt } satisfies SessionEntry);
    await this.pruneSessions();
  }

  /** A login was revoked (logout, refresh-token reuse): its tokens fail from the next request on. */
  async sessionRevoked(sessionId: string): Promise<void> {
    this.generation++;
    await this.ctx.storage.put(sessionKey(sessionId), { revoked: true, expiresAt: Date.now() + SNAPSHOT_MAX_AGE_MS });
    this.closeStreams(this.ctx.getWebSockets(streamSessionTag(sessionId)));
  }

  /**
   * The user's account changed (role, department, deactivated, deleted, or their logins all
   * revoked): forget the snapshot and every cached answer.
   */
  async userChanged(options: { revokeAllSessions?: boolean } = {}): Promise<void> {
    this.generation++;
    if (options.revokeAllSessions) {
      const sessions = await this.ctx.storage.list<SessionEntry>({ prefix: "session:" });
      const revoked: Record<string, SessionEntry> = {};
      for (const [key, entry] of sessions) revoked[key] = { ...entry, revoked: true };
      if (Object.keys(revoked).length > 0) await this.ctx.storage.put(revoked);
      this.closeStreams(this.ctx.getWebSockets(STREAM_TAG));
    }
    await this.ctx.storage.delete(SNAPSHOT);
    await this.ctx.storage.put(VERSIONS, { tasks: newVersion(), uploads: newVersion() } satisfies CacheVersions);
  }

  /** Something this user can see changed: answers cached under the old version are never served again. */
  async bump(scopes: readonly CacheScope[]): Promise<void> {
    const versions = await this.versions();
    for (const scope of scopes) versions[scope] = newVersion();
    await this.ctx.storage.put(VERSIONS, versions);
  }

  /**
   * The first step of a request that carries an `Idempotency-Key`: claims the key for this request
   * (`claimed`), or says a request with it is still running, was made with another method, path or
   * body, or finished (its outcome, to answer again). A claim never lapses while it lives: if the
   * request that claimed it never reported (its isolate died after its transaction committed),
   * retries keep answering "running" rather than risk doing the work twice.
   */
  async claimIdempotencyKey(key: string, fingerprint: string): Promise<IdempotencyClaim> {
    const now = Date.now();
    const existing = await this.ctx.storage.get<IdempotencyEntry>(idempotencyKey(key));
    if (existing && existing.expiresAt > now) {
      if (existing.fingerprint !== fingerprint) return { kind: "mismatch" };
      return existing.outcome ? { kind: "replay", outcome: existing.outcome } : { kind: "running" };
    }
    const entry: IdempotencyEntry = { fingerprint, expiresAt: now + IDEMPOTENCY_TTL_MS, outcome: null };
    await this.ctx.storage.put(idempotencyKey(key), entry);
    await this.pruneIdempotencyKeys(now);
    return { kind: "claimed" };
  }

  /** The claiming request finished: keep its outcome for retries, or (`null`) free the key for a retry to run. */
  async settleIdempotencyKey(key: string, fingerprint: string, outcome: IdempotentOutcome | null): Promise<void> {
    const existing = await this.ctx.storage.get<IdempotencyEntry>(idempotencyKey(key));
    if (!existing || existing.fingerprint !== fingerprint) return;
    if (outcome === null) await this.ctx.storage.delete(idempotencyKey(key));
    else await this.ctx.storage.put(idempotencyKey(key), { ...existing, outcome });
  }

  /** Drops a few expired keys per claim, so a busy client does not grow the object forever. */
  private async pruneIdempotencyKeys(now: number): Promise<void> {
    const entries = await this.ctx.storage.list<IdempotencyEntry>({ prefix: "idempotency:", limit: 256 });
    const expired = [...entries].filter(([, entry]) => entry.expiresAt <= now).map(([key]) => key);
    if (expired.length > 0) await this.ctx.storage.delete(expired.slice(0, 128));
  }

  /**
   * A notification stream: the API has authenticated the upgrade as this user's login
   * (`STREAM_SESSION_HEADER`). Checked once more here against a revocation that arrived meanwhile.
   */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const sessionId = request.headers.get(STREAM_SESSION_HEADER);
    if (!sessionId) return new Response("no login named", { status: 400 });
    if ((await this.session(sessionId))?.revoked) return new Response("login revoked", { status: 401 });
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [STREAM_TAG, streamSessionTag(sessionId)]);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Sends each message, in order, to every open stream of this user; answers how many streams there were. */
  async deliver(messages: readonly string[]): Promise<number> {
    const sockets = this.ctx.getWebSockets(STREAM_TAG);
    for (const socket of sockets) {
      try {
        for (const message of messages) socket.send(message);
      } catch {
        // A socket that went away is not an error for the sender.
      }
    }
    return sockets.length;
  }

  override async webSocketMessage(): Promise<void> {
    // A stream only carries notifications to the client; anything it sends is ignored.
  }

  override async webSocketClose(socket: WebSocket, code: number): Promise<void> {
    try {
      socket.close(code === 1005 ? 1000 : code, "closed");
    } catch {
      // Already closed by the runtime.
    }
  }

  private closeStreams(sockets: WebSocket[]): void {
    for (const socket of sockets) {
      try {
        socket.close(STREAM_REVOKED_CODE, "login revoked");
      } catch {
        // Already closed.
      }
    }
  }

  /** The answer for a loaded user; `versions` when they were read already. */
  private async answer(user: EdgeUser | null, versions?: CacheVersions): Promise<AuthAnswer> {
    if (!user) return { ok: false, reason: "gone" };
    return { ok: true, user, versions: versions ?? (await this.versions()) };
  }

  private async versions(): Promise<CacheVersions> {
    const stored = await this.ctx.storage.get<CacheVersions>(VERSIONS);
    if (stored) return stored;
    const fresh: CacheVersions = { tasks: newVersion(), uploads: newVersion() };
    await this.ctx.storage.put(VERSIONS, fresh);
    return fresh;
  }

  private session(sessionId: string): Promise<SessionEntry | undefined> {
    return this.ctx.storage.get<SessionEntry>(sessionKey(sessionId));
  }

  /** Drops logins long expired, so a user who logs in daily does not grow the object forever. */
  private async pruneSessions(): Promise<void> {
    const now = Date.now();
    const sessions = await this.ctx.storage.list<SessionEntry>({ prefix: "session:" });
    const expired = [...sessions].filter(([, entry]) => entry.expiresAt < now).map(([key]) => key);
    if (expired.length > 0) await this.ctx.storage.delete(expired.slice(0, 128));
  }
}
