/** Request and response shapes of the notifications feature; the OpenAPI document is generated from them. */
import { z } from "@hono/zod-openapi";
import { EMAIL_TEMPLATES } from "../../platform/db/schema.ts";
import { queryParams } from "../../platform/http/openapi-params.ts";
import { pageQuerySchema, pageSchema } from "../../platform/http/pagination.ts";

export const NotificationSchema = z
  .object({
    id: z.number().int().openapi({ example: 7 }),
    type: z.enum(EMAIL_TEMPLATES).openapi({
      description:
        "The event, named as the email it comes with: welcome, task_created, task_assigned, task_completed, upload_completed or upload_failed.",
    }),
    title: z.string().openapi({ example: "You were assigned: Write the quarterly report" }),
    task: z.number().int().nullable().openapi({ description: "The task it is about, if any.", example: 42 }),
    upload: z.string().uuid().nullable().openapi({ description: "The CSV upload it is about, if any." }),
    read_at: z.string().datetime().nullable().openapi({ description: "When it was marked read; null while unread." }),
    created_at: z.string().datetime(),
  })
  .openapi("Notification");

export type NotificationResponse = z.infer<typeof NotificationSchema>;

export const NotificationListSchema = pageSchema(NotificationSchema, "NotificationList");

export const NotificationListQuery = queryParams({
  ...pageQuerySchema().shape,
  unread: z
    .enum(["true", "false"], { error: "must be true or false" })
    .optional()
    .openapi({
      param: { name: "unread", in: "query" },
      description: "`true`: only unread notifications; `false`: only read ones. Absent: all.",
    }),
});
