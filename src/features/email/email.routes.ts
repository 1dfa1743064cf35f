/**
 * `GET /dev/outbox`: the mail the API has "sent", for development. Outside development the route
 * answers exactly like a path that does not exist, before authentication, so production never
 * reveals it.
 */
import type { MiddlewareHandler } from "hono";
import { isDevelopment } from "../../platform/config/config.ts";
import type { AppEnv } from "../../platform/context/types.ts";
import { notFound } from "../../platform/http/error-handler.ts";
import { createRouter } from "../../platform/http/openapi.ts";
import { errorResponses, jsonContent } from "../../platform/http/openapi-responses.ts";
import { routesTagged } from "../../platform/http/openapi-route.ts";
import { paginate } from "../../platform/http/pagination.ts";
import { OutboxPageSchema, OutboxQuerySchema } from "./email.schemas.ts";
import { listOutbox } from "./email.service.ts";

const route = routesTagged("Development");

const developmentOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!isDevelopment(c.var.config)) return notFound(c);
  await next();
};

const outboxRoute = route.get("/dev/outbox", "listDevOutbox", "Mail sent by the API (development only)", {
  description:
    "Served only when `ENVIRONMENT` is `development` (404 otherwise). One entry per recipient, newest first. " +
    "A user sees mail sent to them; CEO and HR see all. Without a MailChannels API key this is where mail goes " +
    "instead of the internet.",
  request: { query: OutboxQuerySchema },
  responses: {
    200: jsonContent(OutboxPageSchema, "A page of mail."),
    ...errorResponses(400, 401, 404, 429),
  },
});

// On the router, registered before the route: a route's own middleware runs after authentication.
const router = createRouter();
router.use(outboxRoute.getRoutingPath(), developmentOnly);

export const emailRoutes = router.openapi(outboxRoute, async (c) => {
  const { page, page_size, template, to } = c.req.valid("query");
  const params = { page, page_size };
  const listing = await listOutbox(c.var.db(), c.var.user, { template, to }, params);
  return c.json(paginate(c.req.url, params, listing), 200);
});
