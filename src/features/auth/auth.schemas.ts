import { z } from "@hono/zod-openapi";
import { UserSchema } from "../users/users.serializer.ts";
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "./password.ts";

export const RegisterSchema = z
  .object({
    email: z.string().trim().max(254, "must be at most 254 characters").email("must be a valid email address"),
    // The length rule the document shows is the one enforced; the rest of the strength rules
    // (common, repetitive, numeric, like the email) need the other fields: `passwordWeakness`.
    password: z
      .string()
      .min(PASSWORD_MIN_LENGTH, `must be at least ${PASSWORD_MIN_LENGTH} characters`)
      .max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`),
    full_name: z.string().trim().min(1, "is required").max(200, "must be at most 200 characters"),
  })
  .strict()
  .openapi("RegisterRequest", {
    example: { email: "ada@example.com", password: "c0rrect-Horse", full_name: "Ada Lovelace" },
  });

export const LoginSchema = z
  .object({
    email: z.string().trim().min(1, "is required").max(254, "must be at most 254 characters"),
    password: z
      .string()
      .min(1, "is required")
      .max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`),
  })
  .strict()
  .openapi("LoginRequest", { example: { email: "ada@example.com", password: "c0rrect-Horse" } });

export const RefreshSchema = z
  // The bound only caps the work done on junk: anything shorter, an access token included, is a
  // wrong credential (401 from the service), not malformed input.
  .object({ refresh_token: z.string().min(1, "is required").max(4096, "is too long to be a refresh token") })
  .strict()
  .openapi("RefreshRequest");

export const TokenPairSchema = z
  .object({
    access_token: z.string().openapi({ description: "JWT, valid for `expires_in` seconds." }),
    refresh_token: z.string().openapi({ description: "Opaque; single use. Each refresh returns a new one." }),
    token_type: z.literal("Bearer"),
    expires_in: z.number().int().openapi({ example: 900 }),
    user: UserSchema,
  })
  .openapi("TokenPair");
