import { describe, expect, it } from "vitest";
import {
  type AppConfig,
  ConfigError,
  EXAMPLE_JWT_SECRET,
  getConfig,
  isDevelopment,
  isProductionLike,
  productionProblem,
} from "../../src/platform/config/config.ts";

const SECRET = "s".repeat(32);
const REQUIRED = { JWT_SECRET: SECRET, DATABASE_URL: "postgres://localhost/db" };

/** An `env` as workerd hands it over: vars are strings, bindings are objects. */
const envOf = (vars: Record<string, unknown>): Env => ({ ...REQUIRED, ...vars }) as unknown as Env;
const config = (vars: Record<string, unknown> = {}): AppConfig => getConfig(envOf(vars));

function problem(vars: Record<string, unknown>): string {
  try {
    config(vars);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error("the configuration was accepted");
}

/** Refused with a sentence that names `key` first. */
function expectRefused(key: string, text: string): void {
  expect(problem({ [key]: text }), `${key}=${text}`).toMatch(new RegExp(`^Invalid configuration: ${key}: `));
}

const MiB = 1024 * 1024;

describe("getConfig", () => {
  it("fills every default, production first", () => {
    expect(config()).toEqual({
      ENVIRONMENT: "production",
      JWT_SECRET: SECRET,
      JWT_ISSUER: "edge-tasks-api",
      JWT_AUDIENCE: "edge-tasks-api-clients",
      ACCESS_TOKEN_TTL_SECONDS: 900,
      REFRESH_TOKEN_TTL_SECONDS: 2_592_000,
      CORS_ORIGINS: [],
      ATTACHMENT_MAX_BYTES: 10 * MiB,
      UPLOAD_MAX_BYTES: 2 * 1024 * MiB,
      UPLOAD_QUOTA_BYTES: 10 * 1024 * MiB,
      UPLOAD_MAX_ACTIVE: 5,
      UPLOAD_FORM_MAX_BYTES: 90 * MiB,
      UPLOAD_PART_BYTES: 16 * MiB,
      UPLOAD_ALLOWED_EXTENSIONS: [".csv", ".tsv", ".txt"],
      UPLOAD_MAX_COLUMNS: 500,
      UPLOAD_MAX_ERROR_RATIO: 0.1,
      PRESIGN_TTL_SECONDS: 3600,
      ATTACHMENT_UPLOAD_TTL_SECONDS: 600,
      INGEST_CHUNK_BYTES: 4 * MiB,
      CACHE_TTL_SECONDS: 300,
      REPORT_CACHE_TTL_SECONDS: 900,
      RATE_LIMIT_PERIOD_SECONDS: 60,
      MAIL_FROM: "no-reply@tasks.example.com",
      MAIL_FROM_NAME: "Edge Tasks",
      MAILCHANNELS_BASE_URL: "https://api.mailchannels.net",
      MAILCHANNELS_API_KEY: "",
      MAIL_DISABLED: false,
      R2_S3_ENDPOINT: "",
      R2_BUCKET_NAME: "edge-tasks-files",
      R2_ACCESS_KEY_ID: "",
      R2_SECRET_ACCESS_KEY: "",
      DATABASE_URL: "postgres://localhost/db",
      STATEMENT_TIMEOUT_MS: 30_000,
      INGEST_STATEMENT_TIMEOUT_MS: 600_000,
      PG_RELAY: "",
      PG_HTTP: "",
    });
  });

  it("reads the vars it is given, ignoring bindings and unknown keys", () => {
    const parsed = config({ CACHE: { get() {} }, PG_RELAY: "ws://relay", SOMETHING_ELSE: "x", UPLOAD_MAX_ACTIVE: "7" });
    expect(parsed.PG_RELAY).toBe("ws://relay");
    expect(parsed.UPLOAD_MAX_ACTIVE).toBe(7);
    expect(parsed).not.toHaveProperty("CACHE");
    expect(parsed).not.toHaveProperty("SOMETHING_ELSE");
  });

  it("reads only text: a binding under a var's name leaves the default", () => {
    expect(config({ PG_RELAY: { connect() {} } }).PG_RELAY).toBe("");
  });

  it("parses once per env object", () => {
    const env = envOf({});
    expect(getConfig(env)).toBe(getConfig(env));
    expect(getConfig(envOf({}))).not.toBe(getConfig(env));
  });

  it.each(["development", "test", "production", "staging"])("accepts ENVIRONMENT %s", (environment) => {
    expect(config({ ENVIRONMENT: environment }).ENVIRONMENT).toBe(environment);
  });

  it("refuses an unknown ENVIRONMENT", () => {
    expectRefused("ENVIRONMENT", "prod");
  });

  it("needs a JWT_SECRET of at least 32 characters", () => {
    expect(config({ JWT_SECRET: "x".repeat(32) }).JWT_SECRET).toBe("x".repeat(32));
    expect(problem({ JWT_SECRET: "x".repeat(31) })).toBe(
      "Invalid configuration: JWT_SECRET: JWT_SECRET must be at least 32 characters",
    );
  });

  it("needs a DATABASE_URL", () => {
    expect(problem({ DATABASE_URL: "" })).toBe("Invalid configuration: DATABASE_URL: DATABASE_URL is not set");
  });

  it("names every problem at once", () => {
    expect(problem({ JWT_SECRET: "short", DATABASE_URL: "" })).toBe(
      "Invalid configuration: JWT_SECRET: JWT_SECRET must be at least 32 characters; DATABASE_URL: DATABASE_URL is not set",
    );
  });

  it("refuses an empty issuer, audience or bucket, and a sender shorter than 3 characters", () => {
    for (const key of ["JWT_ISSUER", "JWT_AUDIENCE", "R2_BUCKET_NAME"]) {
      expectRefused(key, "");
      expect(config({ [key]: "x" })[key as keyof AppConfig]).toBe("x");
    }
    expect(config({ MAIL_FROM: "a@b" }).MAIL_FROM).toBe("a@b");
    expectRefused("MAIL_FROM", "ab");
  });

  it("refuses a mail base URL that is not a URL", () => {
    expect(config({ MAILCHANNELS_BASE_URL: "http://localhost:9" }).MAILCHANNELS_BASE_URL).toBe("http://localhost:9");
    expectRefused("MAILCHANNELS_BASE_URL", "not a url");
  });

  describe("whole numbers", () => {
    it("accept the minimum and refuse one below it", () => {
      expect(config({ ACCESS_TOKEN_TTL_SECONDS: "30" }).ACCESS_TOKEN_TTL_SECONDS).toBe(30);
      expectRefused("ACCESS_TOKEN_TTL_SECONDS", "29");
      expect(config({ INGEST_CHUNK_BYTES: "65536" }).INGEST_CHUNK_BYTES).toBe(65_536);
      expectRefused("INGEST_CHUNK_BYTES", "65535");
    });

    it("hold S3's 5 MiB minimum for upload parts, on both sides", () => {
      expect(config({ UPLOAD_PART_BYTES: String(5 * MiB) }).UPLOAD_PART_BYTES).toBe(5 * MiB);
      expectRefused("UPLOAD_PART_BYTES", String(5 * MiB - 1));
    });

    it("refuse fractions and text", () => {
      for (const text of ["1.5", "five"]) expectRefused("UPLOAD_MAX_ACTIVE", text);
    });

    it("fall back to the default when blank", () => {
      for (const blank of ["", "  "])
        expect(config({ ACCESS_TOKEN_TTL_SECONDS: blank }).ACCESS_TOKEN_TTL_SECONDS).toBe(900);
    });

    it("read surrounding spaces as part of a number", () => {
      expect(config({ UPLOAD_MAX_ACTIVE: " 8 " }).UPLOAD_MAX_ACTIVE).toBe(8);
    });
  });

  describe("the error ratio", () => {
    it("accepts 0 and 1 and refuses anything outside them", () => {
      expect(config({ UPLOAD_MAX_ERROR_RATIO: "0" }).UPLOAD_MAX_ERROR_RATIO).toBe(0);
      expect(config({ UPLOAD_MAX_ERROR_RATIO: "1" }).UPLOAD_MAX_ERROR_RATIO).toBe(1);
      expect(config({ UPLOAD_MAX_ERROR_RATIO: "0.25" }).UPLOAD_MAX_ERROR_RATIO).toBe(0.25);
      for (const text of ["1.01", "-0.01"]) expectRefused("UPLOAD_MAX_ERROR_RATIO", text);
    });

    it("falls back to 0.1 when blank", () => {
      for (const blank of ["", " "]) expect(config({ UPLOAD_MAX_ERROR_RATIO: blank }).UPLOAD_MAX_ERROR_RATIO).toBe(0.1);
    });
  });

  describe("lists", () => {
    it("split on commas, trimming each item and dropping empty ones", () => {
      expect(config({ CORS_ORIGINS: " https://a.example , https://b.example,, " }).CORS_ORIGINS).toEqual([
        "https://a.example",
        "https://b.example",
      ]);
      expect(config({ UPLOAD_ALLOWED_EXTENSIONS: ".csv" }).UPLOAD_ALLOWED_EXTENSIONS).toEqual([".csv"]);
    });

    it("fall back to the default when blank", () => {
      expect(config({ UPLOAD_ALLOWED_EXTENSIONS: "  " }).UPLOAD_ALLOWED_EXTENSIONS).toEqual([".csv", ".tsv", ".txt"]);
      expect(config({ CORS_ORIGINS: "" }).CORS_ORIGINS).toEqual([]);
    });
  });

  describe("MAIL_DISABLED", () => {
    it('is on only for "true"', () => {
      expect(config({ MAIL_DISABLED: "true" }).MAIL_DISABLED).toBe(true);
      expect(config({ MAIL_DISABLED: "false" }).MAIL_DISABLED).toBe(false);
      expect(config({ MAIL_DISABLED: "" }).MAIL_DISABLED).toBe(false);
    });

    it("refuses anything else, saying what it takes", () => {
      expect(problem({ MAIL_DISABLED: "yes" })).toBe('Invalid configuration: MAIL_DISABLED: must be "true" or "false"');
    });
  });
});

describe("environment predicates", () => {
  it("calls only development development", () => {
    expect(isDevelopment(config({ ENVIRONMENT: "development" }))).toBe(true);
    for (const environment of ["test", "production", "staging"]) {
      expect(isDevelopment(config({ ENVIRONMENT: environment }))).toBe(false);
    }
  });

  it("treats production and staging as production", () => {
    expect(isProductionLike(config({ ENVIRONMENT: "production" }))).toBe(true);
    expect(isProductionLike(config({ ENVIRONMENT: "staging" }))).toBe(true);
    expect(isProductionLike(config({ ENVIRONMENT: "development" }))).toBe(false);
    expect(isProductionLike(config({ ENVIRONMENT: "test" }))).toBe(false);
  });
});

describe("productionProblem", () => {
  const SECRET_FIX =
    "JWT_SECRET is the published example from .dev.vars.example: set a random secret of your own (`wrangler secret put JWT_SECRET`)";
  const MAIL_FIX =
    'mail has nowhere to go: set MAILCHANNELS_API_KEY (`wrangler secret put MAILCHANNELS_API_KEY`), or MAIL_DISABLED = "true" to run without sending mail';

  it("allows anything outside production and staging", () => {
    for (const environment of ["development", "test"]) {
      expect(productionProblem(config({ ENVIRONMENT: environment, JWT_SECRET: EXAMPLE_JWT_SECRET }))).toBeNull();
    }
  });

  it("allows production with its own secret and a mail key, or mail disabled", () => {
    expect(productionProblem(config({ MAILCHANNELS_API_KEY: "key" }))).toBeNull();
    expect(productionProblem(config({ MAIL_DISABLED: "true" }))).toBeNull();
  });

  it("names the example secret", () => {
    expect(productionProblem(config({ JWT_SECRET: EXAMPLE_JWT_SECRET, MAILCHANNELS_API_KEY: "key" }))).toBe(
      `This deployment is not configured for production: ${SECRET_FIX}.`,
    );
  });

  it("names missing mail", () => {
    expect(productionProblem(config({ ENVIRONMENT: "staging" }))).toBe(
      `This deployment is not configured for staging: ${MAIL_FIX}.`,
    );
  });

  it("names both at once", () => {
    expect(productionProblem(config({ JWT_SECRET: EXAMPLE_JWT_SECRET }))).toBe(
      `This deployment is not configured for production: ${SECRET_FIX}; and ${MAIL_FIX}.`,
    );
  });
});
