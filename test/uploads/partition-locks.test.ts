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
import type { Tx } from "../../src/platform/db/client.ts";
import { eventually, whileHolding, withDb } from "../support/env.ts";
import { api } from "../support/http.ts";
import { finished, finishedUpload, formUpload, partitionExists, sampleCsv } from "../support/uploads.ts";
import { createUser } from "../support/users.ts";

/** The response's status, or "stalled" when it has not come within `ms`. */
async function statusWithin(ms: number, request: Promise<Response>): Promise<number | "stalled"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<"stalled">((resolve) => {
    timer = setTimeout(() => resolve("stalled"), ms);
  });
  try {
    const answer = await Promise.race([request, stalled]);
    return answer === "stalled" ? answer : answer.status;
  } finally {
    clearTimeout(timer);
  }
}

/** A row page of the reader's upload, past every cache. */
function rowPage(reader: { user: { token: string }; upload: { id: string } }): Promise<Response> {
  return api(`/csv-data/uploads/${reader.upload.id}/data/?nocache=1&page_size=5`, { token: reader.user.token });
}

/** Holds a transaction's share lock on `csv_rows`, as a long row page or export does. */
function readingCsvRows(uploadId: string): (tx: Tx) => Promise<void> {
  return async (tx) => {
    await tx.execute(sql`select count(*) from csv_rows where upload_id = ${uploadId}`);
  };
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

/** Whether the partition is attached with its detach left half-way (pending). */
async function detachPending(partition: string): Promise<boolean> {
  const { rows } = await withDb((db) =>
    db.execute<{ pending: boolean | null }>(
      sql`select (select inhdetachpending from pg_inherits where inhrelid = to_regclass(${partition})) as pending`,
    ),
  );
  return rows[0]?.pending === true;
}

describe("partitions come and go without stalling other users' row queries", () => {
  it("while a query reads csv_rows, two uploads are deleted at once and another ingested, and row pages answer throughout", async () => {
    const reader = await finishedUpload(200);
    const doomed = await finishedUpload(50);
    const alsoDoomed = await finishedUpload(50);
    const starter = await createUser();

    let deleting: Promise<Response> | undefined;
    let alsoDeleting: Promise<Response> | undefined;
    await whileHolding(readingCsvRows(reader.upload.id), async () => {
      deleting = api(`/csv-data/uploads/${doomed.upload.id}/`, { method: "DELETE", token: doomed.user.token });
      // The deletion has reached Postgres and waits for the open reader.
      await eventually(() => waitingOn(partitionName(doomed.upload.id)), 15_000);
      // Another user deletes too while the first deletion waits.
      alsoDeleting = api(`/csv-data/uploads/${alsoDoomed.upload.id}/`, {
        method: "DELETE",
        token: alsoDoomed.user.token,
      });
      expect(await statusWithin(10_000, rowPage(reader))).toBe(200);

      // A new upload is planned, partitioned, loaded and settled while the reader stays open.
      const started = await formUpload(starter, sampleCsv(300));
      expect((await finished(starter, started.id, 20_000)).status).toBe("completed");
      expect(await statusWithin(10_000, rowPage(reader))).toBe(200);
    });
    // Once the reader is gone, both deletions finish.
    expect([(await deleting)?.status, (await alsoDeleting)?.status]).toEqual([204, 204]);
    for (const { user, upload } of [doomed, alsoDoomed]) {
      expect(await partitionExists(upload.id)).toBe(false);
      expect((await api(`/csv-data/uploads/${upload.id}/`, { token: user.token })).status).toBe(404);
    }
  });

  it("a detach interrupted half-way is finished by the deletion, which still stalls no row query", async () => {
    const reader = await finishedUpload(100);
    const doomed = await finishedUpload(30);
    const name = partitionName(doomed.upload.id);
    const holdReader = readingCsvRows(reader.upload.id);
    // A concurrent detach commits its first half, waits for the open reader, and is cancelled there.
    await whileHolding(holdReader, async () => {
      const detaching = withDb((db) =>
        db.execute(sql.raw(`alter table csv_rows detach partition "${name}" concurrently`)),
      )
        .then(() => "detached")
        .catch(() => "cancelled");
      await eventually(() => waitingOn(name), 15_000);
      await withDb((db) =>
        db.execute(sql`
          select pg_cancel_backend(pid) from pg_stat_activity
          where wait_event_type = 'Lock' and position(${name} in query) > 0`),
      );
      expect(await detaching).toBe("cancelled");
    });
    expect(await detachPending(name)).toBe(true);

    let deleting: Promise<Response> | undefined;
    await whileHolding(holdReader, async () => {
      deleting = api(`/csv-data/uploads/${doomed.upload.id}/`, { method: "DELETE", token: doomed.user.token });
      await eventually(() => waitingOn(name), 15_000);
      expect(await statusWithin(10_000, rowPage(reader))).toBe(200);
    });
    expect((await deleting)?.status).toBe(204);
    expect(await partitionExists(doomed.upload.id)).toBe(false);
  });
});
