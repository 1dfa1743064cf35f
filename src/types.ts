/** The Hono environment shared by every route and middleware. */
import type { AppConfig } from "./config.ts";
import type { Db } from "./db/client.ts";
import type { Role } from "./db/schema.ts";

/** The authenticated caller, loaded fresh from Postgres on every request (role changes apply at once). */
export interface AuthUser {
  id: number;
  email: string;
  fullName: string;
  role: Role;
  departmentId: number | null;
  sessionId: string;
}

export interface AppVariables {
  requestId: string;
  config: AppConfig;
  /** Opens the request's Postgres pool on first use; it is ended after the response. */
  db: () => Db;
  user: AuthUser;
}

export interface AppEnv {
  Bindings: Env;
  Variables: AppVariables;
}
