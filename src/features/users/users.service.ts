/**
 * Reading and changing users in the database; who may do what is decided by `users.policy.ts`.
 */
import { asc, eq, or, type SQL } from "drizzle-orm";
import { type Db, PG_FOREIGN_KEY_VIOLATION, pgErrorCode } from "../../platform/db/client.ts";
import { departments, users } from "../../platform/db/schema.ts";
import { countedPage, countOf, type Listing, type PageParams } from "../../platform/http/pagination.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { assertCanChangeUser, canSeeUser, userListScope, type Viewer } from "./users.policy.ts";
import type { UpdateUserInput } from "./users.schemas.ts";
import { toUserResponse, type UserResponse, type UserRow } from "./users.serializer.ts";

/** The rows a viewer's list holds (the policy decides; this turns it into SQL). */
function listScope(viewer: Viewer): SQL | undefined {
  const scope = userListScope(viewer);
  if (scope.kind === "everyone") return undefined;
  return scope.departmentId === null
    ? eq(users.id, scope.selfId)
    : or(eq(users.departmentId, scope.departmentId), eq(users.id, scope.selfId));
}

export async function listUsers(db: Db, viewer: Viewer, params: PageParams): Promise<Listing<UserResponse>> {
  const scope = listScope(viewer);
  const select = db.select().from(users).$dynamic();
  const [total, rows] = await db.batch(countedPage(db, users, scope, select, [asc(users.id)], params));
  return { count: countOf(total), results: rows.map(toUserResponse) };
}

async function visibleUser(db: Db, viewer: Viewer, id: number): Promise<UserRow> {
  const [user] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  if (!user || !canSeeUser(viewer, user)) throw ApiError.notFound("User");
  return user;
}

export async function getVisibleUser(db: Db, viewer: Viewer, id: number): Promise<UserResponse> {
  return toUserResponse(await visibleUser(db, viewer, id));
}

export async function updateUser(db: Db, viewer: Viewer, id: number, input: UpdateUserInput): Promise<UserResponse> {
  const target = await visibleUser(db, viewer, id);
  assertCanChangeUser(viewer, target, input.role);
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
