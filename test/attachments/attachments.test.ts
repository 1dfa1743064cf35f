import { eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  AWAITING_UPLOAD_MAX_AGE_SECONDS,
  PENDING_ATTACHMENT_MAX_AGE_SECONDS,
  sweepAbandonedUploads,
} from "../../src/features/uploads/abandoned-uploads.ts";
import { csvUploads, taskAttachments } from "../../src/platform/db/schema.ts";
import { testEnv, withDb } from "../support/env.ts";
import { api, json, runtimeOrigin } from "../support/http.ts";
import { makeOrg } from "../support/org.ts";
import { makeTask } from "../support/tasks.ts";
import type { Upload } from "../support/uploads.ts";

interface Attachment {
  id: number;
  filename: string;
  size_bytes: number;
  status: string;
  upload?: { method: string; url: string; headers: Record<string, string>; expires_at: string };
  download_url?: string;
}

/** A multipart body with `file` as its `file` field, as the attachment route takes an upload. */
function fileForm(file: File): FormData {
  const form = new FormData();
  form.append("file", file);
  return form;
}

async function r2Key(id: number): Promise<string> {
  const [row] = await withDb((db) => db.select().from(taskAttachments).where(eq(taskAttachments.id, id)));
  if (!row) throw new Error("no attachment");
  return row.r2Key;
}

describe("attachments", () => {
  it("multipart upload, listing, presigned download and delete removes the object", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { assignees: [org.employee.id] });
    const origin = await runtimeOrigin();
    const form = fileForm(new File(["hello, attachment"], "notes.txt", { type: "text/plain" }));
    const created = await api(`${origin}/api/v1/tasks/${task.id}/attachments/`, {
      token: org.manager.token,
      body: form,
    });
    expect(created.status).toBe(201);
    const attachment = await json<Attachment>(created);
    expect(attachment).toMatchObject({ filename: "notes.txt", size_bytes: 17, status: "ready" });

    // The assignee reads but cannot add; an outsider sees nothing.
    const listed = await json<{ results: Attachment[] }>(
      await api(`/tasks/${task.id}/attachments/`, { token: org.employee.token }),
    );
    expect(listed.results.map((a) => a.id)).toEqual([attachment.id]);
    const again = fileForm(new File(["x"], "x.txt"));
    expect((await api(`/tasks/${task.id}/attachments/`, { token: org.employee.token, body: again })).status).toBe(403);
    expect((await api(`/attachments/${attachment.id}/`, { token: org.outsider.token })).status).toBe(404);

    const detail = await json<Attachment>(
      await api(`${origin}/api/v1/attachments/${attachment.id}/`, { token: org.employee.token }),
    );
    expect(detail.download_url).toMatch(/X-Amz-Signature=/);
    // A download link lives five minutes.
    expect(new URL(detail.download_url ?? "").searchParams.get("X-Amz-Expires")).toBe("300");
    const download = await fetch(detail.download_url ?? "");
    expect(download.status).toBe(200);
    expect(await download.text()).toBe("hello, attachment");

    const key = await r2Key(attachment.id);
    expect(await testEnv.FILES.head(key)).not.toBeNull();
    expect((await api(`/attachments/${attachment.id}/`, { method: "DELETE", token: org.employee.token })).status).toBe(
      403,
    );
    expect((await api(`/attachments/${attachment.id}/`, { method: "DELETE", token: org.manager.token })).status).toBe(
      204,
    );
    expect(await testEnv.FILES.head(key)).toBeNull();
    expect((await api(`/attachments/${attachment.id}/`, { token: org.manager.token })).status).toBe(404);
  });

  it("presigned PUT: pending until completed, 409 before the upload, then visible", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee);
    const origin = await runtimeOrigin();
    const body = "a".repeat(2048);
    const created = await api(`${origin}/api/v1/tasks/${task.id}/attachments/`, {
      token: org.employee.token,
      json: { filename: "big.csv", size_bytes: body.length, content_type: "text/csv" },
    });
    expect(created.status).toBe(201);
    const pending = await json<Attachment>(created);
    expect(pending.status).toBe("pending");
    expect(pending.upload?.method).toBe("PUT");
    expect(pending.upload?.url.startsWith(origin)).toBe(true);

    expect((await api(`/attachments/${pending.id}/`, { token: org.employee.token })).status).toBe(404);
    const unlisted = await json<{ results: Attachment[] }>(
      await api(`/tasks/${task.id}/attachments/`, { token: org.employee.token }),
    );
    expect(unlisted.results).toEqual([]);
    const early = await api(`/attachments/${pending.id}/complete/`, { method: "POST", token: org.employee.token });
    expect(early.status).toBe(409);

    const put = await fetch(pending.upload?.url ?? "", { method: "PUT", body, headers: pending.upload?.headers });
    expect(put.status).toBe(200);
    const done = await api(`/attachments/${pending.id}/complete/`, { method: "POST", token: org.employee.token });
    expect(done.status).toBe(200);
    expect(await json(done)).toMatchObject({ id: pending.id, status: "ready", size_bytes: 2048 });
    const listed = await json<{ results: Attachment[] }>(
      await api(`/tasks/${task.id}/attachments/`, { token: org.employee.token }),
    );
    expect(listed.results.map((a) => a.id)).toEqual([pending.id]);

    // Soft-deleting the task makes its attachments unreachable.
    expect((await api(`/tasks/${task.id}/`, { method: "DELETE", token: org.employee.token })).status).toBe(204);
    expect((await api(`/attachments/${pending.id}/`, { token: org.employee.token })).status).toBe(404);
    expect((await api(`/tasks/${task.id}/attachments/`, { token: org.employee.token })).status).toBe(404);
  });

  it("attachments named '..' and '.' each keep their own object, presigned or multipart", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee);
    const origin = await runtimeOrigin();
    const ids: number[] = [];
    const contents = ["dot-dot presigned", "single dot presigned!"];
    for (const [index, filename] of ["..", "."].entries()) {
      const content = contents[index] ?? "";
      const created = await api(`${origin}/api/v1/tasks/${task.id}/attachments/`, {
        token: org.employee.token,
        json: { filename, size_bytes: content.length, content_type: "text/plain" },
      });
      expect(created.status).toBe(201);
      const pending = await json<Attachment>(created);
      // The URL addresses exactly the key recorded for this attachment.
      const key = await r2Key(pending.id);
      expect(new URL(pending.upload?.url ?? "").pathname).toBe(`/cdn-cgi/local/r2/s3/edge-tasks-files/${key}`);
      const put = await fetch(pending.upload?.url ?? "", {
        method: "PUT",
        body: content,
        headers: pending.upload?.headers,
      });
      expect(put.status).toBe(200);
      const done = await api(`/attachments/${pending.id}/complete/`, { method: "POST", token: org.employee.token });
      expect(done.status).toBe(200);
      ids.push(pending.id);
    }
    const form = fileForm(new File(["dot-dot multipart"], "..", { type: "text/plain" }));
    const multipart = await api(`${origin}/api/v1/tasks/${task.id}/attachments/`, {
      token: org.employee.token,
      body: form,
    });
    expect(multipart.status).toBe(201);
    ids.push((await json<Attachment>(multipart)).id);
    contents.push("dot-dot multipart");

    const keys = await Promise.all(ids.map(r2Key));
    expect(new Set(keys).size).toBe(3);
    for (const [index, id] of ids.entries()) {
      const detail = await json<Attachment>(
        await api(`${origin}/api/v1/attachments/${id}/`, { token: org.employee.token }),
      );
      const download = await fetch(detail.download_url ?? "");
      expect(download.status).toBe(200);
      expect(await download.text()).toBe(contents[index]);
    }
  });

  it("a presigned PUT URL takes exactly the announced length and type, once, for 10 minutes", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee);
    const origin = await runtimeOrigin();
    const body = "b".repeat(1000);
    const before = Date.now();
    const pending = await json<Attachment>(
      await api(`${origin}/api/v1/tasks/${task.id}/attachments/`, {
        token: org.employee.token,
        json: { filename: "notes.txt", size_bytes: body.length, content_type: "text/plain" },
      }),
    );
    const upload = pending.upload;
    if (!upload) throw new Error("no upload");
    expect(upload.headers).toEqual({ "Content-Length": "1000", "Content-Type": "text/plain", "If-None-Match": "*" });
    const lifetime = Date.parse(upload.expires_at) - before;
    expect(lifetime).toBeGreaterThan(595_000);
    expect(lifetime).toBeLessThanOrEqual(605_000);
    expect(new URL(upload.url).searchParams.get("X-Amz-Expires")).toBe("600");
    const put = (content: string, headers: Record<string, string>) =>
      fetch(upload.url, { method: "PUT", body: content, headers });

    // One byte more or less, 5 MiB instead of 1,000 bytes, or another type: refused by R2.
    for (const content of [`${body}b`, body.slice(1), "c".repeat(5 * 1024 * 1024)]) {
      const refused = await put(content, { ...upload.headers, "Content-Length": String(content.length) });
      expect(refused.status, `${content.length} bytes`).toBe(403);
    }
    expect((await put(body, { ...upload.headers, "Content-Type": "text/html" })).status).toBe(403);
    expect(await testEnv.FILES.head(await r2Key(pending.id))).toBeNull();

    expect((await put(body, upload.headers)).status).toBe(200);
    const done = await api(`/attachments/${pending.id}/complete/`, { method: "POST", token: org.employee.token });
    expect(done.status).toBe(200);
    // The same URL cannot replace the completed file, even with the same length and type.
    const replaced = await put("z".repeat(1000), upload.headers);
    expect(replaced.status).toBe(412);
    const detail = await json<Attachment>(
      await api(`${origin}/api/v1/attachments/${pending.id}/`, { token: org.employee.token }),
    );
    expect(await (await fetch(detail.download_url ?? "")).text()).toBe(body);
  });

  it("the uploader can delete a pending attachment; to others it does not exist", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee);
    const origin = await runtimeOrigin();
    const pending = await json<Attachment>(
      await api(`${origin}/api/v1/tasks/${task.id}/attachments/`, {
        token: org.employee.token,
        json: { filename: "draft.bin", size_bytes: 4, content_type: "application/octet-stream" },
      }),
    );
    if (!pending.upload) throw new Error("no upload");
    expect(
      (await fetch(pending.upload.url, { method: "PUT", body: "abcd", headers: pending.upload.headers })).status,
    ).toBe(200);
    const key = await r2Key(pending.id);
    // The task's manager may change its attachments, but this pending one is not theirs to see.
    expect((await api(`/attachments/${pending.id}/`, { method: "DELETE", token: org.manager.token })).status).toBe(404);
    expect((await api(`/attachments/${pending.id}/`, { method: "DELETE", token: org.employee.token })).status).toBe(
      204,
    );
    expect(await testEnv.FILES.head(key)).toBeNull();
    expect(await withDb((db) => db.select().from(taskAttachments).where(eq(taskAttachments.id, pending.id)))).toEqual(
      [],
    );
    const complete = await api(`/attachments/${pending.id}/complete/`, { method: "POST", token: org.employee.token });
    expect(complete.status).toBe(404);
  });

  it("the sweep removes attachments pending over an hour and CSV uploads awaiting their file over a day", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee);
    const origin = await runtimeOrigin();
    const register = async () => {
      const pending = await json<Attachment>(
        await api(`${origin}/api/v1/tasks/${task.id}/attachments/`, {
          token: org.employee.token,
          json: { filename: "later.txt", size_bytes: 3, content_type: "text/plain" },
        }),
      );
      if (!pending.upload) throw new Error("no upload");
      await fetch(pending.upload.url, { method: "PUT", body: "abc", headers: pending.upload.headers });
      return pending.id;
    };
    const [stale, fresh] = [await register(), await register()];
    const form = fileForm(new File(["ready"], "ready.txt"));
    const ready = (
      await json<Attachment>(await api(`/tasks/${task.id}/attachments/`, { token: org.employee.token, body: form }))
    ).id;
    const startUpload = async () => {
      const created = await api(`${origin}/api/v1/csv-data/uploads/`, {
        token: org.employee.token,
        json: { filename: "later.csv", size_bytes: 6 * 1024 * 1024 },
      });
      expect(created.status).toBe(201);
      return json<Upload>(created);
    };
    const [staleUpload, freshUpload, queuedUpload] = [await startUpload(), await startUpload(), await startUpload()];
    // The rule: attachments pending over an hour, uploads awaiting their file over a day.
    expect(PENDING_ATTACHMENT_MAX_AGE_SECONDS).toBe(3600);
    expect(AWAITING_UPLOAD_MAX_AGE_SECONDS).toBe(24 * 3600);

    // Both sides of each threshold, a minute apart; a ready attachment of any age stays.
    const now = Date.now();
    const attachmentAge = (seconds: number) => new Date(now - seconds * 1000);
    await withDb(async (db) => {
      await db
        .update(taskAttachments)
        .set({ createdAt: attachmentAge(PENDING_ATTACHMENT_MAX_AGE_SECONDS + 60) })
        .where(inArray(taskAttachments.id, [stale, ready]));
      await db
        .update(taskAttachments)
        .set({ createdAt: attachmentAge(PENDING_ATTACHMENT_MAX_AGE_SECONDS - 60) })
        .where(eq(taskAttachments.id, fresh));
      await db
        .update(csvUploads)
        .set({ createdAt: attachmentAge(AWAITING_UPLOAD_MAX_AGE_SECONDS + 60) })
        .where(eq(csvUploads.id, staleUpload.id));
      await db
        .update(csvUploads)
        .set({ createdAt: attachmentAge(AWAITING_UPLOAD_MAX_AGE_SECONDS - 60) })
        .where(eq(csvUploads.id, freshUpload.id));
      // Older than a day but no longer awaiting its file (queued for ingestion): not the sweep's.
      await db
        .update(csvUploads)
        .set({ status: "queued", createdAt: attachmentAge(AWAITING_UPLOAD_MAX_AGE_SECONDS + 60) })
        .where(eq(csvUploads.id, queuedUpload.id));
    });
    const staleKey = await r2Key(stale);
    const freshKey = await r2Key(fresh);
    const readyKey = await r2Key(ready);
    expect(await testEnv.FILES.head(staleKey)).not.toBeNull();

    const swept = await withDb((db) => sweepAbandonedUploads(db, testEnv, new Date(now)));
    expect(swept.attachments).toBeGreaterThanOrEqual(1);
    expect(swept.uploads).toBeGreaterThanOrEqual(1);

    const remaining = await withDb((db) =>
      db
        .select({ id: taskAttachments.id })
        .from(taskAttachments)
        .where(inArray(taskAttachments.id, [stale, fresh, ready])),
    );
    expect(remaining.map((row) => row.id).sort()).toEqual([fresh, ready].sort());
    expect(await testEnv.FILES.head(staleKey)).toBeNull();
    expect(await testEnv.FILES.head(freshKey)).not.toBeNull();
    expect(await testEnv.FILES.head(readyKey)).not.toBeNull();

    const statusOf = async (id: string) =>
      (await json<Upload>(await api(`/csv-data/uploads/${id}/`, { token: org.employee.token }))).status;
    expect(await statusOf(staleUpload.id)).toBe("cancelled");
    expect(await statusOf(freshUpload.id)).toBe("awaiting_upload");
    expect(await statusOf(queuedUpload.id)).toBe("queued");
    // The stale multipart upload was aborted: its part URLs lead nowhere; the fresh one's still work.
    const part = new Uint8Array(5 * 1024 * 1024);
    const stalePart = await fetch(staleUpload.upload?.parts[0]?.url ?? "", { method: "PUT", body: part });
    expect(stalePart.status).toBe(404);
    const freshPart = await fetch(freshUpload.upload?.parts[0]?.url ?? "", { method: "PUT", body: part });
    expect(freshPart.status).toBe(200);
    // Leave no upload queued without a file behind for the rest of the suite.
    await withDb((db) => db.update(csvUploads).set({ status: "cancelled" }).where(eq(csvUploads.id, queuedUpload.id)));
  });

  it("413 above the size limit, 415 for other media types, 400 for bad metadata", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee);
    const path = `/tasks/${task.id}/attachments/`;
    const big = fileForm(new File([new Uint8Array(10 * 1024 * 1024 + 1)], "big.bin"));
    const tooLarge = await api(path, { token: org.employee.token, body: big });
    expect(tooLarge.status).toBe(413);
    expect((await json(tooLarge)).detail).toMatch(/at most/);
    expect(
      (await api(path, { token: org.employee.token, body: "x", headers: { "Content-Type": "text/plain" } })).status,
    ).toBe(415);
    for (const bad of [
      { filename: "", size_bytes: 1 },
      { filename: "a", size_bytes: 0 },
      { filename: "a", size_bytes: 1, r2_key: "x" },
    ]) {
      expect((await api(path, { token: org.employee.token, json: bad })).status, JSON.stringify(bad)).toBe(400);
    }
    const noFile = new FormData();
    noFile.append("other", "x");
    expect((await api(path, { token: org.employee.token, body: noFile })).status).toBe(400);
  });

  it("a file of exactly the size limit is stored whole", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee);
    const limit = 10 * 1024 * 1024;
    const form = fileForm(new File([new Uint8Array(limit)], "exact.bin"));
    const created = await api(`/tasks/${task.id}/attachments/`, { token: org.employee.token, body: form });
    expect(created.status).toBe(201);
    const attachment = await json<Attachment>(created);
    expect(attachment.size_bytes).toBe(limit);
    expect((await testEnv.FILES.head(await r2Key(attachment.id)))?.size).toBe(limit);
  });

  it("a presigned upload announces up to 5 GiB, and a media type without parameters or anything around it", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee);
    const path = `/tasks/${task.id}/attachments/`;
    const register = (body: Record<string, unknown>) =>
      api(path, { token: org.employee.token, json: { filename: "f.bin", size_bytes: 1, ...body } });
    expect((await register({ size_bytes: 5 * 1024 ** 3 })).status).toBe(201);
    const over = await register({ size_bytes: 5 * 1024 ** 3 + 1 });
    expect(over.status).toBe(400);
    expect((await json(over)).detail).toMatch(/size_bytes/);
    expect((await register({ content_type: "application/pdf" })).status).toBe(201);
    for (const content_type of ["text/plain; charset=utf-8", "x text/plain", "text/plain x"]) {
      const refused = await register({ content_type });
      expect(refused.status, content_type).toBe(400);
      expect((await json(refused)).detail, content_type).toMatch(/content_type/);
    }
  });

  it("completing refuses an object of another size than announced, larger or smaller", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee);
    for (const stored of ["abcde", "abc"]) {
      const pending = await json<Attachment>(
        await api(`/tasks/${task.id}/attachments/`, {
          token: org.employee.token,
          json: { filename: "four.txt", size_bytes: 4, content_type: "text/plain" },
        }),
      );
      await testEnv.FILES.put(await r2Key(pending.id), stored);
      const done = await api(`/attachments/${pending.id}/complete/`, { method: "POST", token: org.employee.token });
      expect(done.status, stored).toBe(409);
      expect((await api(`/attachments/${pending.id}/`, { token: org.employee.token })).status, stored).toBe(404);
    }
  });
});
