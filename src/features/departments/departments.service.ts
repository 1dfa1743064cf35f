/**
 * Departments in the database; who may read and change them is `departments.policy.ts`. Names
 * are unique case-insensitively (a unique index on `lower(name)` enforces it, so two concurrent
 * creates cannot both win).
 * Deleting a department leaves its users and tasks without one (`ON DELETE SET NULL`).
 */
import { asc, eq, sql } from "drizzle-orm";
import type { AuthUser } from "../../platform/context/types.ts";
import { type Db, PG_FOREIGN_KEY_VIOLATION, PG_UNIQUE_VIOLATION, pgErrorCode } from "../../platform/db/client.ts";
import { insertedRow } from "../../platform/db/rows.ts";
import { departments, users } from "../../platform/db/schema.ts";
import { countedPage, countOf, type Listing, type PageParams } from "../../platform/http/pagination.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { taskReaders } from "../tasks/tasks.policy.ts";
import { assertCanManageDepartments } from "./departments.policy.ts";
import type { CreateDepartmentInput, DepartmentResponse, UpdateDepartmentInput } from "./departments.schemas.ts";

type DepartmentRow = typeof departments.$inferSelect;

function toResponse(row: DepartmentRow): DepartmentResponse {
  return {
    id: row.id,
    name: row.name,
    manager: row.managerId,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

const unknownManager = () => ApiError.invalidParameter("manager", "no user has this id");

async function checkManager(db: Db, managerId: number | null | undefined): Promise<void> {
  if (managerId === undefined || managerId === null) return;
  const [user] = await db.select({ id: users.id }).from(users).where(eq(users.id, managerId)).limit(1);
  if (!user) throw unknownManager();
}

/** Maps the constraint violations a write can hit (a race past the checks above) to client errors. */
function writeError(error: unknown): unknown {
  const code = pgErrorCode(error);
  if (code === PG_UNIQUE_VIOLATION) {
    return new ApiError(409, "A department with this name already exists.", {
      errors: [{ field: "name", message: "already exists" }],
    });
  }
  if (code === PG_FOREIGN_KEY_VIOLATION) return unknownManager();
  return error;
}

export async function listDepartments(db: Db, params: PageParams): Promise<Listing<DepartmentResponse>> {
  const select = db.select().from(departments).$dynamic();
  const [total, rows] = await db.batch(countedPage(db, departments, undefined, select, [asc(departments.id)], params));
  return { count: countOf(total), results: rows.map(toResponse) };
}

async function findDepartment(db: Db, id: number): Promise<DepartmentRow> {
  const [row] = await db.select().from(departments).where(eq(departments.id, id)).limit(1);
  if (!row) throw ApiError.notFound("Department");
  return row;
}

export async function getDepartment(db: Db, id: number): Promise<DepartmentResponse> {
  return toResponse(await findDepartment(db, id));
}

export async function createDepartment(
  db: Db,
  viewer: Pick<AuthUser, "role">,
  input: CreateDepartmentInput,
): Promise<DepartmentResponse> {
  assertCanManageDepartments(viewer);
  await checkManager(db, input.manager);
  try {
    const row = insertedRow(
      await db
        .insert(departments)
        .values({ name: input.name, managerId: input.manager ?? null })
        .returning(),
    );
    return toResponse(row);
  } catch (error) {
    throw writeError(error);
  }
}

export async function updateDepartment(
  db: Db,
  viewer: Pick<AuthUser, "role">,
  id: number,
  input: UpdateDepartmentInput,
): Promise<DepartmentResponse> {
  await findDepartment(db, id);
  assertCanManageDepartments(viewer);
  await checkManager(db, input.manager);
  try {
    const [row] = await db
      .update(departments)
      .set({
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.manager !== undefined ? { managerId: input.manager } : {}),
        updatedAt: new Date(),
      })
      .where(eq(departments.id, id))
      .returning();
    if (!row) throw ApiError.notFound("Department");
    return toResponse(row);
  } catch (error) {
    throw writeError(error);
  }
}

/** Who a department's deletion changes things for. */
export interface DepartmentDeletion {
  /** Its members: their own department becomes none. */
  memberIds: number[];
  /** Everyone who can see one of its tasks, whose `department` becomes null. */
  viewerIds: number[];
}

/**
 * Deletes a department. Its members and tasks are left without one, so the answer says whose
 * account and whose view of tasks changed; both are read in the same transaction as the delete.
 */
export async function deleteDepartment(
  db: Db,
  viewer: Pick<AuthUser, "role">,
  id: number,
): Promise<DepartmentDeletion> {
  await findDepartment(db, id);
  assertCanManageDepartments(viewer);
  const [members, viewers] = await db.batch([
    db.select({ id: users.id }).from(users).where(eq(users.departmentId, id)),
    db.execute<{ id: number }>(
      sql`select id from (${taskReaders(sql`t.department_id = ${id}`)}) readers where id is not null`,
    ),
    db.delete(departments).where(eq(departments.id, id)),
  ]);
  return {
    memberIds: members.map((row) => row.id),
    viewerIds: viewers.rows.map((row) => Number(row.id)),
  };
}
