/** Request and response schemas of webhook subscriptions and their deliveries. */
import { z } from "@hono/zod-openapi";
import { WEBHOOK_DELIVERY_EVENTS, WEBHOOK_DELIVERY_STATUSES, WEBHOOK_EVENTS } from "../../platform/db/schema.ts";
import { IntIdParam, wholeNumberText } from "../../platform/http/openapi-params.ts";
import { pageSchema } from "../../platform/http/pagination.ts";

const EventsSchema = z
  .array(z.enum(WEBHOOK_EVENTS, { error: `must be one of ${WEBHOOK_EVENTS.join(", ")}` }), {
    error: "must be a list of event names",
  })
  .min(1, "must name at least one event")
  .refine((events) => new Set(events).size === events.length, "must not name an event twice")
  .openapi({
    description: `The events to receive: ${WEBHOOK_EVENTS.map((e) => `\`${e}\``).join(", ")}.`,
    example: ["task.created", "task.completed"],
  });

const UrlSchema = z
  .string({ error: "must be a string" })
  .trim()
  .min(1, "is required")
  .max(2048, "must be at most 2048 characters")
  .openapi({
    description:
      "Where deliveries are POSTed. Production: `https` to a public host only (no `localhost`, no private, loopback, link-local or unique-local IP literal). Development: `http` is also allowed to localhost and loopback addresses.",
    example: "https://hooks.example.com/edge-tasks",
  });

const DescriptionSchema = z
  .string({ error: "must be a string" })
  .max(500, "must be at most 500 characters")
  .openapi({ example: "Sync completed tasks to the billing system" });

export const CreateWebhookSchema = z
  .strictObject({ url: UrlSchema, events: EventsSchema, description: DescriptionSchema.optional() })
  .openapi("CreateWebhook");

export const UpdateWebhookSchema = z
  .strictObject({
    url: UrlSchema.optional(),
    events: EventsSchema.optional(),
    description: DescriptionSchema.optional(),
    active: z.boolean({ error: "must be true or false" }).optional().openapi({
      description: "`false` stops new deliveries (and drops those not yet sent) until set `true` again.",
    }),
  })
  .openapi("UpdateWebhook");

export const WebhookSchema = z
  .object({
    id: z.number().int().openapi({ example: 3 }),
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENTS)),
    description: z.string(),
    active: z.boolean(),
    created_by: z.number().int().nullable(),
    created_at: z.string().openapi({ format: "date-time" }),
    updated_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Webhook");

export const CreatedWebhookSchema = WebhookSchema.extend({
  secret: z.string().openapi({
    description:
      "The signing secret (`whsec_` + base64 of 32 random bytes). Shown only in this answer: store it now. Verify each delivery's `webhook-signature` with it as the Standard Webhooks specification says.",
    example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYq=",
  }),
}).openapi("CreatedWebhook");

export const WebhookPageSchema = pageSchema(WebhookSchema, "WebhookPage");

export const DeliverySchema = z
  .object({
    id: z.number().int().openapi({ description: "Also the delivery's `webhook-id` header, as `msg_<id>`." }),
    event: z.enum(WEBHOOK_DELIVERY_EVENTS),
    status: z.enum(WEBHOOK_DELIVERY_STATUSES).openapi({
      description:
        "`pending` until the receiver answers 2xx (`delivered`) or the last retry fails (`failed`); also `failed` when the subscription was deactivated before sending.",
    }),
    attempts: z.number().int().openapi({ description: "Requests sent so far." }),
    response_status: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "The HTTP status of the last attempt, if any answered." }),
    created_at: z.string().openapi({ format: "date-time" }),
    delivered_at: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("WebhookDelivery");

export const DeliveryPageSchema = pageSchema(DeliverySchema, "WebhookDeliveryPage");

export const AttemptSchema = z
  .object({
    attempted_at: z.string().openapi({ format: "date-time" }),
    response_status: z.number().int().nullable(),
    error: z
      .string()
      .nullable()
      .openapi({ description: "Why the attempt failed when no 2xx came back, as a sentence." }),
    duration_ms: z.number().int(),
  })
  .openapi("WebhookAttempt");

export const DeliveryDetailSchema = DeliverySchema.extend({
  payload: z.record(z.string(), z.unknown()).openapi({ description: "The event's `data`, as sent." }),
  attempt_log: z.array(AttemptSchema).openapi({ description: "Every attempt, oldest first." }),
}).openapi("WebhookDeliveryDetail");

export const DeliveryParams = IntIdParam.extend({
  delivery_id: wholeNumberText(1, 2_147_483_647, "must be positive").openapi({
    param: { name: "delivery_id", in: "path" },
    type: "integer",
    example: 7,
  }),
});

export type CreateWebhookInput = z.infer<typeof CreateWebhookSchema>;
export type UpdateWebhookInput = z.infer<typeof UpdateWebhookSchema>;
export type WebhookResponse = z.infer<typeof WebhookSchema>;
export type DeliveryResponse = z.infer<typeof DeliverySchema>;
export type DeliveryDetailResponse = z.infer<typeof DeliveryDetailSchema>;
