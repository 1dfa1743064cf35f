/** Tasks made through the API, and the mail their changes send, for the task and report suites. */
import { eq } from "drizzle-orm";
import { emailLog } from "../../src/platform/db/schema.ts";
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

/** Emails recorded for an address, by template. */
export async function emailsTo(address: string, template?: string): Promise<{ subject: string; template: string }[]> {
  return withDb(async (db) => {
    const rows = await db
      .select({ subject: emailLog.subject, template: emailLog.template })
      .from(emailLog)
      .where(eq(emailLog.toAddress, address));
    return template ? rows.filter((row) => row.template === template) : rows;
  });
}
