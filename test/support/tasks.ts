/** Tasks made through the API, and a task write made to roll back, for the task, notification and webhook suites. */
import { sql } from "drizzle-orm";
import { withDb } from "./env.ts";
import { api, json } from "./http.ts";
import type { TestUser } from "./users.ts";

export interface TaskBody {
  id: number;
  title: string;
  status: string;
  priority: string;
  assignees: number[];
  department: number | null;
  creator: number;
  assigned_by: number | null;
  completed_at: string | null;
  due_date: string | null;
  estimate_hours: number | null;
  [key: string]: unknown;
}

export async function makeTask(owner: TestUser, body: Record<string, unknown> = {}): Promise<TaskBody> {
  const response = await api("/tasks/", {
    token: owner.token,
    json: { title: `task ${crypto.randomUUID()}`, ...body },
  });
  if (response.status !== 201) throw new Error(`create failed: ${response.status} ${await response.text()}`);
  return json<TaskBody>(response);
}

/**
 * Runs `work` while every insert into `task_events` whose row matches `when` (SQL about `new`)
 * fails. A task write records its history last in its batch, so the whole write rolls back after
 * everything else it did: the way to prove what a rolled-back write leaves behind. `when` names the
 * test's own task or title, so files running meanwhile are untouched.
 */
export async function whileTaskHistoryFails<T>(when: string, work: () => Promise<T>): Promise<T> {
  const fn = `test_refuse_${crypto.randomUUID().replaceAll("-", "")}`;
  await withDb(async (db) => {
    await db.execute(
      sql.raw(`create function ${fn}() returns trigger language plpgsql as $$
        begin
          if ${when} then raise exception 'refused by test'; end if;
          return new;
        end $$`),
    );
    await db.execute(
      sql.raw(`create trigger ${fn} before insert on task_events for each row execute function ${fn}()`),
    );
  });
  try {
    return await work();
  } finally {
    await withDb(async (db) => {
      await db.execute(sql.raw(`drop trigger ${fn} on task_events`));
      await db.execute(sql.raw(`drop function ${fn}()`));
    });
  }
}
