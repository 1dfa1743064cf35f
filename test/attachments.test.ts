import { describe, expect, it } from "vitest";
import { api, json, runtimeOrigin, testEnv } from "./helpers.ts";
import { makeOrg, makeTask } from "./tasks-fixtures.ts";

interface Attachment {
  id: number;
  filename: string;
  size_bytes: number;
  status: string;
  upload?: { method: string; url: string; headers: Record<string, string>; expires_at: string };
  download_url?: string;
}

async function r2Key(id: number): Promise<string> {
  const { withDb } = await import("./helpers.ts");
  const { taskAttachments } = await import("../src/db/schema.ts");
  const { eq } = await import("drizzle-orm");
  const [row] = await withDb((db) => db.select().from(taskAttachments).where(eq(taskAttachments.id, id)));
  if (!row) throw new Error("no attachment");
  return row.r2Key;
}

describe("attachments", () => {
  it("multipart upload, listing, presigned download and delete removes the object", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.manager, { assignees: [org.employee.id] });
    const origin = await runtimeOrigin();
    const form = new FormData();
    form.append("file", new File(["hello, attachment"], "notes.txt", { type: "text/plain" }));
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
    const again = new FormData();
    again.append("file", new File(["x"], "x.txt"));
    expect((await api(`/tasks/${task.id}/attachments/`, { token: org.employee.token, body: again })).status).toBe(403);
    expect((await api(`/attachments/${attachment.id}/`, { token: org.outsider.token })).status).toBe(404);

    const detail = await json<Attachment>(
      await api(`${origin}/api/v1/attachments/${attachment.id}/`, { token: org.employee.token }),
    );
    expect(detail.download_url).toMatch(/X-Amz-Signature=/);
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
    const form = new FormData();
    form.append("file", new File(["dot-dot multipart"], "..", { type: "text/plain" }));
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

  it("413 above the size limit, 415 for other media types, 400 for bad metadata", async () => {
    const org = await makeOrg();
    const task = await makeTask(org.employee);
    const path = `/tasks/${task.id}/attachments/`;
    const big = new FormData();
    big.append("file", new File([new Uint8Array(10 * 1024 * 1024 + 1)], "big.bin"));
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
});
