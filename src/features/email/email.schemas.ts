/** Request and response schemas of the development outbox. */
import { z } from "@hono/zod-openapi";
import { EMAIL_STATUSES, EMAIL_TEMPLATES } from "../../platform/db/schema.ts";
import { queryParams } from "../../platform/http/openapi-params.ts";
import { PageQuerySchema, pageSchema } from "../../platform/http/pagination.ts";

export const OutboxQuerySchema = queryParams({
  ...PageQuerySchema.shape,
  template: z
    .enum(EMAIL_TEMPLATES, { error: `must be one of ${EMAIL_TEMPLATES.join(", ")}` })
    .optional()
    .openapi({ param: { name: "template", in: "query" }, description: "Only mails of this template." }),
  to: z
    .string()
    .trim()
    .min(1, "must not be empty")
    .max(320, "is too long")
    .optional()
    .openapi({
      param: { name: "to", in: "query" },
      description: "Only mails to this address (case-insensitive).",
      example: "employee@example.com",
    }),
});

export const OutboxEmailSchema = z
  .object({
    to: z.string().openapi({ example: "employee@example.com" }),
    subject: z.string().openapi({ example: "Welcome to Edge Tasks" }),
    template: z.enum(EMAIL_TEMPLATES),
    body: z.string(),
    status: z.enum(EMAIL_STATUSES).openapi({
      description:
        "`queued` until the consumer runs, `retrying` after a failed attempt, then `sent` or `failed`; `skipped` when sending is off (`MAIL_DISABLED`, or development without a MailChannels API key): the mail never left.",
    }),
    created_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("OutboxEmail");

export const OutboxPageSchema = pageSchema(OutboxEmailSchema, "OutboxPage");

export type OutboxEmail = z.infer<typeof OutboxEmailSchema>;
