import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { jobs } from "../../src/platform/db/schema.ts";
import { withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import {
  finished,
  formUpload,
  getUpload,
  type Job,
  jobOf,
  partitionExists,
  startPresignedUpload,
  uploadInProgress,
} from "../support/uploads.ts";
import { createUser } from "../support/users.ts";

const JOB_FIELDS = ["created_at", "error", "id", "message", "metadata", "result_id", "status", "type", "updated_at"];

afterEach(() => {
  vi.restoreAllMocks();
});

describe("jobs", () => {
  it("lists the caller's own jobs newest first as an array, with a status filter and a limit", async () => {
    const user = await createUser();
    const other = await createUser();
    const done = await formUpload(user, "a,b\n1,2\n", "one.csv");
    await finished(user, done.id);
    const waiting1 = await startPresignedUpload(user, 100, "two.csv");
    const waiting2 = await startPresignedUpload(user, 100, "three.csv");
    await startPresignedUpload(other, 100, "others.csv");

    const response = await api("/jobs/", { token: user.token });
    expect(response.status).toBe(200);
    const list = await json<Job[]>(response);
    expect(Array.isArray(list)).toBe(true);
    expect(list.map((job) => job.id)).toEqual([waiting2.job, waiting1.job, done.job]);
    expect(Object.keys(list[0]!).sort()).toEqual(JOB_FIELDS);
    expect(list[2]).toMatchObject({
      type: "csv_ingest",
      status: "completed",
      result_id: done.id,
      error: null,
      metadata: { upload_id: done.id, filename: "one.csv", total_rows: 1 },
    });
    expect(list[0]).toMatchObject({ status: "pending", result_id: waiting2.id });

    const pending = await json<Job[]>(await api("/jobs/?status=pending", { token: user.token }));
    expect(pending.map((job) => job.id)).toEqual([waiting2.job, waiting1.job]);
    const completed = await json<Job[]>(await api("/jobs/?status=completed", { token: user.token }));
    expect(completed.map((job) => job.id)).toEqual([done.job]);
    const limited = await json<Job[]>(await api("/jobs/?limit=1", { token: user.token }));
    expect(limited.map((job) => job.id)).toEqual([waiting2.job]);
  });

  it("defaults to 10 jobs and allows at most 50", async () => {
    const user = await createUser();
    for (let i = 0; i < 11; i++) await startPresignedUpload(user, 100, `f${i}.csv`);
    expect(await json<Job[]>(await api("/jobs/", { token: user.token }))).toHaveLength(10);
    expect(await json<Job[]>(await api("/jobs/?limit=50", { token: user.token }))).toHaveLength(11);
  });

  it.each([
    ["limit=0", "limit"],
    ["limit=51", "limit"],
    ["limit=abc", "limit"],
    ["limit=2.5", "limit"],
    ["status=done", "status"],
    ["status=", "status"],
  ])("answers 400 for %s", async (query, field) => {
    const user = await createUser();
    const response = await api(`/jobs/?${query}`, { token: user.token });
    expect(response.status).toBe(400);
    const body = await json<{ errors: { field: string }[] }>(response);
    expect(body.errors.map((e) => e.field)).toContain(field);
  });

  it("requires authentication", async () => {
    expect((await api("/jobs/")).status).toBe(401);
  });

  it("gets one job; others' jobs and unknown ids are 404, malformed ids 400", async () => {
    const user = await createUser();
    const other = await createUser();
    const upload = await startPresignedUpload(user, 100);
    const response = await api(`/jobs/${upload.job}/`, { token: user.token });
    expect(response.status).toBe(200);
    const job = await json<Job>(response);
    expect(job).toMatchObject({
      id: upload.job,
      status: "pending",
      type: "csv_ingest",
      result_id: upload.id,
      message: "Waiting for the file.",
      error: null,
      metadata: { upload_id: upload.id, filename: "data.csv" },
    });
    expect(Number.isNaN(Date.parse(job.created_at))).toBe(false);
    expect(Number.isNaN(Date.parse(job.updated_at))).toBe(false);
    expect((await api(`/jobs/${upload.job}/`, { token: other.token })).status).toBe(404);
    expect((await api(`/jobs/${upload.job}/cancel/`, { method: "POST", token: other.token })).status).toBe(404);
    expect((await api(`/jobs/${upload.job}/`, { method: "DELETE", token: other.token })).status).toBe(404);
    expect((await api(`/jobs/${crypto.randomUUID()}/`, { token: user.token })).status).toBe(404);
    expect((await api("/jobs/not-a-uuid/", { token: user.token })).status).toBe(400);
    // The other user's attempts changed nothing.
    expect((await jobOf(user, upload)).status).toBe("pending");
  });

  it("cancels a pending job with 202 (its upload ends cancelled), then 409", async () => {
    const user = await createUser();
    const upload = await startPresignedUpload(user, 100);
    const response = await api(`/jobs/${upload.job}/cancel/`, { method: "POST", token: user.token });
    expect(response.status).toBe(202);
    expect(await json<Job>(response)).toMatchObject({ id: upload.job, status: "cancelled", message: "Cancelled." });
    expect((await getUpload(user, upload.id)).status).toBe("cancelled");
    const again = await api(`/jobs/${upload.job}/cancel/`, { method: "POST", token: user.token });
    expect(again.status).toBe(409);
  });

  it("answers 409 to cancelling a completed or failed job and leaves it as it was", async () => {
    const user = await createUser();
    const good = await formUpload(user, "a,b\n1,2\n3,4\n");
    const bad = await formUpload(user, "a,b\n1\n2\n3,4\n");
    await finished(user, good.id);
    await finished(user, bad.id);
    const completed = await api(`/jobs/${good.job}/cancel/`, { method: "POST", token: user.token });
    expect(completed.status).toBe(409);
    expect((await jobOf(user, good)).status).toBe("completed");
    expect((await getUpload(user, good.id)).total_rows).toBe(2);
    const failed = await jobOf(user, bad);
    expect(failed).toMatchObject({ status: "failed", message: "Ingestion failed." });
    expect(failed.error).toMatch(/2 of 3 records were rejected/);
    expect((await api(`/jobs/${bad.job}/cancel/`, { method: "POST", token: user.token })).status).toBe(409);
  });

  it("cancels a running job: its upload stops and ends cancelled, its rows are dropped", {
    timeout: 60_000,
  }, async () => {
    const { user, upload } = await uploadInProgress(2);
    expect((await jobOf(user, upload)).status).toBe("running");
    const response = await api(`/jobs/${upload.job}/cancel/`, { method: "POST", token: user.token });
    expect(response.status).toBe(202);
    expect(await json<Job>(response)).toMatchObject({ status: "cancelled" });
    expect(await getUpload(user, upload.id)).toMatchObject({ status: "cancelled", total_rows: 0 });
    expect(await partitionExists(upload.id)).toBe(false);
  });

  it("deletes an ended job with 204; the upload stays, without a job", async () => {
    const user = await createUser();
    const upload = await formUpload(user, "a,b\n1,2\n");
    await finished(user, upload.id);
    const response = await api(`/jobs/${upload.job}/`, { method: "DELETE", token: user.token });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    expect((await api(`/jobs/${upload.job}/`, { token: user.token })).status).toBe(404);
    expect((await api(`/jobs/${upload.job}/`, { method: "DELETE", token: user.token })).status).toBe(404);
    const after = await getUpload(user, upload.id);
    expect(after).toMatchObject({ status: "completed", total_rows: 1, job: null });
    const listed = await json<Job[]>(await api("/jobs/", { token: user.token }));
    expect(listed.map((job) => job.id)).not.toContain(upload.job);
  });

  it("deleting a running job cancels it first: the upload ends cancelled", { timeout: 60_000 }, async () => {
    const { user, upload } = await uploadInProgress(2);
    const response = await api(`/jobs/${upload.job}/`, { method: "DELETE", token: user.token });
    expect(response.status).toBe(204);
    await withDb(async (db) => {
      expect(await db.select().from(jobs).where(eq(jobs.id, upload.job!))).toHaveLength(0);
    });
    expect(await getUpload(user, upload.id)).toMatchObject({ status: "cancelled", job: null });
    expect(await partitionExists(upload.id)).toBe(false);
  });

  it("masks job ids in its log lines", async () => {
    const lines: string[] = [];
    for (const method of ["log", "warn", "error"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(args.map(String).join(" "));
      });
    }
    const user = await createUser();
    const upload = await startPresignedUpload(user, 100);
    expect((await api(`/jobs/${upload.job}/cancel/`, { method: "POST", token: user.token })).status).toBe(202);
    expect((await api(`/jobs/${upload.job}/`, { method: "DELETE", token: user.token })).status).toBe(204);
    vi.restoreAllMocks();
    const jobLines = lines.filter((line) => line.includes('"job ')); // "job cancelled", "job deleted"
    expect(jobLines).toHaveLength(2);
    expect(jobLines[0]).toContain(`"job":"${upload.job!.slice(0, 4)}…"`);
    expect(lines.some((line) => line.includes(upload.job!))).toBe(false);
  });
});
