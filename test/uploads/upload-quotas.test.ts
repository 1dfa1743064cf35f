/**
 * Per-user quotas: the declared bytes of a user's uploads not deleted, rejected or failed stay
 * within UPLOAD_QUOTA_BYTES (413 past it), and at most UPLOAD_MAX_ACTIVE uploads are queued or
 * processing at once (429 past it), at create (presigned and form) and again when a presigned
 * upload is completed. Small limits come from an env override, so other suites keep the defaults.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { csvUploads } from "../../src/platform/db/schema.ts";
import { testEnv, withDb } from "../support/env.ts";
import { BASE, runtimeOrigin } from "../support/http.ts";
import { finished, type Upload } from "../support/uploads.ts";
import { createUser, type TestUser } from "../support/users.ts";

const limited: Env = Object.assign({}, testEnv, { UPLOAD_QUOTA_BYTES: "1000", UPLOAD_MAX_ACTIVE: "2" });

/** One request to the worker with the small limits; `path` may be a full URL. */
async function call(user: TestUser, path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${user.token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(init.json);
  }
  const url = path.startsWith("http") ? path : `${BASE}${path}`;
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request(url, { method: init.method ?? (body ? "POST" : "GET"), headers, body }),
    limited,
    ctx,
  );
  const text = await response.text();
  await waitOnExecutionContext(ctx);
  return new Response(text, { status: response.status, headers: response.headers });
}

async function create(user: TestUser, sizeBytes: number): Promise<Response> {
  const origin = await runtimeOrigin();
  return call(user, `${origin}/api/v1/csv-data/uploads/`, { json: { filename: "q.csv", size_bytes: sizeBytes } });
}

async function created(user: TestUser, sizeBytes: number): Promise<Upload> {
  const response = await create(user, sizeBytes);
  expect(response.status, await response.clone().text()).toBe(201);
  return (await response.json()) as Upload;
}

function form(text: string): FormData {
  const data = new FormData();
  data.set("file", new File([text], "q.csv", { type: "text/csv" }));
  return data;
}

/** Marks uploads as being ingested, as the planner does once it starts them. */
async function setStatus(ids: string[], status: "processing" | "completed"): Promise<void> {
  await withDb(async (db) => {
    for (const id of ids) await db.update(csvUploads).set({ status }).where(eq(csvUploads.id, id));
  });
}

const detail = async (response: Response) => ((await response.json()) as { detail: string }).detail;

describe("upload quota: stored bytes", () => {
  it("accepts uploads up to the quota exactly and answers 413 naming the limit one byte past it", async () => {
    const user = await createUser();
    await created(user, 600);
    await created(user, 400);
    const over = await create(user, 1);
    expect(over.status).toBe(413);
    expect(await detail(over)).toMatch(/quota \(UPLOAD_QUOTA_BYTES\) is 1000 bytes/);
  });

  it("counts cancelled uploads, and frees the bytes of deleted and rejected ones", async () => {
    const user = await createUser();
    const first = await created(user, 1000);
    expect((await call(user, `/csv-data/uploads/${first.id}/cancel/`, { method: "POST" })).status).toBe(202);
    expect((await create(user, 1)).status).toBe(413);
    expect((await call(user, `/csv-data/uploads/${first.id}/`, { method: "DELETE" })).status).toBe(204);
    // A file rejected by validation keeps nothing.
    const rejected = await call(user, "/csv-data/uploads/", { body: form("a,b\n\u0000\n") });
    expect(rejected.status).toBe(422);
    await created(user, 1000);
  });

  it("frees the bytes of an upload whose ingestion failed", async () => {
    const user = await createUser();
    // Nine of ten records have a field too few: far past the allowed error ratio, so it fails.
    const text = `a,b\n1,2\n${"x\n".repeat(9)}`;
    const response = await call(user, "/csv-data/uploads/", { body: form(text) });
    expect(response.status, await response.clone().text()).toBe(202);
    const upload = (await response.json()) as Upload;
    expect((await finished(user, upload.id)).status).toBe("failed");
    await created(user, 1000);
  });

  it("checks form uploads too", async () => {
    const user = await createUser();
    await created(user, 995);
    const over = await call(user, "/csv-data/uploads/", { body: form("a,b\n1,2\n") });
    expect(over.status).toBe(413);
    expect(await detail(over)).toMatch(/UPLOAD_QUOTA_BYTES/);
  });

  it("lets concurrent creates never pass the quota together", async () => {
    const user = await createUser();
    const answers = await Promise.all(Array.from({ length: 5 }, () => create(user, 300)));
    expect(answers.map((r) => r.status).sort()).toEqual([201, 201, 201, 413, 413]);
  });
});

describe("upload quota: active uploads", () => {
  it("accepts a new upload below the limit and answers 429 at it, for presigned and form uploads", async () => {
    const user = await createUser();
    const a = await created(user, 10);
    const b = await created(user, 10);
    await setStatus([a.id], "processing");
    // One active: a second may still start.
    const form1 = await call(user, "/csv-data/uploads/", { body: form("a,b\n1,2\n") });
    expect(form1.status).toBe(202);
    await setStatus([b.id], "processing");
    const [formUpload] = [(await form1.json()) as Upload];
    await setStatus([formUpload.id], "completed");
    // Two active: the limit.
    const presigned = await create(user, 10);
    expect(presigned.status).toBe(429);
    expect(presigned.headers.get("Retry-After")).toMatch(/^\d+$/);
    expect(await detail(presigned)).toMatch(/2 uploads queued or processing.*UPLOAD_MAX_ACTIVE/);
    const viaForm = await call(user, "/csv-data/uploads/", { body: form("a,b\n1,2\n") });
    expect(viaForm.status).toBe(429);
    await setStatus([a.id], "completed");
    await created(user, 10);
  });

  it("checks again when a presigned upload is completed, and a retry after one finishes succeeds", async () => {
    const user = await createUser();
    const text = "a,b\n1,2\n";
    const waiting = await created(user, text.length);
    const put = await fetch(waiting.upload!.parts[0]!.url, { method: "PUT", body: text });
    expect(put.status).toBe(200);
    const parts = [{ part_number: 1, etag: put.headers.get("ETag") ?? "" }];
    const a = await created(user, 10);
    const b = await created(user, 10);
    await setStatus([a.id, b.id], "processing");
    const refused = await call(user, `/csv-data/uploads/${waiting.id}/complete/`, { json: { parts } });
    expect(refused.status).toBe(429);
    expect(await detail(refused)).toMatch(/UPLOAD_MAX_ACTIVE/);
    const still = await call(user, `/csv-data/uploads/${waiting.id}/`);
    expect(((await still.json()) as Upload).status).toBe("awaiting_upload");
    await setStatus([a.id], "completed");
    const accepted = await call(user, `/csv-data/uploads/${waiting.id}/complete/`, { json: { parts } });
    expect(accepted.status, await accepted.clone().text()).toBe(202);
  });
});
