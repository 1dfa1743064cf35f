/**
 * Who may see and change which user. Visibility: CEO and HR see everyone, a manager sees their
 * department, everyone sees themselves. Changing role or department is for CEO and HR only, with
 * two guards against privilege games: HR cannot make (or unmake) a CEO, and nobody changes their
 * own role.
 */
import { asc, count, eq, or, type SQL } from "drizzle-orm";
import { type Db, PG_FOREIGN_KEY_VIOLATION, pgErrorCode } from "../db/client.ts";
import { departments, type Role, users } from "../db/schema.ts";
import { ApiError } from "../lib/errors.ts";
import { type PageParams, pageWindow } from "../lib/pagination.ts";
import type { AuthUser } from "../types.ts";
import { isCeoOrHr } from "./roles.ts";
import type { UpdateUserInput } from "./users.schemas.ts";
import { toUserResponse, type UserResponse, type UserRow } from "./users.serializer.ts";

export type Viewer = Pick<AuthUser, "id" | "role" | "departmentId">;

export function canSeeUser(viewer: Viewer, target: Pick<UserRow, "id" | "departmentId">): boolean {
  if (isCeoOrHr(viewer) || viewer.id === target.id) return true;
  return viewer.role === "manager" && viewer.departmentId !== null && viewer.departmentId === target.departmentId;
}

/** The rows a viewer may list, or null when listing users is not theirs to do at all. */
function listScope(viewer: Viewer): SQL | undefined | null {
  if (isCeoOrHr(viewer)) return undefined;
  if (viewer.role !== "manager") return null;
  return viewer.departmentId === null
    ? eq(users.id, viewer.id)
    : or(eq(users.departmentId, viewer.departmentId), eq(users.id, viewer.id));
}

export async function listUsers(
  db: Db,
  viewer: Viewer,
  params: PageParams,
): Promise<{ count: number; results: UserResponse[] }> {
  const scope = listScope(viewer);
  if (scope === null) throw ApiError.forbidden("Only CEO, HR and managers can list users.");
  const { limit, offset } = pageWindow(params);
  const [rows, totals] = await db.batch([
    db.select().from(users).where(scope).orderBy(asc(users.id)).limit(limit).offset(offset),
    db.select({ value: count() }).from(users).where(scope),
  ]);
  return { count: totals[0]?.value ?? 0, results: rows.map(toUserResponse) };
}

async function visibleUser(db: Db, viewer: Viewer, id: number): Promise<UserRow> {
  const [user] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  if (!user || !canSeeUser(viewer, user)) throw ApiError.notFound("User");
  return user;
}

export async function getVisibleUser(db: Db, viewer: Viewer, id: number): Promise<UserResponse> {
  return toUserResponse(await visibleUser(db, viewer, id));
}

function checkRoleChange(viewer: Viewer, target: UserRow, role: Role | undefined): void {
  if (role === undefined || role === target.role) return;
  if (target.id === viewer.id) throw ApiError.forbidden("You cannot change your own role.");
  if (viewer.role !== "ceo" && (role === "ceo" || target.role === "ceo")) {
    throw ApiError.forbidden("Only the CEO can grant or remove the CEO role.");
  }
}

export async function updateUser(db: Db, viewer: Viewer, id: number, input: UpdateUserInput): Promise<UserResponse> {
  const target = await visibleUser(db, viewer, id);
  if (!isCeoOrHr(viewer)) throw ApiError.forbidden("Only CEO and HR can change a user's role or department.");
  checkRoleChange(viewer, target, input.role);
  if (input.department !== undefined && input.department !== null) {
    const [department] = await db
      .select({ id: departments.id })
      .from(departments)
      .where(eq(departments.id, input.department))
      .limit(1);
    if (!department) throw ApiError.invalidParameter("department", "no department has this id");
  }
  let updated: UserRow | undefined;
  try {
    [updated] = await db
      .update(users)
      .set({
        ...(input.role !== undefined ? { role: input.role } : {}),
        ...(input.department !== undefined ? { departmentId: input.department } : {}),
        updatedAt: new Date(),
      })
      .where(eq(users.id, target.id))
      .returning();
  } catch (error) {
    // The department was deleted between the check and the update.
    if (pgErrorCode(error) === PG_FOREIGN_KEY_VIOLATION) {
      throw ApiError.invalidParameter("department", "no department has this id");
    }
    throw error;
  }
  if (!updated) throw ApiError.notFound("User");
  return toUserResponse(updated);
}
