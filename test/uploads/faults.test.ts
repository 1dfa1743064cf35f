/**
 * Fault injection: the database goes away in the middle of an ingestion — while the planner
 * records chunks, inside a chunk's insert transaction, and as the outcome is persisted. The relay
 * between workerd and Postgres cuts the connection at that statement and keeps the upload's
 * traffic from the database for a few seconds (scripts/lib/relay.ts, `RelayFault`; the request
 * path's SQL-over-HTTP endpoint has the same, `SqlOverHttpFault`); the rest of
 * the suite keeps its database. Every upload must recover through the queue's retries with
 * exactly its rows: none lost, none twice, one email.
 */
import { describe, expect, it } from "vitest";
import { partitionName } from "../../src/features/uploads/ingest/partitions.ts";
import { emailsTo } from "../support/email.ts";
import { eventually, testEnv } from "../support/env.ts";
import { api, json } from "../support/http.ts";
import { chunkCounts, completedJob, finished, formUpload, sampleCsv, storedRows } from "../support/uploads.ts";
import { createUser, type TestUser } from "../support/users.ts";

interface Fault {
  trigger: string[];
  skip?: number;
  scope: string;
  outageMs: number;
}

/** Arms a fault on one of the two ways the Worker reaches Postgres (ingestion: the relay). */
async function injectFault(fault: Fault, path: "relay" | "sql-over-http" = "relay"): Promise<number> {
  const response = await fetch(`${testEnv.TEST_SUPPORT_URL}/${path}/faults`, {
    method: "POST",
    body: JSON.stringify(fault),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: number }).id;
}

async function faultState(id: number): Promise<{ fired: boolean; cut: number }> {
  return (await (await fetch(`${testEnv.TEST_SUPPORT_URL}/relay/faults/${id}`)).json()) as {
    fired: boolean;
    cut: number;
  };
}

const ROWS = 30_000;

/**
 * A new user's upload of ROWS records, with a 3 s relay outage armed at the statement `trigger` names
 * (after `skip` matching ones) for that upload's traffic alone.
 */
async function uploadWithFault(trigger: (uploadId: string) => string[], skip?: number) {
  const user = await createUser();
  const upload = await formUpload(user, sampleCsv(ROWS));
  const fault = await injectFault({ trigger: trigger(upload.id), skip, scope: upload.id, outageMs: 3000 });
  return { user, upload, fault };
}

/** The upload ended completed with every row exactly once, its job too, and one email. */
async function expectExactlyIngested(user: TestUser, uploadId: string): Promise<void> {
  const done = await finished(user, uploadId, 80_000);
  expect(done).toMatchObject({ status: "completed", total_rows: ROWS, processed_rows: ROWS, error_rows: 0 });
  expect(await storedRows(uploadId)).toEqual({ n: ROWS, distinct: ROWS });
  const chunks = await chunkCounts(uploadId);
  expect(chunks.done).toBe(chunks.planned);
  await completedJob(user, done);
  const mails = await emailsTo(user.email, "upload_completed");
  expect(mails).toHaveLength(1);
}

describe("fault injection: the database unreachable during an ingestion", () => {
  it("while the planner records chunks: planning is retried and the upload completes exactly", {
    timeout: 100_000,
  }, async () => {
    // The third batch of chunk records: some chunks are queued (and maybe ingested) already.
    const { user, upload, fault } = await uploadWithFault((id) => ['insert into "csv_upload_chunks"', id], 2);
    await eventually(async () => ((await faultState(fault)).fired ? true : undefined), 30_000, 20);

    // Meanwhile the API, which reads over HTTP, cannot reach the database for this upload either:
    // it answers the upload's owner with a 503 and a sentence, not a 500.
    await injectFault({ trigger: [upload.id], scope: upload.id, outageMs: 500 }, "sql-over-http");
    const during = await api(`/csv-data/uploads/${upload.id}/`, { token: user.token });
    expect(during.status).toBe(503);
    expect(await json(during)).toEqual({ detail: "The database is unavailable; try again shortly." });

    await expectExactlyIngested(user, upload.id);
    expect((await faultState(fault)).cut).toBeGreaterThan(1);
  });

  it("inside a chunk's insert transaction: the chunk is rolled back, retried, and stored once", {
    timeout: 100_000,
  }, async () => {
    const { user, upload, fault } = await uploadWithFault((id) => [`insert into "${partitionName(id)}"`], 3);
    await expectExactlyIngested(user, upload.id);
    expect((await faultState(fault)).fired).toBe(true);
  });

  it("as the completed outcome is persisted: persisted again on retry, one email", { timeout: 100_000 }, async () => {
    const { user, upload, fault } = await uploadWithFault((id) => [
      'update "csv_uploads" set "status"',
      id,
      "completed",
    ]);
    await expectExactlyIngested(user, upload.id);
    expect((await faultState(fault)).fired).toBe(true);
  });

  it("a chunk commits but cannot report its errors before the upload ends: the outcome keeps them, none is lost", {
    timeout: 100_000,
  }, async () => {
    const user = await createUser();
    // Every 1000th record has a field too many (record 2000, three); no record spans lines, so
    // record i is on line i + 1.
    const lines = ["id,name,amount,note"];
    for (let i = 1; i <= ROWS; i++) {
      const extra = i === 2000 ? "extra,more,most" : "extra";
      lines.push(i % 1000 === 0 ? `${i},Person ${i},${i},bad,${extra}` : `${i},Person ${i},${i},${"x".repeat(100)}`);
    }
    const upload = await formUpload(user, `${lines.join("\n")}\n`);
    const TOO_MANY = '{"line":2001,"reason":"expected 4 fields, found 7"}';
    // The chunk holding line 2001 commits, then cannot report its errors (to Postgres, and so not
    // to the progress object either) for longer than the other chunks take to finish the upload:
    // its retries find the upload ended and report nothing. The outage covers only statements
    // carrying that error, so the rest of the upload proceeds.
    const fault = await injectFault({
      trigger: ['update "csv_uploads" set "errors"', upload.id, TOO_MANY],
      scope: TOO_MANY,
      outageMs: 60_000,
    });
    const done = await finished(user, upload.id, 80_000);
    expect((await faultState(fault)).fired).toBe(true);
    const bad = ROWS / 1000;
    expect(done).toMatchObject({ status: "completed", total_rows: ROWS - bad, processed_rows: ROWS, error_rows: bad });
    expect(done.errors).toEqual(
      Array.from({ length: bad }, (_, k) => ({
        line: (k + 1) * 1000 + 1,
        reason: `expected 4 fields, found ${k === 1 ? 7 : 5}`,
      })),
    );
    expect(await storedRows(upload.id)).toEqual({ n: ROWS - bad, distinct: ROWS - bad });
  });
});
