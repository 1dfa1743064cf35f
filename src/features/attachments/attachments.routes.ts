import { z } from "@hono/zod-openapi";
import { createRouter } from "../../platform/http/openapi.ts";
import { jsonOrMultipart } from "../../platform/http/openapi-bodies.ts";
import { IntIdParam, NoQueryParams } from "../../platform/http/openapi-params.ts";
import { errorResponses, jsonContent } from "../../platform/http/openapi-responses.ts";
import { routesTagged } from "../../platform/http/openapi-route.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { AttachmentSchema } from "./attachments.schemas.ts";
import {
  completeUpload,
  deleteAttachment,
  getAttachment,
  listAttachments,
  registerUpload,
  storeFile,
} from "./attachments.service.ts";

const route = routesTagged("Attachments");
/** Room for the multipart envelope around a file of the maximum size. */
const FORM_OVERHEAD = 64 * 1024;

const PresignedAttachmentSchema = AttachmentSchema.extend({
  upload: z
    .object({
      method: z.literal("PUT"),
      url: z.string().url(),
      headers: z.record(z.string(), z.string()).openapi({
        description:
          "Send exactly these headers with the PUT: they are signed. `Content-Length` and `Content-Type` are the announced size and type (any other body is refused with 403; a browser sets Content-Length itself from the body), and `If-None-Match: *` lets the URL create the file once but never replace it (412 once uploaded: call complete).",
        example: { "Content-Length": "52428800", "Content-Type": "application/pdf", "If-None-Match": "*" },
      }),
      expires_at: z.string().openapi({
        format: "date-time",
        description:
          "The PUT must start before this (ATTACHMENT_UPLOAD_TTL_SECONDS, 10 minutes by default). An attachment still pending an hour after it was registered is removed, with anything uploaded.",
      }),
    })
    .openapi({ description: "A presigned R2 URL for the file's bytes." }),
}).openapi("PresignedAttachment");

const AttachmentDetailSchema = AttachmentSchema.extend({
  download_url: z.string().url().openapi({ description: "Presigned GET URL, valid for 5 minutes." }),
  download_expires_at: z.string().openapi({ format: "date-time" }),
}).openapi("AttachmentDetail");

const RegisterSchema = z
  .object({
    filename: z.string().trim().min(1, "is required").max(255, "must be at most 255 characters"),
    size_bytes: z
      .number()
      .int("must be a whole number")
      .min(1, "must be at least 1")
      .max(5 * 1024 ** 3, "must be at most 5 GiB"),
    content_type: z
      .string()
      .regex(/^[\w.+-]+\/[\w.+-]+$/, "must be a media type such as application/pdf")
      .default("application/octet-stream"),
  })
  .strict()
  .openapi("AttachmentUploadRequest", {
    example: { filename: "plan.pdf", size_bytes: 52_428_800, content_type: "application/pdf" },
  });

const FileFormSchema = z.object({
  file: z.any().openapi({
    type: "string",
    format: "binary",
    description: "The file (up to ATTACHMENT_MAX_BYTES, 10 MiB by default).",
  }),
});

/** A form carrying a file of the maximum size (413 above, before the body is read when its length says so); JSON as everywhere; other types 415. */
const attachmentBody = jsonOrMultipart(
  (c) => c.var.config.ATTACHMENT_MAX_BYTES + FORM_OVERHEAD,
  (c) =>
    `Attachments may be at most ${c.var.config.ATTACHMENT_MAX_BYTES} bytes; use a presigned upload for larger files.`,
);

const listRoute = route.get("/tasks/{id}/attachments", "listTaskAttachments", "A task's attachments", {
  description: "Completed attachments only; anyone who can read the task.",
  request: { params: IntIdParam, query: NoQueryParams },
  responses: {
    200: jsonContent(z.object({ results: z.array(AttachmentSchema) }).openapi("AttachmentList"), "The attachments."),
    ...errorResponses(400, 401, 404, 429),
  },
});

const createAttachmentRoute = route.post("/tasks/{id}/attachments", "createTaskAttachment", "Attach a file", {
  description:
    "`multipart/form-data` with `file` (up to ATTACHMENT_MAX_BYTES; 413 above): stored at once. Or JSON `{filename, size_bytes, content_type}`: answers with a presigned `upload` the client PUTs the bytes to, then calls `/attachments/{id}/complete/`. Needs the right to edit the task.",
  middleware: [attachmentBody] as const,
  request: {
    params: IntIdParam,
    // Not `required`: with two media types, zod-openapi then validates only the one sent.
    body: {
      required: false,
      content: { "multipart/form-data": { schema: FileFormSchema }, "application/json": { schema: RegisterSchema } },
    },
  },
  responses: {
    201: {
      description: "The attachment (with `upload` for the JSON form).",
      content: { "application/json": { schema: z.union([AttachmentSchema, PresignedAttachmentSchema]) } },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 429, 503),
  },
});

const completeRoute = route.post("/attachments/{id}/complete", "completeAttachment", "Confirm a presigned upload", {
  description:
    "Checks the object exists in R2 with the announced size; 409 when nothing (or something else) was uploaded.",
  request: { params: IntIdParam },
  responses: {
    200: jsonContent(AttachmentSchema, "The attachment, now visible."),
    ...errorResponses(400, 401, 403, 404, 409, 429),
  },
});

const getRoute = route.get("/attachments/{id}", "getAttachment", "An attachment and its download URL", {
  request: { params: IntIdParam, query: NoQueryParams },
  responses: {
    200: jsonContent(AttachmentDetailSchema, "The attachment."),
    ...errorResponses(400, 401, 404, 429, 503),
  },
});

const deleteRoute = route.delete("/attachments/{id}", "deleteAttachment", "Delete an attachment and its file", {
  description:
    "Needs the right to change the task's attachments. A pending attachment (registered, not completed) can be deleted by its uploader only; to anyone else it is 404.",
  request: { params: IntIdParam },
  responses: { 204: { description: "Deleted." }, ...errorResponses(400, 401, 403, 404, 429) },
});

export const attachmentsRoutes = createRouter()
  .openapi(listRoute, async (c) => {
    const results = await listAttachments(c.var.db(), c.var.user, c.req.valid("param").id);
    return c.json({ results }, 200);
  })
  .openapi(createAttachmentRoute, async (c) => {
    const taskId = c.req.valid("param").id;
    const type = c.req.header("Content-Type") ?? "";
    if (/^multipart\/form-data/i.test(type)) {
      const form = c.req.valid("form");
      const file: unknown = "file" in form ? form.file : undefined;
      if (!(file instanceof File)) {
        throw ApiError.badRequest("Invalid input in file: must be a file.", [
          { field: "file", message: "must be a file" },
        ]);
      }
      if (file.size > c.var.config.ATTACHMENT_MAX_BYTES) {
        throw ApiError.tooLarge(
          `Attachments may be at most ${c.var.config.ATTACHMENT_MAX_BYTES} bytes; use a presigned upload for larger files.`,
        );
      }
      return c.json(await storeFile(c.var.db(), c.env.FILES, c.var.user, taskId, file), 201);
    }
    const presign = { config: c.var.config, requestOrigin: new URL(c.req.url).origin };
    const body = c.req.valid("json");
    if (!("filename" in body)) throw ApiError.badRequest("Invalid input in filename: is required.");
    return c.json(await registerUpload(c.var.db(), presign, c.var.user, taskId, body), 201);
  })
  .openapi(completeRoute, async (c) =>
    c.json(await completeUpload(c.var.db(), c.env.FILES, c.var.user, c.req.valid("param").id), 200),
  )
  .openapi(getRoute, async (c) => {
    const presign = { config: c.var.config, requestOrigin: new URL(c.req.url).origin };
    return c.json(await getAttachment(c.var.db(), presign, c.var.user, c.req.valid("param").id), 200);
  })
  .openapi(deleteRoute, async (c) => {
    await deleteAttachment(c.var.db(), c.env.FILES, c.var.user, c.req.valid("param").id);
    return c.body(null, 204);
  });
