/**
 * The checks `bench:load` runs once the window is over and the ingestion has ended:
 * (a) task counts: what each client knows it created minus deleted = the API's list (uncached and
 *     cached) = Postgres, task ids included;
 * (b) caches: every cached list, detail and report equals its `nocache=1` twin, for every user
 *     (the cached read goes first, so a stale entry left by the load is what gets compared);
 * (c) ingestion: the upload completed with exactly the generated rows, each stored once;
 * (d) reports agree with lists (status report totals = list counts).
 */
import type pg from "pg";
import { integer } from "./bench-stats.ts";
import { parseJson, type Reply, send } from "./load-http.ts";
import type { ClientState } from "./load-mix.ts";
import type { Account, Fixture } from "./load-setup.ts";
import { eachLimit } from "./load-setup.ts";
import type { UploadDetails } from "./upload-client.ts";

export interface Check {
  name: string;
  pass: boolean;
  summary: string;
  failures: string[];
}

async function get(origin: string, account: Account, path: string, accept = "application/json"): Promise<Reply> {
  await account.pacer.take();
  return send(origin, path, { token: account.token, accept });
}

const withNocache = (path: string) => `${path}${path.includes("?") ? "&" : "?"}nocache=1`;

/** JSON with the `nocache` parameter taken out of page links, so twin answers compare equal. */
function normalise(reply: Reply): string {
  if (!(reply.headers.get("Content-Type") ?? "").includes("json")) return reply.text;
  const body = parseJson<Record<string, unknown>>(reply);
  for (const key of ["next", "previous"]) {
    const link = body[key];
    if (typeof link === "string") {
      const url = new URL(link);
      url.searchParams.delete("nocache");
      body[key] = url.toString();
    }
  }
  return JSON.stringify(body);
}

export async function checkTaskCounts(origin: string, db: pg.Client, clients: ClientState[]): Promise<Check> {
  const failures: string[] = [];
  const ids = clients.map((c) => c.account.id);
  const rows = await db.query<{ creator_id: number; ids: number[] }>(
    "select creator_id, array_agg(id order by id) as ids from tasks where creator_id = any($1) and deleted_at is null group by creator_id",
    [ids],
  );
  const inDb = new Map(rows.rows.map((r) => [r.creator_id, r.ids]));
  let expectedTotal = 0;
  let setupTasks = 0;
  let created = 0;
  let deleted = 0;
  await eachLimit(clients, 8, async (client) => {
    const { account } = client;
    const expected = [...client.own.keys()].sort((a, b) => a - b);
    expectedTotal += expected.length;
    setupTasks += expected.length - client.created + client.deleted;
    created += client.created;
    deleted += client.deleted;
    const path = `/tasks/?creator=${account.id}&page_size=1`;
    const cached = await get(origin, account, path);
    const fresh = await get(origin, account, withNocache(path));
    const count = (reply: Reply) =>
      reply.status === 200 ? parseJson<{ count: number }>(reply).count : `HTTP ${reply.status}`;
    const stored = inDb.get(account.id) ?? [];
    const same = stored.length === expected.length && stored.every((id, i) => id === expected[i]);
    const line = `user ${account.id} (${account.role}): expected ${expected.length}, API nocache ${count(fresh)}, API cached ${count(cached)} (X-Cache ${cached.headers.get("X-Cache")}), Postgres ${stored.length}${same ? "" : " (different ids)"}`;
    if (client.uncertain > 0)
      failures.push(`${line}; ${client.uncertain} write(s) got no answer, so expected is a guess`);
    else if (count(fresh) !== expected.length || count(cached) !== expected.length || !same) failures.push(line);
  });
  return {
    name: "(a) task counts per user: created − deleted = API (nocache) = API (cached) = Postgres",
    pass: failures.length === 0,
    summary: `${clients.length} users: ${integer(expectedTotal)} live tasks = ${integer(setupTasks)} from setup + ${integer(created)} created − ${integer(deleted)} deleted in the window`,
    failures,
  };
}

interface Pair {
  account: Account;
  path: string;
  cached: Reply;
  fresh: Reply;
}

/** Every user's cached answers next to their uncached twins. */
export async function readPairs(origin: string, clients: ClientState[]): Promise<Pair[]> {
  const pairs: Pair[] = [];
  await eachLimit(clients, 8, async (client) => {
    const { account } = client;
    const paths: [string, string][] = [
      ["/tasks/", "application/json"],
      ["/tasks/?status=pending&ordering=-priority&page_size=50", "application/json"],
      ["/tasks/?status=completed&page_size=1", "application/json"],
      [`/tasks/?creator=${account.id}&page_size=100&ordering=-updated_at`, "application/json"],
      ["/tasks/my_tasks/", "application/json"],
      ["/reports/task-status/", "application/json"],
      ["/reports/overdue/", "application/json"],
      ["/reports/overdue/", "text/csv"],
      ["/reports/completed-per-day/", "application/json"],
      ["/reports/opened-per-day/", "application/json"],
      ["//user/tasks/get_task_status_report/", "text/csv"],
      ...[...client.own.keys()].slice(-3).map((id): [string, string] => [`/tasks/${id}/`, "application/json"]),
      [`/csv-data/uploads/${client.uploadId}/data/?city=North%20Haven&page_size=20`, "application/json"],
    ];
    for (const [path, accept] of paths) {
      const cached = await get(origin, account, path, accept);
      const fresh = await get(origin, account, withNocache(path), accept);
      pairs.push({ account, path: accept === "text/csv" ? `${path} (CSV)` : path, cached, fresh });
    }
  });
  return pairs;
}

export function checkCaches(pairs: Pair[]): Check {
  const failures: string[] = [];
  let hits = 0;
  for (const { account, path, cached, fresh } of pairs) {
    if (cached.headers.get("X-Cache") === "HIT") hits++;
    const who = `user ${account.id} (${account.role}) ${path}`;
    if (cached.status !== 200 || fresh.status !== 200) {
      failures.push(`${who}: HTTP ${cached.status} cached, ${fresh.status} nocache: ${cached.text.slice(0, 200)}`);
    } else if (normalise(cached) !== normalise(fresh)) {
      failures.push(
        `${who}: cached (X-Cache ${cached.headers.get("X-Cache")}, X-Request-Id ${cached.headers.get("X-Request-Id")}) differs from nocache: ${cached.text.slice(0, 160)} ≠ ${fresh.text.slice(0, 160)}`,
      );
    }
  }
  return {
    name: "(b) caches: every cached list, detail, report and row page = its nocache=1 twin",
    pass: failures.length === 0,
    summary: `${pairs.length} pairs over ${new Set(pairs.map((p) => p.account.id)).size} users; ${hits} cached answers were HITs`,
    failures,
  };
}

/** The status report's totals must match the list's counts over the same (uncached) data. */
export function checkReportsAgree(pairs: Pair[]): Check {
  const failures: string[] = [];
  const byUser = new Map<number, Map<string, Reply>>();
  for (const pair of pairs) {
    const map = byUser.get(pair.account.id) ?? new Map<string, Reply>();
    map.set(pair.path, pair.fresh);
    byUser.set(pair.account.id, map);
  }
  for (const [user, answers] of byUser) {
    const all = answers.get("/tasks/");
    const done = answers.get("/tasks/?status=completed&page_size=1");
    const report = answers.get("/reports/task-status/");
    const legacy = answers.get("//user/tasks/get_task_status_report/ (CSV)");
    if (all?.status !== 200 || done?.status !== 200 || report?.status !== 200 || legacy?.status !== 200) continue;
    const total = parseJson<{ count: number }>(all).count;
    const completed = parseJson<{ count: number }>(done).count;
    const counts = parseJson<{ total_tasks: number; completed_tasks: number; incomplete_tasks: number }>(report);
    const csv = legacy.text.trim().split(/\r?\n/)[1] ?? "";
    const expectedCsv = `${total},${completed},${total - completed}`;
    if (
      counts.total_tasks !== total ||
      counts.completed_tasks !== completed ||
      counts.incomplete_tasks !== total - completed ||
      csv !== expectedCsv
    ) {
      failures.push(
        `user ${user}: list ${total} tasks / ${completed} done; report ${JSON.stringify(counts)}; CSV "${csv}"`,
      );
    }
  }
  return {
    name: "(d) reports agree with lists: task-status (JSON and the original CSV path) = list counts",
    pass: failures.length === 0,
    summary: `${byUser.size} users`,
    failures,
  };
}

export async function checkIngestion(origin: string, db: pg.Client, fixture: Fixture): Promise<Check> {
  const { ingest } = fixture;
  const failures: string[] = [];
  const reply = await get(origin, ingest.owner, `/csv-data/uploads/${ingest.uploadId}/`);
  if (reply.status !== 200) failures.push(`upload details answered ${reply.status}: ${reply.text.slice(0, 200)}`);
  const details = reply.status === 200 ? parseJson<UploadDetails>(reply) : null;
  const stored = await db.query<{ n: string; distinct_rows: string; first: string | null; last: string | null }>(
    "select count(*) as n, count(distinct row_number) as distinct_rows, min(row_number) as first, max(row_number) as last from csv_rows where upload_id = $1",
    [ingest.uploadId],
  );
  const row = stored.rows[0];
  const n = Number(row?.n ?? 0);
  const distinct = Number(row?.distinct_rows ?? 0);
  if (details) {
    if (details.status !== "completed") failures.push(`status ${details.status}: ${details.error ?? ""}`);
    if (details.total_rows !== ingest.rows)
      failures.push(`total_rows ${details.total_rows} ≠ ${ingest.rows} generated`);
    if (details.processed_rows !== ingest.rows)
      failures.push(`processed_rows ${details.processed_rows} ≠ ${ingest.rows}`);
    if (details.error_rows !== 0)
      failures.push(`error_rows ${details.error_rows}: ${JSON.stringify(details.errors.slice(0, 3))}`);
  }
  if (n !== ingest.rows || distinct !== ingest.rows) {
    failures.push(`Postgres holds ${n} rows, ${distinct} distinct row numbers; ${ingest.rows} generated`);
  }
  if (n > 0 && (Number(row?.first) !== 1 || Number(row?.last) !== ingest.rows)) {
    failures.push(`row numbers run ${row?.first}..${row?.last}, expected 1..${ingest.rows}`);
  }
  return {
    name: "(c) ingestion: total_rows = generated rows = distinct rows in Postgres",
    pass: failures.length === 0,
    summary: `status ${details?.status ?? "?"}, total_rows ${integer(details?.total_rows ?? 0)} of ${integer(ingest.rows)} generated; Postgres ${integer(n)} rows, ${integer(distinct)} distinct row numbers (${row?.first ?? "-"}..${row?.last ?? "-"})`,
    failures,
  };
}
