/** An attachment as the API answers it; the service's answers are typed from this schema. */
import { z } from "@hono/zod-openapi";

export const AttachmentSchema = z
  .object({
    id: z.number().int(),
    task: z.number().int(),
    uploaded_by: z.number().int(),
    filename: z.string(),
    content_type: z.string(),
    size_bytes: z.number().int(),
    status: z.enum(["pending", "ready"]),
    created_at: z.string().openapi({ format: "date-time" }),
    completed_at: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("Attachment");

export type AttachmentResponse = z.infer<typeof AttachmentSchema>;
