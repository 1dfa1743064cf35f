/**
 * Leaks through collections: lists (items and totals), search and filters, reports, the audit
 * trail, uploads, jobs and the outbox, and the caches in front of them. For every user of the
 * world the answer must be exactly what the API's rules let that user see (the oracle of
 * `access-fixtures.ts`), and a page cached for one user is never served to another.
 *
 * Lists are narrowed to the world by a tag in every task title, since other suites add tasks to the
 * same database. Admins see every suite's rows, so their totals are checked against Postgres itself,
 * counted right before and after the request (retried until nothing else changed in between).
 */

import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ATTACHMENT_KEYS,
  ATTACHMENT_SPECS,
  buildWorld,
  COMMENT_KEYS,
  COMMENT_SPECS,
  isAdmin,
  TASK_KEYS,
  TASK_SPECS,
  type TaskKey,
  taskRight,
  USER_KEYS,
  USER_SPECS,
  type UserKey,
  uploadsOf,
  visibleTaskKeys,
  type World,
} from "../support/access-fixtures.ts";
import { eventually, withDb } from "../support/env.ts";
import { api, json } from "../support/http.ts";

interface Page<T = { id: number }> {
  count: number;
  next: string | null;
  results: T[];
}

let world: World;
beforeAll(async () => {
  world = await buildWorld();
}, 60_000);

const token = (u: UserKey) => world.users[u].token;
const ids = (keys: readonly TaskKey[]) => keys.map((k) => world.tasks[k]).sort((a, b) => a - b);
const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

/** One number from Postgres (`select … as n`). */
async function countInDb(query: ReturnType<typeof sql>): Promise<number> {
  const result = await withDb((db) => db.execute<{ n: number | string }>(query));
  return Number(result.rows[0]?.n);
}

/**
 * What the API answered and what Postgres held at that moment: `inDb` is read before and after
 * `answer`, and the pair is kept only when both reads agree (other suites write to the same tables).
 * `stamp`, when given, must agree too: it tells writes apart that leave the count as it was (a
 * task created and deleted while the answer was read).
 */
async function againstDb<T>(
  inDb: () => Promise<number>,
  answer: () => Promise<T>,
  stamp: () => Promise<string> = async () => "",
): Promise<{ expected: number; answered: T }> {
  return eventually(
    async () => {
      const [before, stampBefore] = [await inDb(), await stamp()];
      const answered = await answer();
      const [after, stampAfter] = [await inDb(), await stamp()];
      return before === after && stampBefore === stampAfter ? { expected: before, answered } : undefined;
    },
    20_000,
    50,
  );
}

/** Changes with every task created, changed or deleted. */
async function tasksStamp(): Promise<string> {
  const result = await withDb((db) =>
    db.execute<{ stamp: string }>(
      sql`select coalesce(max(id), 0) || ':' || coalesce(max(updated_at)::text, '') as stamp from tasks`,
    ),
  );
  return String(result.rows[0]?.stamp);
}

async function page(user: UserKey, path: string, headers: Record<string, string> = {}) {
  const response = await api(path, { token: token(user), headers });
  expect(response.status, `${user} GET ${path}`).toBe(200);
  return { cache: response.headers.get("X-Cache"), body: await json<Page>(response) };
}

describe.concurrent("task lists: items and totals", () => {
  for (const user of USER_KEYS) {
    it(`${user}: /tasks/ shows exactly the visible tasks, and the count says so on every page size`, async ({
      expect,
    }) => {
      const visible = ids(visibleTaskKeys(user));
      const full = await page(user, `/tasks/?search=${world.tag}&page_size=100`);
      expect(sorted(full.body.results.map((t) => t.id))).toEqual(visible);
      expect(full.body.count).toBe(visible.length);
      const one = await page(user, `/tasks/?search=${world.tag}&page_size=1`);
      expect(one.body.count).toBe(visible.length);
      expect(one.body.results.length).toBe(Math.min(1, visible.length));
    });

    it(`${user}: /tasks/my_tasks/ shows exactly the visible tasks assigned to them`, async ({ expect }) => {
      const mine = TASK_KEYS.filter((k) => TASK_SPECS[k].assignees.includes(user) && taskRight(user, k) !== "none");
      const listed = await page(user, `/tasks/my_tasks/?search=${world.tag}&page_size=100`);
      expect(sorted(listed.body.results.map((t) => t.id))).toEqual(ids(mine));
      expect(listed.body.count).toBe(mine.length);
      // Asking for someone else's assignments is no way around it.
      const other = await page(user, `/tasks/my_tasks/?assigned_to=${world.users.empB.id}&search=${world.tag}`);
      expect(other.body.count).toBe(user === "empB" ? mine.length : 0);
    });

    it(`${user}: search and every filter stay inside what they may see`, async ({ expect }) => {
      const visible = visibleTaskKeys(user);
      const secret = await page(user, `/tasks/?search=${world.secret}`);
      expect(secret.body.count).toBe(visible.includes("tB") ? 1 : 0);

      const u = world.users;
      const filters: [string, (k: TaskKey) => boolean][] = [
        [`department=${world.departments.B}`, (k) => TASK_SPECS[k].department === "B"],
        [`department=${world.departments.A}`, (k) => TASK_SPECS[k].department === "A"],
        [`creator=${u.empB.id}`, (k) => TASK_SPECS[k].creator === "empB"],
        [`creator=${u.ceo.id}`, (k) => TASK_SPECS[k].creator === "ceo"],
        [`assigned_to=${u.empB.id}`, (k) => TASK_SPECS[k].assignees.includes("empB")],
        [`assigned_to=${u.empNone.id}`, (k) => TASK_SPECS[k].assignees.includes("empNone")],
        ["status=completed", (k) => TASK_SPECS[k].done],
        ["status=pending", (k) => !TASK_SPECS[k].done],
        [`due_before=${new Date().toISOString()}`, (k) => TASK_SPECS[k].overdue],
      ];
      for (const [filter, matches] of filters) {
        const listed = await page(user, `/tasks/?search=${world.tag}&${filter}&page_size=100`);
        const expected = ids(visible.filter(matches));
        expect(sorted(listed.body.results.map((t) => t.id)), filter).toEqual(expected);
        expect(listed.body.count, filter).toBe(expected.length);
      }
    });
  }
});

describe.concurrent("reports count only visible tasks", () => {
  const jsonAccept = { Accept: "application/json" };
  const today = new Date().toISOString().slice(0, 10);

  for (const user of USER_KEYS) {
    it(`${user}: task-status, overdue and per-day reports`, async ({ expect }) => {
      const visible = visibleTaskKeys(user);
      const done = visible.filter((k) => TASK_SPECS[k].done).length;
      const overdue = ids(visible.filter((k) => TASK_SPECS[k].overdue && !TASK_SPECS[k].done));

      const status = await json<{ total_tasks: number; completed_tasks: number; incomplete_tasks: number }>(
        await api("/reports/task-status/", { token: token(user), headers: jsonAccept }),
      );
      const csv = await api("http://api.test/user/tasks/get_task_status_report/", { token: token(user) });
      const [, counts] = (await csv.text()).trim().split(/\r?\n/);
      const overdueRows = await json<{ results: { id: number; assignees: number[] }[] }>(
        await api("/reports/overdue/", { token: token(user), headers: jsonAccept }),
      );
      const perDay = async (kind: string) => {
        const body = await json<{ results: { date: string; count: number }[] }>(
          await api(`/reports/${kind}-per-day/?from=${today}&to=${today}`, { token: token(user), headers: jsonAccept }),
        );
        return body.results[0]?.count ?? -1;
      };
      const opened = await perDay("opened");
      const completed = await perDay("completed");
      const worldOverdue = sorted(overdueRows.results.map((r) => r.id)).filter((id) => ids(TASK_KEYS).includes(id));

      if (isAdmin(user)) {
        // Admins see every suite's tasks: all of the world's are there, and the totals are every
        // live task in the database (see againstDb).
        expect(worldOverdue).toEqual(overdue);
        expect(opened).toBeGreaterThanOrEqual(visible.length);
        expect(completed).toBeGreaterThanOrEqual(done);
        // Straight from the database: another file's write commits before it invalidates every
        // CEO's and HR's cache (it does so before answering its writer), so a cached total may
        // trail the table by the writes still between the two.
        const { expected, answered } = await againstDb(
          () => countInDb(sql`select count(*)::int as n from tasks where deleted_at is null`),
          async () =>
            (
              await json<{ total_tasks: number; completed_tasks: number; incomplete_tasks: number }>(
                await api("/reports/task-status/?nocache=1", { token: token(user), headers: jsonAccept }),
              )
            ).total_tasks,
          tasksStamp,
        );
        expect(answered).toBe(expected);
        expect(status.total_tasks - status.completed_tasks).toBe(status.incomplete_tasks);
        return;
      }
      expect(status).toEqual({
        total_tasks: visible.length,
        completed_tasks: done,
        incomplete_tasks: visible.length - done,
      });
      expect(counts).toBe(`${visible.length},${done},${visible.length - done}`);
      expect(sorted(overdueRows.results.map((r) => r.id))).toEqual(overdue);
      expect(opened).toBe(visible.length);
      expect(completed).toBe(done);
    });
  }
});

describe.concurrent("the assignment audit trail: CEO and HR read every record, others those to or by them, managers those of their department's tasks", () => {
  /** The audit rows the world made: one per assignee of a task created with assignees. */
  const rows = TASK_KEYS.filter((k) => !TASK_SPECS[k].deleted).flatMap((k) =>
    TASK_SPECS[k].assignees.map((to) => ({ task: k, to, by: TASK_SPECS[k].creator })),
  );
  const mayRead = (user: UserKey, row: (typeof rows)[number]) => {
    if (isAdmin(user)) return true;
    if (row.to === user || row.by === user) return true;
    const department = USER_SPECS[user].department;
    return USER_SPECS[user].role === "manager" && department !== null && TASK_SPECS[row.task].department === department;
  };

  for (const user of USER_KEYS) {
    it(`${user}: /task-assignments/ lists exactly the records they may read`, async ({ expect }) => {
      for (const taskKey of TASK_KEYS) {
        const listed = await json<Page<{ task: number; assigned_to: number }>>(
          await api(`/task-assignments/?task=${world.tasks[taskKey]}&page_size=100`, { token: token(user) }),
        );
        const expected = rows.filter((r) => r.task === taskKey && mayRead(user, r)).map((r) => world.users[r.to].id);
        expect(sorted(listed.results.map((r) => r.assigned_to)), taskKey).toEqual(sorted(expected));
        expect(listed.count, taskKey).toBe(expected.length);
      }
    });
  }
});

describe.concurrent("users, uploads, jobs, outbox, comments and attachments lists", () => {
  for (const user of USER_KEYS) {
    it(`${user}: /users/ follows the role (everyone, own department, or 403)`, async ({ expect }) => {
      const response = await api("/users/?page_size=100", { token: token(user) });
      const role = USER_SPECS[user].role;
      if (role === "employee") {
        expect(response.status).toBe(403);
        return;
      }
      expect(response.status).toBe(200);
      const listed = await json<Page>(response);
      if (role === "manager") {
        const department = USER_SPECS[user].department;
        const members = USER_KEYS.filter((k) => k === user || USER_SPECS[k].department === department);
        expect(sorted(listed.results.map((u) => u.id))).toEqual(sorted(members.map((k) => world.users[k].id)));
        expect(listed.count).toBe(members.length);
      } else {
        // CEO and HR list every user: as many as Postgres holds.
        const { expected, answered } = await againstDb(
          () => countInDb(sql`select count(*)::int as n from users`),
          async () => (await json<Page>(await api("/users/?page_size=1", { token: token(user) }))).count,
        );
        expect(answered).toBe(expected);
        expect(listed.count).toBeGreaterThanOrEqual(USER_KEYS.length);
      }
    });

    it(`${user}: uploads and jobs lists hold only their own`, async ({ expect }) => {
      const ownUploads = uploadsOf(user).map((k) => world.uploads[k]);
      const uploads = await json<Page<{ id: string }>>(
        await api("/csv-data/uploads/?page_size=100", { token: token(user) }),
      );
      expect(uploads.results.map((u) => u.id).sort()).toEqual([...ownUploads].sort());
      expect(uploads.count).toBe(ownUploads.length);

      // A fresh user's only jobs are their uploads' jobs.
      const ownJobs = uploadsOf(user).map((k) => world.uploadJobs[k]);
      const jobs = await json<{ id: string }[]>(await api("/jobs/?limit=50", { token: token(user) }));
      expect(jobs.map((j) => j.id).sort()).toEqual([...ownJobs].sort());
    });

    it(`${user}: the outbox shows only their mail unless CEO or HR`, async ({ expect }) => {
      const outbox = await json<Page<{ to: string }>>(await api("/dev/outbox/?page_size=100", { token: token(user) }));
      if (isAdmin(user)) {
        // CEO and HR read every mail: as many as Postgres holds, and each world user's own.
        const { expected, answered } = await againstDb(
          () => countInDb(sql`select count(*)::int as n from email_log`),
          async () => (await json<Page>(await api("/dev/outbox/?page_size=1", { token: token(user) }))).count,
        );
        expect(answered).toBe(expected);
        for (const other of USER_KEYS) {
          const address = world.users[other].email;
          const theirs = await json<Page<{ to: string }>>(
            await api(`/dev/outbox/?to=${encodeURIComponent(address)}`, { token: token(user) }),
          );
          const inDb = await countInDb(
            sql`select count(*)::int as n from email_log where lower(to_address) = ${address.toLowerCase()}`,
          );
          expect(inDb, other).toBeGreaterThan(0);
          expect(theirs.count, other).toBe(inDb);
        }
        return;
      }
      const own = world.users[user].email.toLowerCase();
      expect(outbox.count).toBeGreaterThan(0);
      expect(outbox.results.filter((m) => m.to.toLowerCase() !== own)).toEqual([]);
    });

    it(`${user}: comment and attachment lists show exactly the task's own items, never pending attachments`, async ({
      expect,
    }) => {
      const visible = visibleTaskKeys(user);
      // The world has comments and ready attachments on tasks this user sees (or none at all for
      // a user who sees none of them): the checks below compare whole sets, never an empty "every".
      for (const taskKey of visible) {
        const id = world.tasks[taskKey];
        const comments = await json<Page<{ id: number; task: number }>>(
          await api(`/tasks/${id}/comments/`, { token: token(user) }),
        );
        const wantComments = COMMENT_KEYS.filter((k) => COMMENT_SPECS[k].task === taskKey).map(
          (k) => world.comments[k],
        );
        expect(comments.results.map((c) => c.id).sort(), taskKey).toEqual(wantComments.sort());
        expect(comments.results.every((c) => c.task === id)).toBe(true);
        const attachments = await json<{ results: { id: number; task: number; status: string }[] }>(
          await api(`/tasks/${id}/attachments/`, { token: token(user) }),
        );
        const wantAttachments = ATTACHMENT_KEYS.filter(
          (k) => ATTACHMENT_SPECS[k].task === taskKey && !ATTACHMENT_SPECS[k].pending,
        ).map((k) => world.attachments[k]);
        expect(attachments.results.map((a) => a.id).sort(), taskKey).toEqual(wantAttachments.sort());
        expect(attachments.results.every((a) => a.task === id && a.status === "ready")).toBe(true);
      }
    });
  }

  it("the world gives those list checks something to see", () => {
    const withItems = new Set([
      ...COMMENT_KEYS.map((k) => COMMENT_SPECS[k].task),
      ...ATTACHMENT_KEYS.filter((k) => !ATTACHMENT_SPECS[k].pending).map((k) => ATTACHMENT_SPECS[k].task),
    ]);
    for (const user of ["ceo", "empA", "empB", "empNone"] as const) {
      expect(
        visibleTaskKeys(user).some((task) => withItems.has(task)),
        user,
      ).toBe(true);
    }
  });
});

describe("caches never serve one user's page to another", () => {
  const read = async (user: UserKey, path: string, headers: Record<string, string> = {}) => {
    const response = await api(path, { token: token(user), headers });
    return { status: response.status, cache: response.headers.get("X-Cache"), text: await response.text() };
  };

  it("task list: A's MISS then HIT; B with the same query gets B's own page (its own MISS, then HIT)", async () => {
    const path = `/tasks/?search=${world.tag}&ordering=priority&page_size=50`;
    for (const user of ["empA", "empB", "mgrA", "ceo", "empNone"] as const) {
      const first = await read(user, path);
      const second = await read(user, path);
      expect([first.cache, second.cache], user).toEqual(["MISS", "HIT"]);
      expect(second.text, user).toBe(first.text);
      const body = JSON.parse(second.text) as Page;
      expect(sorted(body.results.map((t) => t.id)), user).toEqual(ids(visibleTaskKeys(user)));
    }
  });

  it("task detail: a page cached for a reader is never served to someone who may not read it", async () => {
    const path = `/tasks/${world.tasks.tB}/`;
    await read("ceo", path);
    expect((await read("ceo", path)).cache).toBe("HIT");
    for (const user of USER_KEYS) {
      const response = await read(user, path);
      expect(response.status, user).toBe(taskRight(user, "tB") === "none" ? 404 : 200);
    }
  });

  it("reports: each user's cached report is their own", async () => {
    const headers = { Accept: "application/json" };
    const seen = new Map<UserKey, string>();
    for (const user of ["mgrA", "mgrB", "empA", "empNone"] as const) {
      const first = await read(user, "/reports/overdue/", headers);
      const second = await read(user, "/reports/overdue/", headers);
      expect(second.cache, user).toBe("HIT");
      expect(second.text, user).toBe(first.text);
      const rows = (JSON.parse(second.text) as { results: { id: number }[] }).results.map((r) => r.id);
      const expected = ids(visibleTaskKeys(user).filter((k) => TASK_SPECS[k].overdue && !TASK_SPECS[k].done));
      expect(sorted(rows), user).toEqual(expected);
      seen.set(user, second.text);
    }
    // The four users see different overdue sets, so a shared cache entry would have shown here.
    expect(new Set(seen.values()).size).toBe(4);
  });

  it("csv rows: the owner's cached page is never served to anyone else, CEO included", async () => {
    const path = `/csv-data/uploads/${world.uploads.uEmpA}/data/?page_size=2&sort_by=-id`;
    expect((await read("empA", path)).status).toBe(200);
    expect((await read("empA", path)).cache).toBe("HIT");
    for (const user of USER_KEYS.filter((u) => u !== "empA")) {
      const response = await read(user, path);
      expect(response.status, user).toBe(404);
      expect(response.cache, user).toBeNull();
    }
  });
});
