/**
 * Presigned R2 URLs (S3 SigV4 in the query string, signed with aws4fetch), so clients move file
 * bytes straight to and from R2 and the worker never carries them.
 *
 * Endpoint: `R2_S3_ENDPOINT` in production (`https://<account>.r2.cloudflarestorage.com`); in
 * development the S3 API wrangler serves at `<request origin>/cdn-cgi/local/r2/s3`. URLs are
 * signed against the request's own origin: one signed for 127.0.0.1 fails on localhost.
 */
import { AwsClient } from "aws4fetch";
import type { AppConfig } from "../config/config.ts";
import { ApiError } from "../lib/errors.ts";

export interface PresignContext {
  config: AppConfig;
  /** Origin of the incoming request, used for the local S3 endpoint in development. */
  requestOrigin: string;
}

export interface PresignedRequest {
  method: "GET" | "PUT";
  url: string;
  /** Headers the request must carry exactly as given: they are part of the signature. */
  headers: Record<string, string>;
  expiresAt: Date;
}

/**
 * A key segment URL resolution would rewrite (`.` and `..` are removed with what they point at;
 * encoding cannot help, since `%2e` is a dot too), or that S3 paths collapse (an empty one).
 */
const UNSIGNABLE_SEGMENT = /^\.{0,2}$/;

function objectUrl(context: PresignContext, key: string): URL {
  const { config } = context;
  const segments = key.split("/");
  // The signature covers the resolved path: such a key would be signed for another object.
  if (segments.some((segment) => UNSIGNABLE_SEGMENT.test(segment))) {
    throw new Error("an object key with an empty or dot segment cannot be presigned");
  }
  const endpoint = config.R2_S3_ENDPOINT || `${context.requestOrigin}/cdn-cgi/local/r2/s3`;
  const encodedKey = segments.map(encodeURIComponent).join("/");
  return new URL(`${endpoint.replace(/\/$/, "")}/${config.R2_BUCKET_NAME}/${encodedKey}`);
}

function client(config: AppConfig): AwsClient {
  if (!config.R2_ACCESS_KEY_ID || !config.R2_SECRET_ACCESS_KEY) {
    throw ApiError.unavailable("Direct uploads are not configured (R2 S3 credentials are missing).");
  }
  return new AwsClient({
    accessKeyId: config.R2_ACCESS_KEY_ID,
    secretAccessKey: config.R2_SECRET_ACCESS_KEY,
    service: "s3",
    region: "auto",
  });
}

async function presign(
  context: PresignContext,
  method: "GET" | "PUT",
  key: string,
  options: { expiresIn?: number; query?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<PresignedRequest> {
  const expiresIn = options.expiresIn ?? context.config.PRESIGN_TTL_SECONDS;
  const url = objectUrl(context, key);
  for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, value);
  url.searchParams.set("X-Amz-Expires", String(expiresIn));
  const signed = await client(context.config).sign(url.toString(), {
    method,
    headers: options.headers,
    aws: { signQuery: true, allHeaders: Boolean(options.headers) },
  });
  return {
    method,
    url: signed.url,
    headers: options.headers ?? {},
    expiresAt: new Date(Date.now() + expiresIn * 1000),
  };
}

/**
 * A URL the client PUTs a whole object to, good for exactly one object: its length and type are
 * signed (a PUT of any other size or type fails the signature), and so is `If-None-Match: *`,
 * which lets the PUT create the object but never replace it once it exists.
 */
export function presignPut(
  context: PresignContext,
  key: string,
  object: { contentLength: number; contentType: string },
  expiresIn?: number,
): Promise<PresignedRequest> {
  const headers = {
    "Content-Length": String(object.contentLength),
    "Content-Type": object.contentType,
    "If-None-Match": "*",
  };
  return presign(context, "PUT", key, { expiresIn, headers });
}

/** A URL the client PUTs one part of a multipart upload (created through the R2 binding) to. */
export function presignUploadPart(
  context: PresignContext,
  key: string,
  uploadId: string,
  partNumber: number,
  expiresIn?: number,
): Promise<PresignedRequest> {
  return presign(context, "PUT", key, { expiresIn, query: { partNumber: String(partNumber), uploadId } });
}

/** A short-lived download URL; `filename` sets the name the browser saves it as. */
export function presignGet(
  context: PresignContext,
  key: string,
  options: { expiresIn?: number; filename?: string } = {},
): Promise<PresignedRequest> {
  const query: Record<string, string> = {};
  if (options.filename) {
    query["response-content-disposition"] = `attachment; filename*=UTF-8''${encodeURIComponent(options.filename)}`;
  }
  return presign(context, "GET", key, { expiresIn: options.expiresIn ?? 300, query });
}
