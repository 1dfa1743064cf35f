/** The Hono environment shared by every route and middleware. */
import type { AppConfig } from "../config/config.ts";
import type { Db, PoolDb } from "../db/client.ts";
import type { Role } from "../db/schema.ts";
import type { CacheVersions } from "../edge-state/user-state.client.ts";

/**
 * The authenticated caller, as the user's edge state (or Postgres) holds it at this request:
 * role and department changes apply from the very next request.
 */
export interface AuthUser {
  id: number;
  email: string;
  fullName: string;
  role: Role;
  departmentId: number | null;
  sessionId: string;
  /** The versions the caller's cached answers are stored under; `null`: serve this request uncached. */
  cacheVersions: CacheVersions | null;
}

export interface AppVariables {
  requestId: string;
  config: AppConfig;
  /** The request's database over HTTP: one round trip per query or batch. */
  db: () => Db;
  /** A WebSocket pool, opened on first use and ended after the response: for interactive transactions. */
  pool: () => PoolDb;
  user: AuthUser;
}

export interface AppEnv {
  Bindings: Env;
  Variables: AppVariables;
}
