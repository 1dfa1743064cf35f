/**
 * The traffic of `bench:load`: each client is one user running a weighted mix of operations in a
 * loop until the deadline. Writes touch only tasks the client created itself, so every client
 * knows exactly which of its tasks exist; that makes two checks possible while the load runs:
 * - read-your-writes: after a write, the cached task detail must show it (a deleted task 404s);
 * - the cached list of the client's own tasks (`creator=<me>`) must count exactly its live tasks.
 * A failed check is an anomaly (a stale cache or a lost write), reported apart from HTTP errors.
 */
import { CITIES } from "./csv-generator.ts";
import { type Pacer, parseJson, type Recorder, type Reply, type SendOptions, send } from "./load-http.ts";
import { type Account, assignable, type Fixture, taskBody } from "./load-setup.ts";

interface OwnTask {
  assignees: Set<number>;
  /** Created inside the window: only these are deleted, so setup tasks stay readable by others. */
  fresh: boolean;
}

export interface ClientState {
  account: Account;
  own: Map<number, OwnTask>;
  /**
   * Setup tasks of other users this one may read by role or department (never deleted, so always
   * 200). Not those it reads as an assignee: their creators may unassign it during the window.
   */
  readable: number[];
  uploadId: string;
  cursor: string | null;
  created: number;
  deleted: number;
  /** A write whose outcome is unknown (no answer): exact counts are no longer known. */
  uncertain: number;
}

export interface LoadContext {
  origin: string;
  recorder: Recorder;
  fixture: Fixture;
  /** Share of writes followed at once by a cached read of the written task. */
  checkRate: number;
  ingestPacer: Pacer;
}

interface TaskJson {
  id: number;
  title: string;
  status: string;
  updated_at: string;
  assignees: number[];
}

type Op = {
  name: string;
  weight: number;
  /** Whether the op can run for this client now (e.g. delete needs a task created in the window). */
  ready?: (ctx: LoadContext, client: ClientState) => boolean;
  run: (ctx: LoadContext, client: ClientState) => Promise<void>;
};

const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)] as T;
const chance = (p: number) => Math.random() < p;

export function clientStates(fixture: Fixture): ClientState[] {
  return fixture.accounts.map((account) => {
    const own = new Map<number, OwnTask>();
    const readable: number[] = [];
    for (const task of fixture.setupTasks) {
      if (task.creator === account.id) own.set(task.id, { assignees: new Set(task.assignees), fresh: false });
      else if (
        account.role === "ceo" ||
        account.role === "hr" ||
        (account.role === "manager" && task.departmentId !== null && task.departmentId === account.departmentId)
      ) {
        readable.push(task.id);
      }
    }
    return {
      account,
      own,
      readable,
      uploadId: fixture.uploads.get(account.id) ?? "",
      cursor: null,
      created: 0,
      deleted: 0,
      uncertain: 0,
    };
  });
}

/** One measured request as `account` (paced under its rate limit; the wait is not timed). */
async function call(
  ctx: LoadContext,
  account: Account,
  op: string,
  path: string,
  expected: readonly number[],
  options: SendOptions = {},
): Promise<{ reply: Reply; ok: boolean }> {
  await account.pacer.take();
  const reply = await send(ctx.origin, path, { ...options, token: account.token });
  return { reply, ok: ctx.recorder.record(op, path, reply, expected) };
}

const requestId = (reply: Reply) => reply.headers.get("X-Request-Id") ?? "-";
const cacheOf = (reply: Reply) => reply.headers.get("X-Cache") ?? "-";

/** After a write: the cached detail must already show it (a cached read is fresh on the very next read after a write). */
async function readBack(
  ctx: LoadContext,
  client: ClientState,
  id: number,
  write: string,
  expect: (task: TaskJson) => string | null,
): Promise<void> {
  if (!chance(ctx.checkRate)) return;
  const op = "tasks.detail.after-write";
  const { reply, ok } = await call(ctx, client.account, op, `/tasks/${id}/`, [200]);
  if (!ok) return;
  const problem = expect(parseJson<TaskJson>(reply));
  if (problem) {
    ctx.recorder.anomaly(
      op,
      `after ${write} of task ${id}: ${problem} (X-Cache ${cacheOf(reply)}, X-Request-Id ${requestId(reply)})`,
    );
  }
}

function ownIds(client: ClientState, fresh = false): number[] {
  return [...client.own].filter(([, t]) => !fresh || t.fresh).map(([id]) => id);
}

function listQuery(client: ClientState): string {
  const params = new URLSearchParams();
  if (chance(0.4)) params.set("status", pick(["todo", "in_progress", "done", "pending", "completed"]));
  if (chance(0.25)) params.set("priority", pick(["low", "medium", "high", "critical"]));
  if (chance(0.5)) params.set("ordering", pick(["due_date", "-due_date", "priority", "-priority", "-updated_at"]));
  if (chance(0.1)) params.set("search", "load");
  if (chance(0.1)) params.set("assigned_to", "me");
  if (chance(0.1)) params.set("due_before", new Date().toISOString().slice(0, 10));
  if (client.account.role === "manager" && client.account.departmentId !== null && chance(0.2)) {
    params.set("department", String(client.account.departmentId));
  }
  params.set("page_size", String(pick([10, 20, 20, 50])));
  params.set("page", String(pick([1, 1, 1, 2, 3])));
  return params.toString();
}

/** Row queries over the client's own small upload (10 typed columns from csv-generator.ts). */
function dataFilter(): Record<string, string> {
  const low = Math.floor(Math.random() * 9000);
  return pick<Record<string, string>>([
    { city: pick(CITIES) },
    { "filter[amount][gte]": String(low), "filter[amount][lt]": String(low + 1000) },
    { active: "true" },
    { "filter[quantity][in]": "1,2,3,4,5" },
    { "filter[signup_date][gte]": "2020-01-01", "filter[name][contains]": pick(["ada", "grace", "turing", "knuth"]) },
    {},
  ]);
}

const dataPath = (client: ClientState, params: Record<string, string>) => {
  const query = new URLSearchParams(params);
  // One read in five skips the cache, so Postgres is queried too, not only KV.
  if (chance(0.2)) query.set("nocache", "1");
  return `/csv-data/uploads/${client.uploadId}/data/?${query}`;
};

export const OPS: readonly Op[] = [
  {
    name: "tasks.list",
    weight: 18,
    run: async (ctx, client) => {
      await call(ctx, client.account, "tasks.list", `/tasks/?${listQuery(client)}`, [200]);
    },
  },
  {
    name: "tasks.list.own",
    weight: 6,
    run: async (ctx, client) => {
      const path = `/tasks/?creator=${client.account.id}&page_size=5`;
      const { reply, ok } = await call(ctx, client.account, "tasks.list.own", path, [200]);
      if (!ok || client.uncertain > 0) return;
      const count = parseJson<{ count: number }>(reply).count;
      if (count !== client.own.size) {
        ctx.recorder.anomaly(
          "tasks.list.own",
          `user ${client.account.id} (${client.account.role}) has ${client.own.size} live tasks; the list counts ${count} (X-Cache ${cacheOf(reply)}, X-Request-Id ${requestId(reply)})`,
        );
      }
    },
  },
  {
    name: "tasks.my",
    weight: 4,
    run: async (ctx, client) => {
      await call(ctx, client.account, "tasks.my", `/tasks/my_tasks/?page_size=${pick([10, 20])}`, [200]);
    },
  },
  {
    name: "tasks.detail",
    weight: 10,
    ready: (_ctx, client) => client.own.size + client.readable.length > 0,
    run: async (ctx, client) => {
      const id = chance(0.5) && client.readable.length > 0 ? pick(client.readable) : pick(ownIds(client));
      await call(ctx, client.account, "tasks.detail", `/tasks/${id}/`, [200]);
    },
  },
  {
    name: "reports.status",
    weight: 3,
    run: async (ctx, client) => {
      await call(ctx, client.account, "reports.status", "/reports/task-status/", [200]);
    },
  },
  {
    name: "reports.status.csv",
    weight: 2,
    run: async (ctx, client) => {
      // The original report path, outside /api/v1, kept for clients of the task tracker this API replaces.
      await call(ctx, client.account, "reports.status.csv", "//user/tasks/get_task_status_report/", [200], {
        accept: "text/csv",
      });
    },
  },
  {
    name: "reports.overdue",
    weight: 3,
    run: async (ctx, client) => {
      await call(ctx, client.account, "reports.overdue", "/reports/overdue/", [200], {
        accept: chance(0.7) ? "application/json" : "text/csv",
      });
    },
  },
  {
    name: "reports.per-day",
    weight: 3,
    run: async (ctx, client) => {
      const kind = pick(["completed", "opened"]);
      const range = chance(0.5)
        ? ""
        : `?from=${new Date(Date.now() - 6 * 86_400_000).toISOString().slice(0, 10)}&to=${new Date().toISOString().slice(0, 10)}`;
      await call(ctx, client.account, "reports.per-day", `/reports/${kind}-per-day/${range}`, [200]);
    },
  },
  {
    name: "tasks.create",
    weight: 8,
    run: async (ctx, client) => {
      const body = taskBody(client.account, ctx.fixture.accounts, "Load", chance(0.35));
      const { reply, ok } = await call(ctx, client.account, "tasks.create", "/tasks/", [201], { json: body });
      if (!ok) {
        if (reply.status === 0 || reply.status >= 500) client.uncertain++;
        return;
      }
      const task = parseJson<TaskJson>(reply);
      client.own.set(task.id, { assignees: new Set(task.assignees), fresh: true });
      client.created++;
      await readBack(ctx, client, task.id, "create", (seen) =>
        seen.updated_at === task.updated_at ? null : `updated_at ${seen.updated_at}, expected ${task.updated_at}`,
      );
    },
  },
  {
    name: "tasks.update",
    weight: 6,
    ready: (_ctx, client) => client.own.size > 0,
    run: async (ctx, client) => {
      const id = pick(ownIds(client));
      const body = pick<Record<string, unknown>>([
        { priority: pick(["low", "medium", "high", "critical"]) },
        { title: `Load edited ${crypto.randomUUID().slice(0, 8)}` },
        { status: pick(["todo", "in_progress"]) },
        { due_date: new Date(Date.now() + (Math.random() - 0.3) * 20 * 86_400_000).toISOString() },
        { description: "edited under load", estimate_hours: "8.00" },
      ]);
      const { reply, ok } = await call(ctx, client.account, "tasks.update", `/tasks/${id}/`, [200], {
        method: "PATCH",
        json: body,
      });
      if (!ok) return;
      const task = parseJson<TaskJson>(reply);
      await readBack(ctx, client, id, "update", (seen) =>
        seen.updated_at === task.updated_at && seen.title === task.title && seen.status === task.status
          ? null
          : `shows updated_at ${seen.updated_at} "${seen.title}" ${seen.status}, the update answered ${task.updated_at} "${task.title}" ${task.status}`,
      );
    },
  },
  {
    name: "tasks.complete",
    weight: 2,
    ready: (_ctx, client) => client.own.size > 0,
    run: async (ctx, client) => {
      const id = pick(ownIds(client));
      const { ok } = await call(ctx, client.account, "tasks.complete", `/tasks/${id}/complete/`, [200], {
        method: "POST",
      });
      if (ok)
        await readBack(ctx, client, id, "complete", (seen) =>
          seen.status === "done" ? null : `status ${seen.status}`,
        );
    },
  },
  {
    name: "tasks.assign",
    weight: 2,
    ready: (_ctx, client) => client.own.size > 0,
    run: async (ctx, client) => {
      const id = pick(ownIds(client));
      const task = client.own.get(id);
      const target = pick(assignable(client.account, ctx.fixture.accounts));
      if (!task || target === undefined) return;
      const action = task.assignees.has(target) ? "unassign" : "assign";
      const { reply, ok } = await call(ctx, client.account, "tasks.assign", `/tasks/${id}/${action}/`, [200], {
        json: { assignees: [target] },
      });
      if (!ok) return;
      task.assignees = new Set(parseJson<{ assignees: number[] }>(reply).assignees);
      const expected = [...task.assignees].sort((a, b) => a - b).join(",");
      await readBack(ctx, client, id, action, (seen) =>
        seen.assignees.join(",") === expected ? null : `assignees [${seen.assignees}], expected [${expected}]`,
      );
    },
  },
  {
    name: "tasks.delete",
    weight: 3,
    ready: (_ctx, client) => ownIds(client, true).length > 0,
    run: async (ctx, client) => {
      const id = pick(ownIds(client, true));
      const { reply, ok } = await call(ctx, client.account, "tasks.delete", `/tasks/${id}/`, [204], {
        method: "DELETE",
      });
      if (!ok) {
        if (reply.status === 0 || reply.status >= 500) client.uncertain++;
        return;
      }
      client.own.delete(id);
      client.deleted++;
      if (!chance(ctx.checkRate)) return;
      const op = "tasks.detail.after-delete";
      const after = await call(ctx, client.account, op, `/tasks/${id}/`, [404]);
      if (after.reply.status === 200) {
        ctx.recorder.anomaly(
          op,
          `deleted task ${id} still served (X-Cache ${cacheOf(after.reply)}, X-Request-Id ${requestId(after.reply)})`,
        );
      }
    },
  },
  {
    name: "comments.create",
    weight: 3,
    ready: (_ctx, client) => client.own.size > 0,
    run: async (ctx, client) => {
      const id = pick(ownIds(client));
      await call(ctx, client.account, "comments.create", `/tasks/${id}/comments/`, [201], {
        json: { content: `load comment ${crypto.randomUUID().slice(0, 8)}` },
      });
    },
  },
  {
    name: "comments.list",
    weight: 2,
    ready: (_ctx, client) => client.own.size > 0,
    run: async (ctx, client) => {
      await call(ctx, client.account, "comments.list", `/tasks/${pick(ownIds(client))}/comments/`, [200]);
    },
  },
  {
    name: "data.page",
    weight: 5,
    run: async (ctx, client) => {
      const params = { ...dataFilter(), page: String(pick([1, 1, 2, 3])), page_size: "50" };
      await call(ctx, client.account, "data.page", dataPath(client, params), [200]);
    },
  },
  {
    name: "data.cursor",
    weight: 4,
    run: async (ctx, client) => {
      // Walks the upload page by page; a new walk starts after the last page.
      const params: Record<string, string> = { pagination: "cursor", page_size: "100" };
      if (client.cursor) params.cursor = client.cursor;
      const { reply, ok } = await call(ctx, client.account, "data.cursor", dataPath(client, params), [200]);
      client.cursor = ok ? parseJson<{ next_cursor: string | null }>(reply).next_cursor : null;
    },
  },
  {
    name: "data.sort",
    weight: 3,
    run: async (ctx, client) => {
      const params = {
        ...dataFilter(),
        sort_by: pick(["-amount", "signup_date", "-last_seen", "name", "city"]),
        columns: "id,name,amount,city,signup_date",
        page_size: "50",
        ...(chance(0.5) ? { pagination: "cursor" } : {}),
      };
      await call(ctx, client.account, "data.sort", dataPath(client, params), [200]);
    },
  },
  {
    name: "data.search",
    weight: 2,
    run: async (ctx, client) => {
      const params = { search: pick(["lovelace", "hopper", "north", "tempor", "müller"]), page_size: "20" };
      await call(ctx, client.account, "data.search", dataPath(client, params), [200]);
    },
  },
  {
    name: "ingest.progress",
    weight: 3,
    // The ingestion belongs to one user (uploads are private), whose budget all clients share.
    ready: (ctx) => ctx.ingestPacer.hasRoom(),
    run: async (ctx) => {
      const { ingest } = ctx.fixture;
      if (!ctx.ingestPacer.tryTake()) return;
      const reply = await send(ctx.origin, `/csv-data/uploads/${ingest.uploadId}/progress/`, {
        token: ingest.owner.token,
      });
      ctx.recorder.record("ingest.progress", `/csv-data/uploads/${ingest.uploadId}/progress/`, reply, [200]);
    },
  },
];

function choose(ctx: LoadContext, client: ClientState): Op {
  const ready = OPS.filter((op) => !op.ready || op.ready(ctx, client));
  let r = Math.random() * ready.reduce((sum, op) => sum + op.weight, 0);
  for (const op of ready) {
    r -= op.weight;
    if (r < 0) return op;
  }
  return ready[0] as Op;
}

/** One client: operations back to back until the deadline (an op started before it finishes). */
export async function runClient(ctx: LoadContext, client: ClientState, deadline: number): Promise<void> {
  while (Date.now() < deadline) await choose(ctx, client).run(ctx, client);
}
