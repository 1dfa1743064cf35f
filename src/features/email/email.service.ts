/** Queries behind the development outbox: who may read which mail, newest first. */
import { and, eq, or, type SQL, sql } from "drizzle-orm";
import type { Db } from "../../platform/db/client.ts";
import { type EmailTemplate, emailLog, type Role } from "../../platform/db/schema.ts";
import { countedPage, countOf, type Listing, newestFirst, type PageParams } from "../../platform/http/pagination.ts";
import { isCeoOrHr } from "../users/roles.ts";
import type { OutboxEmail } from "./email.schemas.ts";

export interface OutboxViewer {
  id: number;
  email: string;
  role: Role;
}

export interface OutboxFilters {
  template?: EmailTemplate;
  to?: string;
}

/** CEO and HR read every mail; anyone else only mail addressed to them (by user or by address). */
export function canReadAllMail(role: Role): boolean {
  return isCeoOrHr({ role });
}

function visibleTo(viewer: OutboxViewer): SQL | undefined {
  if (canReadAllMail(viewer.role)) return undefined;
  return or(eq(emailLog.toUserId, viewer.id), sql`lower(${emailLog.toAddress}) = ${viewer.email.toLowerCase()}`);
}

export async function listOutbox(
  db: Db,
  viewer: OutboxViewer,
  filters: OutboxFilters,
  page: PageParams,
): Promise<Listing<OutboxEmail>> {
  const where = and(
    visibleTo(viewer),
    filters.template ? eq(emailLog.template, filters.template) : undefined,
    filters.to ? sql`lower(${emailLog.toAddress}) = ${filters.to.toLowerCase()}` : undefined,
  );
  const listed = db
    .select({
      to: emailLog.toAddress,
      subject: emailLog.subject,
      template: emailLog.template,
      body: emailLog.body,
      status: emailLog.status,
      createdAt: emailLog.createdAt,
    })
    .from(emailLog)
    .$dynamic();
  const [total, rows] = await db.batch(countedPage(db, emailLog, where, listed, newestFirst(emailLog), page));
  return {
    count: countOf(total),
    results: rows.map(({ createdAt, ...row }) => ({ ...row, created_at: createdAt.toISOString() })),
  };
}
