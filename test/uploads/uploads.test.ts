import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { partitionName } from "../../src/features/uploads/ingest/partitions.ts";
import { SEARCH_INDEX_PARTS } from "../../src/features/uploads/ingest/search-index.ts";
import { csvUploadChunks, jobs } from "../../src/platform/db/schema.ts";
import { emailsTo } from "../support/email.ts";
import { testEnv, withDb } from "../support/env.ts";
import { api, json, runtimeOrigin } from "../support/http.ts";
import { encode, finished, indexesReady, presignedUpload, sampleCsv, type Upload } from "../support/uploads.ts";
import { createUser } from "../support/users.ts";

describe("CSV uploads", () => {
  it("ingests a multi-part presigned upload end to end with exact counts, types and emails", {
    timeout: 120_000,
  }, async () => {
    const user = await createUser();
    // Larger than the 16 MiB part size so the file really travels as two parts; the 64 KiB test
    // chunks cut it into hundreds of chunks, many boundaries landing near quoted newlines.
    const text = sampleCsv(150_000, { typed: true });
    const bytes = encode(text);
    expect(bytes.length).toBeGreaterThan(16 * 1024 * 1024);
    const { upload, completed } = await presignedUpload(user, bytes);
    expect(upload.status).toBe("awaiting_upload");
    expect(upload.upload?.parts.length).toBe(Math.ceil(bytes.length / upload.upload!.part_size));
    expect(upload.upload?.parts.length).toBeGreaterThan(1);
    expect(completed.status).toBe(202);
    const accepted = await json<Upload>(completed);
    // Column statistics come once the upload has completed.
    expect(accepted.columns).toEqual([
      { key: "id", name: "id", type: "integer", stats: null },
      { key: "name", name: "Name", type: "string", stats: null },
      { key: "amount", name: "Amount", type: "number", stats: null },
      { key: "active", name: "Active", type: "boolean", stats: null },
      { key: "joined", name: "Joined", type: "date", stats: null },
      { key: "note", name: "Note", type: "string", stats: null },
    ]);

    // A bound on waiting, not a speed check: hundreds of 64 KiB chunks on a loaded 2-core machine.
    const done = await finished(user, upload.id, 90_000);
    expect(done).toMatchObject({ status: "completed", total_rows: 150_000, processed_rows: 150_000, error_rows: 0 });
    await withDb(async (db) => {
      const table = sql.identifier(partitionName(upload.id));
      const [stats] = (
        await db.execute<{ n: string; distinct_rows: string; max: string }>(
          sql`select count(*) as n, count(distinct row_number) as distinct_rows, max(row_number) as max from ${table}`,
        )
      ).rows;
      expect(stats).toEqual({ n: "150000", distinct_rows: "150000", max: "150000" });
      const [row] = (await db.execute<{ data: unknown[] }>(sql`select data from ${table} where row_number = 7000`))
        .rows;
      // Row 7000 has a quoted newline, comma and quotes; its id proves row numbers follow the file.
      // Stored as its values in column order.
      expect(row?.data).toEqual([7000, "Person 7000", 10500, true, "2026-01-01", 'multi\nline, "quoted" 7000']);
      const chunks = await db.select().from(csvUploadChunks).where(eq(csvUploadChunks.uploadId, upload.id));
      expect(chunks.length).toBeGreaterThan(50);
      const [job] = await db.select().from(jobs).where(eq(jobs.id, upload.job!));
      expect(job).toMatchObject({ type: "csv_ingest", status: "completed", resultId: upload.id });
      const mails = await emailsTo(user.email, "upload_completed");
      expect(mails).toHaveLength(1);
      expect(mails[0]?.body).toContain("Rows stored: 150000");
    });

    // Once completed, the upload's query indexes are built in the background: the primary key, a
    // B-tree per column but the free-text note (120+ characters, column 5), and the search index's
    // parts. Listed once the upload says they are ready, whichever of them was built last.
    await indexesReady(user, upload.id, 60_000);
    const indexes = await withDb(async (db) => {
      const result = await db.execute<{ indexname: string }>(
        sql`select indexname from pg_indexes where tablename = ${partitionName(upload.id)} order by indexname`,
      );
      return result.rows.map((r) => r.indexname.replace(/^cr_[0-9a-f]{32}_/, ""));
    });
    expect(indexes).toEqual(
      expect.arrayContaining([
        "k0",
        "k1",
        "k2",
        "k3",
        "k4",
        ...Array.from({ length: SEARCH_INDEX_PARTS }, (_, i) => `trgm${i}`),
      ]),
    );
    expect(indexes).not.toContain("k5");
    expect(indexes).toHaveLength(1 + 5 + SEARCH_INDEX_PARTS);
    // ...and the rows answer typed queries end to end.
    const found = await api(
      `/csv-data/uploads/${upload.id}/data/?filter[amount][gte]=10500&filter[amount][lt]=10503&sort_by=-id`,
      {
        token: user.token,
      },
    );
    expect(found.status).toBe(200);
    const page = await json<{ count: number; results: { row_number: number; data: { id: number } }[] }>(found);
    expect(page.count).toBe(2);
    expect(page.results.map((r) => [r.row_number, r.data.id])).toEqual([
      [7001, 7001],
      [7000, 7000],
    ]);
    const progress = await json(await api(`/csv-data/uploads/${upload.id}/progress/`, { token: user.token }));
    expect(progress).toMatchObject({
      status: "completed",
      percent: 100,
      processed_rows: 150_000,
      total_bytes: bytes.length,
    });
  });

  it("counts bad records with their lines and keeps the good ones", async () => {
    const user = await createUser();
    const text = 'a,b\n1,x\n2\n\nnope,y\n4,"z\nz"\n5,w\n6\n';
    const { upload, completed } = await presignedUpload(user, encode(text));
    expect(completed.status).toBe(202);
    const done = await finished(user, upload.id);
    // 6 records (the empty line is skipped), 2 rejected: 33% is above the 10% default, so the
    // upload fails with the reason. Line 9 proves the quoted newline counted as a physical line.
    expect(done.status).toBe("failed");
    expect(done.error).toMatch(/2 of 6 records were rejected/);
    expect(done.errors).toEqual([
      { line: 3, reason: "expected 2 fields, found 1" },
      { line: 9, reason: "expected 2 fields, found 1" },
    ]);
    expect(done).toMatchObject({ processed_rows: 6, error_rows: 2, total_rows: 0 });
    expect(await emailsTo(user.email, "upload_failed")).toHaveLength(1);
  });

  it.each([
    ["an empty file", new Uint8Array(0), /empty/],
    ["no header", encode("\n1,2\n"), /no header/],
    ["binary content", new Uint8Array([0x61, 0x2c, 0x62, 0x0a, 0x00, 0x01]), /binary/],
    ["not UTF-8", new Uint8Array([0x61, 0x2c, 0x62, 0x0a, 0xff, 0xfe, 0x0a]), /UTF-8/],
    ["duplicate columns", encode("Name,name\n1,2\n"), /both become 'name'/],
    ["empty column names", encode("a,,b\n1,2,3\n"), /no usable name/],
  ])("rejects %s with 422, status rejected and the object deleted", async (_, bytes, reason) => {
    const user = await createUser();
    const form = new FormData();
    form.set("file", new File([bytes], "bad.csv", { type: "text/csv" }));
    const response = await api("/csv-data/uploads/", { token: user.token, body: form });
    expect(response.status).toBe(422);
    expect((await json(response)).detail).toMatch(reason);
    const [listed] = (await json<{ results: Upload[] }>(await api("/csv-data/uploads/", { token: user.token })))
      .results;
    expect(listed?.status).toBe("rejected");
    expect(await testEnv.FILES.head(`csv-uploads/${listed?.id}`)).toBeNull();
    await withDb(async (db) => {
      const [job] = await db.select().from(jobs).where(eq(jobs.id, listed!.job!));
      expect(job?.status).toBe("failed");
    });
  });

  it("rejects a declared size that does not match the stored object", async () => {
    const user = await createUser();
    const origin = await runtimeOrigin();
    const created = await json<Upload>(
      await api(`${origin}/api/v1/csv-data/uploads/`, {
        token: user.token,
        json: { filename: "a.csv", size_bytes: 100 },
      }),
    );
    const put = await fetch(created.upload!.parts[0]!.url, { method: "PUT", body: "a,b\n1,2\n" });
    const completed = await api(`/csv-data/uploads/${created.id}/complete/`, {
      token: user.token,
      json: { parts: [{ part_number: 1, etag: put.headers.get("ETag") }] },
    });
    expect(completed.status).toBe(422);
    expect((await json(completed)).detail).toMatch(/declared 100 bytes but 8/);
  });

  it("accepts a small multipart/form-data upload with 202 and a header-only file completes with 0 rows", async () => {
    const user = await createUser();
    const form = new FormData();
    form.set("file", new File(["\uFEFFcol A;col B\r\n"], "empty.csv", { type: "text/csv" }));
    const response = await api("/csv-data/uploads/", { token: user.token, body: form });
    expect(response.status).toBe(202);
    const body = await json<Upload>(response);
    expect(body.columns.map((c) => c.key)).toEqual(["col_a", "col_b"]);
    const done = await finished(user, body.id);
    expect(done).toMatchObject({ status: "completed", total_rows: 0 });
  });

  it("other users' uploads are 404", async () => {
    const owner = await createUser();
    const other = await createUser();
    const form = new FormData();
    form.set("file", new File(["a\n1\n"], "one.csv"));
    const { id } = await json<Upload>(await api("/csv-data/uploads/", { token: owner.token, body: form }));
    expect((await api(`/csv-data/uploads/${id}/`, { token: other.token })).status).toBe(404);
    expect((await api(`/csv-data/uploads/${id}/`, { method: "DELETE", token: other.token })).status).toBe(404);
  });
});
