/**
 * Starting or deleting one user's upload never stalls another user's row queries. Each upload's
 * rows are a partition of `csv_rows`; a partition added with `CREATE TABLE … PARTITION OF` or
 * removed with `DROP TABLE` takes the strongest lock on `csv_rows`, which waits for every query
 * already reading it and makes every later one wait behind it. Here a transaction keeps reading
 * `csv_rows` open (as a long row page or export would) while one user deletes an upload and
 * another starts one.
 */
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { partitionName } from "../../src/features/uploads/ingest/partition-name.ts";
import { eventually, whileHolding, withDb } from "../support/env.ts";
import { api } from "../support/http.ts";
import { finished, finishedUpload, formUpload, partitionExists, sampleCsv } from "../support/uploads.ts";
import { createUser } from "../support/users.ts";

/** The response, or "stalled" when it has not come within `ms`. */
async function within(ms: number, request: Promise<Response>): Promise<Response | "stalled"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<"stalled">((resolve) => {
    timer = setTimeout(() => resolve("stalled"), ms);
  });
  try {
    return await Promise.race([request, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether a backend waits on a lock while running a statement that names `partition`. */
async function waitingOn(partition: string): Promise<true | undefined> {
  const { rows } = await withDb((db) =>
    db.execute<{ n: string }>(sql`
      select count(*) as n from pg_stat_activity
      where wait_event_type = 'Lock' and position(${partition} in query) > 0`),
  );
  return Number(rows[0]?.n ?? 0) > 0 ? true : undefined;
}

describe("partitions come and go without stalling other users' row queries", () => {
  it("while a query reads csv_rows, two uploads are deleted at once and another ingested, and row pages answer throughout", async () => {
    const reader = await finishedUpload(200);
    const doomed = await finishedUpload(50);
    const alsoDoomed = await finishedUpload(50);
    const starter = await createUser();
    const page = () =>
      api(`/csv-data/uploads/${reader.upload.id}/data/?nocache=1&page_size=5`, { token: reader.user.token });

    let deleting: Promise<Response> | undefined;
    let alsoDeleting: Promise<Response> | undefined;
    await whileHolding(
      async (tx) => {
        await tx.execute(sql`select count(*) from csv_rows where upload_id = ${reader.upload.id}`);
      },
      async () => {
        deleting = api(`/csv-data/uploads/${doomed.upload.id}/`, { method: "DELETE", token: doomed.user.token });
        // The deletion has reached Postgres and waits for the open reader.
        await eventually(() => waitingOn(partitionName(doomed.upload.id)), 15_000);
        // Another user deletes too while the first deletion waits.
        alsoDeleting = api(`/csv-data/uploads/${alsoDoomed.upload.id}/`, {
          method: "DELETE",
          token: alsoDoomed.user.token,
        });
        const during = await within(5_000, page());
        expect(during === "stalled" ? "stalled" : during.status).toBe(200);

        // A new upload is planned, partitioned, loaded and settled while the reader stays open.
        const started = await formUpload(starter, sampleCsv(300));
        expect((await finished(starter, started.id, 20_000)).status).toBe("completed");
        const after = await within(5_000, page());
        expect(after === "stalled" ? "stalled" : after.status).toBe(200);
      },
    );
    // Once the reader is gone, both deletions finish.
    expect([(await deleting)?.status, (await alsoDeleting)?.status]).toEqual([204, 204]);
    for (const { user, upload } of [doomed, alsoDoomed]) {
      expect(await partitionExists(upload.id)).toBe(false);
      expect((await api(`/csv-data/uploads/${upload.id}/`, { token: user.token })).status).toBe(404);
    }
  });
});
