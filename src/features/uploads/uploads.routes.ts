import { createRoute } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../platform/context/types.ts";
import { bumpCacheVersions } from "../../platform/edge-state/user-state.client.ts";
import { createRouter } from "../../platform/http/openapi.ts";
import { jsonBody, jsonOrMultipart, requireJson } from "../../platform/http/openapi-bodies.ts";
import { IfNoneMatchHeaders, NoQueryParams, UuidIdParam } from "../../platform/http/openapi-params.ts";
import { errorResponses, etagHeader, jsonContent, notModifiedResponse } from "../../platform/http/openapi-responses.ts";
import { routesTagged } from "../../platform/http/openapi-route.ts";
import { PageQuerySchema, paginate } from "../../platform/http/pagination.ts";
import { enforceRateLimit } from "../../platform/http/rate-limit.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { presignUploadPart } from "../../platform/storage/presign.ts";
import { isTerminal } from "./progress/progress-state.ts";
import { AWAITING_SNAPSHOT_HEADER, progressOf } from "./progress/upload-progress.ts";
import {
  CompleteUploadSchema,
  CreatedUploadSchema,
  CreateUploadSchema,
  ProgressSchema,
  UploadFormSchema,
  UploadListSchema,
  UploadSchema,
} from "./uploads.schemas.ts";
import { finalProgress, toUploadResponse } from "./uploads.serializer.ts";
import {
  acceptStoredFile,
  cancelUpload,
  checkFile,
  completeMultipart,
  createUpload,
  deleteUpload,
  getOwnUpload,
  getOwnUploadLive,
  listUploads,
  recordMultipart,
} from "./uploads.service.ts";

const route = routesTagged("CSV uploads");

/** JSON (a presigned plan) or multipart/form-data (a small file) → anything else 415; forms above the limit 413. */
const uploadBody = jsonOrMultipart(
  (c) => c.var.config.UPLOAD_FORM_MAX_BYTES,
  (c) =>
    `A form upload may be at most ${c.var.config.UPLOAD_FORM_MAX_BYTES} bytes; use the presigned upload for larger files.`,
);

const uploadRateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  await enforceRateLimit(c.env.UPLOAD_RATE_LIMITER, `upload:${c.var.user.id}`, c.var.config.RATE_LIMIT_PERIOD_SECONDS);
  await next();
};

const createUploadRoute = route.post("/csv-data/uploads", "createUpload", "Start a CSV upload", {
  description:
    "JSON `{filename, size_bytes}` → 201 with a multipart plan: presigned R2 URLs, one per part, all `part_size` bytes but the last. PUT each slice to its URL, keep each `ETag`, then call `complete`. Or send a small file as `multipart/form-data` (`file`) → 202, validated and queued at once.\n\nQuotas per user: the declared sizes of your uploads not deleted, rejected or failed may total at most `UPLOAD_QUOTA_BYTES` (10 GiB by default; cancelled uploads count until deleted) → else 413; at most `UPLOAD_MAX_ACTIVE` uploads (5 by default) may be queued or processing → else 429 with `Retry-After`. Both answers name the limit.",
  middleware: [uploadBody, uploadRateLimit] as const,
  request: {
    body: {
      // Not `required`: each content type's validator then runs only for its own type (the
      // middleware already answers 415 for any other).
      required: false,
      content: {
        "application/json": { schema: CreateUploadSchema },
        "multipart/form-data": { schema: UploadFormSchema },
      },
    },
  },
  responses: {
    201: jsonContent(CreatedUploadSchema, "The upload and where to send its parts."),
    202: jsonContent(UploadSchema, "A form upload, accepted and queued."),
    ...errorResponses(400, 401, 413, 415, 422, 429),
  },
});

const completeRoute = route.post("/csv-data/uploads/{id}/complete", "completeUpload", "Complete a presigned upload", {
  description:
    "Assembles the parts, checks the stored size against the declared one, validates the file and queues its ingestion (202). An invalid file → 422 with the reason; the upload is then `rejected` and the file deleted. Queueing makes the upload active, so `UPLOAD_MAX_ACTIVE` is checked again here: with that many uploads already queued or processing → 429 with `Retry-After`; the upload stays `awaiting_upload` (its parts already assembled) and the same call succeeds once one has finished.",
  middleware: [requireJson] as const,
  request: { params: UuidIdParam, body: jsonBody(CompleteUploadSchema) },
  responses: {
    202: jsonContent(UploadSchema, "Accepted; ingestion started."),
    ...errorResponses(400, 401, 404, 409, 415, 422, 429),
  },
});

const listRoute = route.get("/csv-data/uploads", "listUploads", "The caller's uploads, newest first", {
  request: { query: PageQuerySchema, headers: IfNoneMatchHeaders },
  responses: {
    200: { ...jsonContent(UploadListSchema, "A page of uploads."), headers: etagHeader },
    ...notModifiedResponse,
    ...errorResponses(400, 401, 429),
  },
});

const getRoute = route.get("/csv-data/uploads/{id}", "getUpload", "An upload's details", {
  request: { params: UuidIdParam, query: NoQueryParams, headers: IfNoneMatchHeaders },
  responses: {
    200: { ...jsonContent(UploadSchema, "The upload."), headers: etagHeader },
    ...notModifiedResponse,
    ...errorResponses(400, 401, 404, 429),
  },
});

const progressRoute = route.get("/csv-data/uploads/{id}/progress", "getUploadProgress", "Live ingestion progress", {
  description:
    "The live state from the upload's Durable Object. With `Upgrade: websocket` (token as `?access_token=`), the socket receives the current state at once, then every change, each a JSON object of the same shape, and is closed (code 1000) after the final state. `awaiting_upload` is not final: a socket opened before the file is sent stays open and follows the ingestion once `complete` accepts the file (or receives `rejected` or `cancelled` and is closed).",
  request: { params: UuidIdParam },
  responses: {
    101: { description: "Switched to a WebSocket." },
    200: jsonContent(ProgressSchema, "The current progress."),
    ...errorResponses(400, 401, 404, 429),
  },
});

const cancelRoute = route.post("/csv-data/uploads/{id}/cancel", "cancelUpload", "Cancel an upload", {
  description:
    "202 while awaiting upload, queued or processing: no further chunk inserts and its rows are removed. 409 once it has ended.",
  request: { params: UuidIdParam },
  responses: { 202: jsonContent(UploadSchema, "Cancelled."), ...errorResponses(400, 401, 404, 409, 429) },
});

const deleteRoute = route.delete("/csv-data/uploads/{id}", "deleteUpload", "Delete an upload", {
  description:
    "Removes its rows (a partition drop, fast at any size), the file and its progress. A running ingestion is cancelled first.",
  request: { params: UuidIdParam },
  responses: { 204: { description: "Deleted." }, ...errorResponses(400, 401, 404, 429) },
});

const deleteAliasRoute = createRoute({
  ...deleteRoute,
  path: "/csv-data/uploads/{id}/delete",
  operationId: "deleteUploadAlias",
  summary: "Delete an upload (alias)",
});

function presignContext(c: { var: AppEnv["Variables"]; req: { url: string } }) {
  return { config: c.var.config, requestOrigin: new URL(c.req.url).origin };
}

export const uploadsRoutes = createRouter()
  .openapi(createUploadRoute, async (c) => {
    const config = c.var.config;
    const db = c.var.pool();
    const input = /^multipart\/form-data/i.test(c.req.header("Content-Type") ?? "")
      ? c.req.valid("form")
      : c.req.valid("json");
    if ("file" in input) {
      const { file } = input;
      checkFile(config, file.name, file.size, config.UPLOAD_FORM_MAX_BYTES);
      const upload = await createUpload(db, config, {
        ownerId: c.var.user.id,
        filename: file.name,
        sizeBytes: file.size,
        contentType: file.type || null,
      });
      await c.env.FILES.put(upload.r2Key, file);
      const accepted = await acceptStoredFile(db, c.env, config, upload).catch(async (error: unknown) => {
        // Another of the caller's uploads became active meanwhile: this one was never accepted,
        // so nothing of it is kept.
        if (error instanceof ApiError && error.status === 429) await deleteUpload(db, c.env, upload);
        throw error;
      });
      return c.json(toUploadResponse(accepted), 202);
    }
    const body = input;
    checkFile(config, body.filename, body.size_bytes, config.UPLOAD_MAX_BYTES);
    const upload = await createUpload(db, config, {
      ownerId: c.var.user.id,
      filename: body.filename,
      sizeBytes: body.size_bytes,
    });
    const partSize = config.UPLOAD_PART_BYTES;
    const partCount = Math.max(1, Math.ceil(body.size_bytes / partSize));
    if (partCount > 10_000)
      throw ApiError.tooLarge("The file needs more than 10,000 parts at the configured part size.");
    const multipart = await c.env.FILES.createMultipartUpload(upload.r2Key);
    await recordMultipart(db, upload.id, multipart.uploadId, partSize, partCount);
    const context = presignContext(c);
    const parts = await Promise.all(
      Array.from({ length: partCount }, async (_, i) => {
        const signed = await presignUploadPart(context, upload.r2Key, multipart.uploadId, i + 1);
        return { part_number: i + 1, url: signed.url, expiresAt: signed.expiresAt };
      }),
    );
    const expiresAt = parts[0]?.expiresAt ?? new Date();
    return c.json(
      {
        ...toUploadResponse(upload),
        upload: {
          part_size: partSize,
          parts: parts.map(({ part_number, url }) => ({ part_number, url })),
          expires_at: expiresAt.toISOString(),
        },
      },
      201,
    );
  })
  .openapi(completeRoute, async (c) => {
    const upload = await getOwnUpload(c.var.db(), c.var.user.id, c.req.valid("param").id);
    await completeMultipart(c.env, upload, c.req.valid("json").parts);
    const accepted = await acceptStoredFile(c.var.pool(), c.env, c.var.config, upload);
    return c.json(toUploadResponse(accepted), 202);
  })
  .openapi(listRoute, async (c) => {
    const page = c.req.valid("query");
    const { count, rows } = await listUploads(c.var.db(), c.var.user.id, page);
    return c.json(paginate(c.req.url, page, { count, results: rows.map(toUploadResponse) }), 200);
  })
  .openapi(getRoute, async (c) => {
    const upload = await getOwnUploadLive(c.var.db(), c.var.user.id, c.req.valid("param").id);
    return c.json(toUploadResponse(upload), 200);
  })
  .openapi(progressRoute, async (c) => {
    const upload = await getOwnUpload(c.var.db(), c.var.user.id, c.req.valid("param").id);
    const websocket = c.req.header("Upgrade")?.toLowerCase() === "websocket";
    if (websocket && !isTerminal(upload.status)) {
      // Awaiting its file is not an end: the object keeps the socket until the ingestion ends.
      const headers = new Headers(c.req.raw.headers);
      headers.delete(AWAITING_SNAPSHOT_HEADER);
      if (upload.status === "awaiting_upload") {
        headers.set(AWAITING_SNAPSHOT_HEADER, JSON.stringify(finalProgress(upload)));
      }
      return progressOf(c.env, upload.id).fetch(new Request(c.req.raw, { headers }));
    }
    const ended = isTerminal(upload.status) || upload.status === "awaiting_upload";
    if (websocket) {
      // Nothing will change any more: send the final state and close.
      const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
      server.accept();
      server.send(JSON.stringify(finalProgress(upload)));
      server.close(1000, "final state");
      return new Response(null, { status: 101, webSocket: client });
    }
    const live = ended ? null : await progressOf(c.env, upload.id).snapshot();
    return c.json(live ?? finalProgress(upload), 200);
  })
  .openapi(cancelRoute, async (c) => {
    const upload = await getOwnUpload(c.var.db(), c.var.user.id, c.req.valid("param").id);
    return c.json(toUploadResponse(await cancelUpload(c.var.pool(), c.env, upload)), 202);
  })
  .openapi(deleteRoute, async (c) => {
    const upload = await getOwnUpload(c.var.db(), c.var.user.id, c.req.valid("param").id);
    await deleteUpload(c.var.pool(), c.env, upload);
    // Before answering: no cached row page or upload description outlives the upload.
    await bumpCacheVersions(c.env, [c.var.user.id], ["uploads"]);
    return c.body(null, 204);
  })
  .openapi(deleteAliasRoute, async (c) => {
    const upload = await getOwnUpload(c.var.db(), c.var.user.id, c.req.valid("param").id);
    await deleteUpload(c.var.pool(), c.env, upload);
    // Before answering: no cached row page or upload description outlives the upload.
    await bumpCacheVersions(c.env, [c.var.user.id], ["uploads"]);
    return c.body(null, 204);
  });
