/**
 * Who may see and change which user, as in-memory rules the service asks. Visibility: CEO and HR
 * see everyone, a manager sees their department, everyone sees themselves. Listing users is for
 * CEO, HR and managers. Changing role or department is for CEO and HR only, with two guards
 * against privilege games: only the CEO grants or removes the CEO role, and nobody changes their
 * own role.
 */

import type { AuthUser } from "../../platform/context/types.ts";
import type { Role } from "../../platform/db/schema.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { isCeoOrHr } from "./roles.ts";

export type Viewer = Pick<AuthUser, "id" | "role" | "departmentId">;

/** The facts of a user that the rules look at. */
export interface UserFacts {
  id: number;
  role: Role;
  departmentId: number | null;
}

export function canSeeUser(viewer: Viewer, target: Pick<UserFacts, "id" | "departmentId">): boolean {
  if (isCeoOrHr(viewer) || viewer.id === target.id) return true;
  return viewer.role === "manager" && viewer.departmentId !== null && viewer.departmentId === target.departmentId;
}

/**
 * Which users a viewer's list holds: everyone, or themselves plus (for a manager with one) their
 * department's members. Anyone else may not list users at all (403).
 */
export type ListScope = { kind: "everyone" } | { kind: "department"; selfId: number; departmentId: number | null };

export function userListScope(viewer: Viewer): ListScope {
  if (isCeoOrHr(viewer)) return { kind: "everyone" };
  if (viewer.role !== "manager") throw ApiError.forbidden("Only CEO, HR and managers can list users.");
  return { kind: "department", selfId: viewer.id, departmentId: viewer.departmentId };
}

/**
 * Refuses a change of `target` (one the viewer can see) with `role` as its new role (undefined:
 * the role is not being changed). Keeping a role as it is counts as no change.
 */
export function assertCanChangeUser(viewer: Viewer, target: UserFacts, role: Role | undefined): void {
  if (!isCeoOrHr(viewer)) throw ApiError.forbidden("Only CEO and HR can change a user's role or department.");
  if (role === undefined || role === target.role) return;
  if (target.id === viewer.id) throw ApiError.forbidden("You cannot change your own role.");
  if (viewer.role !== "ceo" && (role === "ceo" || target.role === "ceo")) {
    throw ApiError.forbidden("Only the CEO can grant or remove the CEO role.");
  }
}
