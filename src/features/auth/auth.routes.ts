import { authRateLimit } from "../../platform/http/auth.ts";
import { createRouter } from "../../platform/http/openapi.ts";
import { jsonBody, requireJson } from "../../platform/http/openapi-bodies.ts";
import { NoQueryParams } from "../../platform/http/openapi-params.ts";
import { errorResponses, jsonContent } from "../../platform/http/openapi-responses.ts";
import { publicRoutesTagged, routesTagged } from "../../platform/http/openapi-route.ts";
import { dispatchEmails } from "../email/outbox.ts";
import { UserSchema } from "../users/users.serializer.ts";
import { LoginSchema, RefreshSchema, RegisterSchema, TokenPairSchema } from "./auth.schemas.ts";
import { getUser, login, refresh, register, revokeSession } from "./auth.service.ts";

const route = routesTagged("Auth");
const publicRoute = publicRoutesTagged("Auth");

const registerRoute = publicRoute.post("/auth/user/register", "registerUser", "Register an account", {
  description: "Creates an `employee` account and queues a welcome email. Emails are case-insensitive and unique.",
  middleware: [authRateLimit, requireJson] as const,
  request: { body: jsonBody(RegisterSchema) },
  responses: {
    201: jsonContent(UserSchema, "The new user."),
    ...errorResponses(400, 409, 413, 415, 429),
  },
});

const loginRoute = publicRoute.post("/auth/user/login", "logIn", "Log in", {
  description:
    "Wrong email and wrong password give the same 401, so the answer never reveals whether an email exists. " +
    "Limits: 30 attempts per 60 s per client IP (shared with register and refresh), and per account (known or not): " +
    "10 failed logins per 60 s; the next failure answers 429 and blocks that account's logins, right or wrong, for 60 s " +
    "(`Retry-After: 60`) from any address. Successful logins never count, and a block always lapses on its own.",
  middleware: [authRateLimit, requireJson] as const,
  request: { body: jsonBody(LoginSchema) },
  responses: { 200: jsonContent(TokenPairSchema, "Tokens and the user."), ...errorResponses(400, 401, 415, 429) },
});

const refreshRoute = publicRoute.post("/auth/token/refresh", "refreshTokens", "Rotate the refresh token", {
  description:
    "Returns a new pair; the presented refresh token stops working. Presenting an already-used refresh token revokes the whole login (both tokens).",
  middleware: [authRateLimit, requireJson] as const,
  request: { body: jsonBody(RefreshSchema) },
  responses: { 200: jsonContent(TokenPairSchema, "A new pair."), ...errorResponses(400, 401, 415, 429) },
});

const meRoute = route.get("/auth/user/me", "getCurrentUser", "The current user", {
  request: { query: NoQueryParams },
  responses: { 200: jsonContent(UserSchema, "The current user."), ...errorResponses(401, 429) },
});

const logoutRoute = route.post("/auth/user/logout", "logOut", "Log out", {
  description: "Revokes this login: the very next request with its access or refresh token gets 401.",
  responses: { 204: { description: "Logged out." }, ...errorResponses(401, 429) },
});

export const authRoutes = createRouter()
  .openapi(registerRoute, async (c) => {
    const body = c.req.valid("json");
    const { user, emailIds } = await register(c.var.pool(), {
      email: body.email,
      password: body.password,
      fullName: body.full_name,
    });
    c.executionCtx.waitUntil(dispatchEmails(c.env, emailIds));
    return c.json(user, 201);
  })
  .openapi(loginRoute, async (c) => {
    const body = c.req.valid("json");
    const pair = await login(c.env, c.var.db(), c.var.config, { ...body, userAgent: c.req.header("User-Agent") });
    c.header("Cache-Control", "no-store");
    return c.json(pair, 200);
  })
  .openapi(refreshRoute, async (c) => {
    const pair = await refresh(c.env, c.var.db(), c.var.config, c.req.valid("json").refresh_token);
    c.header("Cache-Control", "no-store");
    return c.json(pair, 200);
  })
  .openapi(meRoute, async (c) => c.json(await getUser(c.var.db(), c.var.user.id), 200))
  .openapi(logoutRoute, async (c) => {
    await revokeSession(c.env, c.var.db(), { userId: c.var.user.id, sessionId: c.var.user.sessionId }, "logout");
    return c.body(null, 204);
  });
