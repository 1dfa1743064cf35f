/**
 * Webhook subscriptions: CEO and HR only (403 for anyone else, before anything about the body or
 * the id is looked at). The signing secret is answered once, by the create; reads never select it.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../platform/context/types.ts";
import { createRouter } from "../../platform/http/openapi.ts";
import { jsonBody, requireJson } from "../../platform/http/openapi-bodies.ts";
import { IntIdParam, NoQueryParams } from "../../platform/http/openapi-params.ts";
import { errorResponses, jsonContent } from "../../platform/http/openapi-responses.ts";
import { routesTagged } from "../../platform/http/openapi-route.ts";
import { PageQuerySchema, paginate } from "../../platform/http/pagination.ts";
import { dispatchWebhooks } from "./outbox.ts";
import { assertCanManageWebhooks } from "./webhooks.policy.ts";
import {
  CreatedWebhookSchema,
  CreateWebhookSchema,
  DeliveryDetailSchema,
  DeliveryPageSchema,
  DeliveryParams,
  DeliverySchema,
  UpdateWebhookSchema,
  WebhookPageSchema,
  WebhookSchema,
} from "./webhooks.schemas.ts";
import {
  createWebhook,
  deleteWebhook,
  getDelivery,
  getWebhook,
  listDeliveries,
  listWebhooks,
  recordPing,
  updateWebhook,
  urlPolicyFor,
} from "./webhooks.service.ts";

const route = routesTagged("Webhooks");

const managersOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  assertCanManageWebhooks(c.var.user);
  await next();
};

const EVENTS_TEXT =
  "Each delivery is a JSON `POST` of `{type, timestamp, data}` signed as Standard Webhooks says (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`), sent after the change commits, at least once, retried with exponential backoff on a network error, a timeout (10 s) or a non-2xx answer.";

const listRoute = route.get("/webhooks", "listWebhooks", "List webhook subscriptions", {
  description: "CEO and HR only. By id. The secret is never shown here.",
  middleware: [managersOnly] as const,
  request: { query: PageQuerySchema },
  responses: { 200: jsonContent(WebhookPageSchema, "A page of subscriptions."), ...errorResponses(400, 401, 403, 429) },
});

const createWebhookRoute = route.post("/webhooks", "createWebhook", "Subscribe a URL to events", {
  description: `CEO and HR only. The answer carries the signing \`secret\`, shown only here. ${EVENTS_TEXT}`,
  middleware: [requireJson, managersOnly] as const,
  request: { body: jsonBody(CreateWebhookSchema) },
  responses: {
    201: jsonContent(CreatedWebhookSchema, "The subscription, with its secret."),
    ...errorResponses(400, 401, 403, 413, 415, 429),
  },
});

const getRoute = route.get("/webhooks/{id}", "getWebhook", "Get a webhook subscription", {
  description: "CEO and HR only. The secret is never shown here.",
  middleware: [managersOnly] as const,
  request: { params: IntIdParam, query: NoQueryParams },
  responses: { 200: jsonContent(WebhookSchema, "The subscription."), ...errorResponses(400, 401, 403, 404, 429) },
});

const updateRoute = route.patch("/webhooks/{id}", "updateWebhook", "Change a webhook subscription", {
  description:
    "CEO and HR only. `active: false` pauses it: no new deliveries are recorded, and those not yet sent become `failed`.",
  middleware: [requireJson, managersOnly] as const,
  request: { params: IntIdParam, body: jsonBody(UpdateWebhookSchema) },
  responses: {
    200: jsonContent(WebhookSchema, "The changed subscription."),
    ...errorResponses(400, 401, 403, 404, 413, 415, 429),
  },
});

const deleteRoute = route.delete("/webhooks/{id}", "deleteWebhook", "Delete a webhook subscription", {
  description: "CEO and HR only. Its deliveries go with it; none still queued is sent.",
  middleware: [managersOnly] as const,
  request: { params: IntIdParam },
  responses: { 204: { description: "Deleted." }, ...errorResponses(400, 401, 403, 404, 429) },
});

const deliveriesRoute = route.get("/webhooks/{id}/deliveries", "listWebhookDeliveries", "A subscription's deliveries", {
  description: "CEO and HR only. Newest first.",
  middleware: [managersOnly] as const,
  request: { params: IntIdParam, query: PageQuerySchema },
  responses: {
    200: jsonContent(DeliveryPageSchema, "A page of deliveries."),
    ...errorResponses(400, 401, 403, 404, 429),
  },
});

const deliveryRoute = route.get(
  "/webhooks/{id}/deliveries/{delivery_id}",
  "getWebhookDelivery",
  "One delivery with its attempts",
  {
    description:
      "CEO and HR only. The payload as sent and every attempt: when, the receiver's status or why there was none, how long.",
    middleware: [managersOnly] as const,
    request: { params: DeliveryParams, query: NoQueryParams },
    responses: { 200: jsonContent(DeliveryDetailSchema, "The delivery."), ...errorResponses(400, 401, 403, 404, 429) },
  },
);

const testRoute = route.post("/webhooks/{id}/test", "testWebhook", "Send a ping", {
  description:
    "CEO and HR only. Records a `ping` delivery (`data`: `{webhook, actor, message}`) and queues it; follow it in the deliveries. 409 while the subscription is inactive.",
  middleware: [managersOnly] as const,
  request: { params: IntIdParam },
  responses: {
    202: jsonContent(DeliverySchema, "The queued delivery."),
    ...errorResponses(400, 401, 403, 404, 409, 429),
  },
});

export const webhooksRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const params = c.req.valid("query");
    return c.json(paginate(c.req.url, params, await listWebhooks(c.var.db(), params)), 200);
  })
  .openapi(createWebhookRoute, async (c) =>
    c.json(await createWebhook(c.var.db(), c.var.user.id, urlPolicyFor(c.var.config), c.req.valid("json")), 201),
  )
  .openapi(getRoute, async (c) => c.json(await getWebhook(c.var.db(), c.req.valid("param").id), 200))
  .openapi(updateRoute, async (c) =>
    c.json(
      await updateWebhook(c.var.db(), c.req.valid("param").id, urlPolicyFor(c.var.config), c.req.valid("json")),
      200,
    ),
  )
  .openapi(deleteRoute, async (c) => {
    await deleteWebhook(c.var.db(), c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(deliveriesRoute, async (c) => {
    const params = c.req.valid("query");
    const listing = await listDeliveries(c.var.db(), c.req.valid("param").id, params);
    return c.json(paginate(c.req.url, params, listing), 200);
  })
  .openapi(deliveryRoute, async (c) => {
    const { id, delivery_id } = c.req.valid("param");
    return c.json(await getDelivery(c.var.db(), id, delivery_id), 200);
  })
  .openapi(testRoute, async (c) => {
    const delivery = await recordPing(c.var.db(), c.req.valid("param").id, c.var.user.id);
    c.executionCtx.waitUntil(dispatchWebhooks(c.env, [delivery.id]));
    return c.json(delivery, 202);
  });
