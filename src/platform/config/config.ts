/**
 * Typed configuration, validated once per `env` object at the edge of the program.
 * Numeric vars arrive as strings from wrangler.toml / .dev.vars; they are parsed here so the rest
 * of the code never touches raw `env` strings.
 */
import { z } from "zod";

const int = (fallback: number, min = 0) =>
  z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === "" ? fallback : Number(value)))
    .pipe(z.number().int().min(min));

const ratio = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === "" ? fallback : Number(value)))
    .pipe(z.number().min(0).max(1));

const list = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((value) =>
      (value?.trim() ? value : fallback)
        .split(",")
        .map((item) => item.trim())
        .filter(Boolean),
    );

const flag = z
  .enum(["true", "false", ""], { error: 'must be "true" or "false"' })
  .optional()
  .transform((value) => value === "true");

const ConfigSchema = z.object({
  // Production unless told otherwise: a deployment that forgot to say what it is must not run in
  // development mode (wildcard CORS, the dev outbox route).
  ENVIRONMENT: z.enum(["development", "test", "production", "staging"]).default("production"),
  JWT_SECRET: z.string().min(32, "JWT_SECRET must be at least 32 characters"),
  JWT_ISSUER: z.string().min(1).default("edge-tasks-api"),
  JWT_AUDIENCE: z.string().min(1).default("edge-tasks-api-clients"),
  ACCESS_TOKEN_TTL_SECONDS: int(900, 30),
  REFRESH_TOKEN_TTL_SECONDS: int(2_592_000, 60),
  // Empty: no cross-origin access (the console is served from the API's own origin).
  CORS_ORIGINS: list(""),
  ATTACHMENT_MAX_BYTES: int(10 * 1024 * 1024, 1),
  UPLOAD_MAX_BYTES: int(2 * 1024 * 1024 * 1024, 1),
  UPLOAD_QUOTA_BYTES: int(10 * 1024 * 1024 * 1024, 1),
  UPLOAD_MAX_ACTIVE: int(5, 1),
  UPLOAD_FORM_MAX_BYTES: int(90 * 1024 * 1024, 1),
  UPLOAD_PART_BYTES: int(16 * 1024 * 1024, 5 * 1024 * 1024),
  UPLOAD_ALLOWED_EXTENSIONS: list(".csv,.tsv,.txt"),
  UPLOAD_MAX_COLUMNS: int(500, 1),
  UPLOAD_MAX_ERROR_RATIO: ratio(0.1),
  // CSV part URLs: every part of a multi-GiB upload must start within it.
  PRESIGN_TTL_SECONDS: int(3600, 60),
  // An attachment's single presigned PUT: S3 checks expiry when the PUT starts, so short is enough.
  ATTACHMENT_UPLOAD_TTL_SECONDS: int(600, 60),
  INGEST_CHUNK_BYTES: int(4 * 1024 * 1024, 65_536),
  CACHE_TTL_SECONDS: int(300, 60),
  REPORT_CACHE_TTL_SECONDS: int(900, 60),
  RATE_LIMIT_PERIOD_SECONDS: int(60, 1),
  MAIL_FROM: z.string().min(3).default("no-reply@tasks.example.com"),
  MAIL_FROM_NAME: z.string().default("Edge Tasks"),
  MAILCHANNELS_BASE_URL: z.string().url().default("https://api.mailchannels.net"),
  MAILCHANNELS_API_KEY: z.string().optional().default(""),
  // "true": run without sending mail (rows are recorded as `skipped`). Outside development a
  // deployment needs either this or an API key, so mail is never silently dropped.
  MAIL_DISABLED: flag,
  R2_S3_ENDPOINT: z.string().optional().default(""),
  R2_BUCKET_NAME: z.string().min(1).default("edge-tasks-files"),
  R2_ACCESS_KEY_ID: z.string().optional().default(""),
  R2_SECRET_ACCESS_KEY: z.string().optional().default(""),
  DATABASE_URL: z.string().min(1, "DATABASE_URL is not set"),
  // Every statement is bounded (Postgres cancels it past this, SQLSTATE 57014): requests and their
  // streamed exports get STATEMENT_TIMEOUT_MS; queue consumers (chunk inserts of up to
  // INGEST_CHUNK_BYTES, index builds over a whole upload) get the larger INGEST_STATEMENT_TIMEOUT_MS.
  STATEMENT_TIMEOUT_MS: int(30_000, 100),
  INGEST_STATEMENT_TIMEOUT_MS: int(600_000, 100),
  PG_RELAY: z.string().optional().default(""),
  PG_HTTP: z.string().optional().default(""),
});

export type AppConfig = z.infer<typeof ConfigSchema>;

const cache = new WeakMap<object, AppConfig>();

export class ConfigError extends Error {}

/** Parses and caches the configuration carried by `env`. Throws `ConfigError` naming what is wrong. */
export function getConfig(env: Env): AppConfig {
  const cached = cache.get(env);
  if (cached) return cached;
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.shape)) {
    const value = (env as unknown as Record<string, unknown>)[key];
    if (typeof value === "string") raw[key] = value;
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    throw new ConfigError(`Invalid configuration: ${problems}`);
  }
  cache.set(env, parsed.data);
  return parsed.data;
}

export const isDevelopment = (config: AppConfig): boolean => config.ENVIRONMENT === "development";

/** Production and staging hold real users' data and mail: they get the production checks. */
export const isProductionLike = (config: AppConfig): boolean =>
  config.ENVIRONMENT === "production" || config.ENVIRONMENT === "staging";

/**
 * The `JWT_SECRET` published in `.dev.vars.example`. Anyone can read it, so anyone could sign
 * tokens for a deployment that still uses it.
 */
export const EXAMPLE_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef0123456789abcdef";

/**
 * Why this configuration must not serve production traffic, as one sentence an operator can act
 * on, or null when it may. Outside production and staging everything is allowed (development
 * relies on the example secret and the outbox).
 */
export function productionProblem(config: AppConfig): string | null {
  if (!isProductionLike(config)) return null;
  const fixes: string[] = [];
  if (config.JWT_SECRET === EXAMPLE_JWT_SECRET) {
    fixes.push(
      "JWT_SECRET is the published example from .dev.vars.example: set a random secret of your own (`wrangler secret put JWT_SECRET`)",
    );
  }
  if (!config.MAILCHANNELS_API_KEY && !config.MAIL_DISABLED) {
    fixes.push(
      'mail has nowhere to go: set MAILCHANNELS_API_KEY (`wrangler secret put MAILCHANNELS_API_KEY`), or MAIL_DISABLED = "true" to run without sending mail',
    );
  }
  if (fixes.length === 0) return null;
  return `This deployment is not configured for ${config.ENVIRONMENT}: ${fixes.join("; and ")}.`;
}
