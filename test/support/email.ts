/** The mail the API recorded in its outbox (`email_log`), read straight from Postgres. */
import { eq } from "drizzle-orm";
import { emailLog } from "../../src/platform/db/schema.ts";
import { withDb } from "./env.ts";

export type RecordedEmail = typeof emailLog.$inferSelect;

/** Emails recorded for an address, every template or only `template`'s. */
export async function emailsTo(address: string, template?: string): Promise<RecordedEmail[]> {
  const rows = await withDb((db) => db.select().from(emailLog).where(eq(emailLog.toAddress, address)));
  return template ? rows.filter((row) => row.template === template) : rows;
}
