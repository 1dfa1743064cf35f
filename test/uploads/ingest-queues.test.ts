/**
 * Chunk messages and index builds travel on queues of their own. A queue hands its consumer one
 * batch at a time here (as under `wrangler dev`), so each test holds one kind of ingestion work in
 * Postgres and shows that the other kind still runs meanwhile.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { partitionName } from "../../src/features/uploads/ingest/partitions.ts";
import { csvUploadChunks } from "../../src/platform/db/schema.ts";
import { eventually, whileHolding } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import {
  chunkCounts,
  encode,
  finished,
  formUpload,
  indexesReady,
  sampleCsv,
  sendPartsAndComplete,
  startPresignedUpload,
  storedRows,
  type Upload,
  uploadInProgress,
} from "../support/uploads.ts";
import { createUser } from "../support/users.ts";

describe("ingestion queues", () => {
  it("an upload's first chunks are ingested while its planning message is still running", {
    timeout: 90_000,
  }, async () => {
    const user = await createUser();
    // 60,000 rows, about 9 MB: over a hundred 64 KiB chunks, handed out by the planner four at a time.
    const bytes = encode(sampleCsv(60_000));
    const upload = await startPresignedUpload(user, bytes.length);

    // An uncommitted row for chunk 12 makes the planner's insert of the batch holding chunk 12 wait
    // (ON CONFLICT must know whether this row commits), so planning stops there, mid-file, while the
    // chunks of the batches before it are already queued.
    await whileHolding(
      async (tx) => {
        await tx.insert(csvUploadChunks).values({
          uploadId: upload.id,
          chunkIndex: 12,
          byteStart: 0,
          byteEnd: 0,
          firstRowNumber: 1,
          firstLine: 1,
        });
      },
      async () => {
        const completed = await sendPartsAndComplete(user, upload, bytes);
        expect(completed.status).toBe(202);
        // Planning is stuck before chunk 12, yet the chunks it queued get ingested.
        const counts = await eventually(async () => {
          const now = await chunkCounts(upload.id);
          return now.done >= 8 ? now : undefined;
        }, 20_000);
        expect(counts.planned).toBeLessThanOrEqual(12);
        expect((await json<Upload>(await api(`/csv-data/uploads/${upload.id}/`, { token: user.token }))).status).toBe(
          "processing",
        );
      },
    );

    // Released: the planner's insert goes through with the real chunk, and the upload completes whole.
    const done = await finished(user, upload.id, 60_000);
    expect(done).toMatchObject({ status: "completed", total_rows: 60_000, processed_rows: 60_000, error_rows: 0 });
    expect(await storedRows(upload.id)).toEqual({ n: 60_000, distinct: 60_000 });
  });

  it("an index build in progress does not hold back another upload's ingestion", { timeout: 90_000 }, async () => {
    const { user, upload: first } = await uploadInProgress(2);
    const details = async (id: string) =>
      json<Upload & { indexes_ready: boolean }>(await api(`/csv-data/uploads/${id}/`, { token: user.token }));

    // ROW EXCLUSIVE on the first upload's partition lets its chunks insert, but its index build
    // (CREATE INDEX takes SHARE) waits until this transaction ends.
    await whileHolding(
      async (tx) => {
        await tx.execute(sql`lock table ${sql.identifier(partitionName(first.id))} in row exclusive mode`);
      },
      async () => {
        expect((await finished(user, first.id, 60_000)).status).toBe("completed");
        const second = await formUpload(user, sampleCsv(3000));
        expect(await finished(user, second.id, 30_000)).toMatchObject({ status: "completed", total_rows: 3000 });
        expect((await details(first.id)).indexes_ready).toBe(false);
      },
    );

    // Released: the first upload's build goes on and its indexes become ready.
    expect((await indexesReady(user, first.id, 60_000)).indexes_ready).toBe(true);
  });
});
