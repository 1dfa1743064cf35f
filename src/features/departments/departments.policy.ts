/**
 * Who may read and change departments. Every authenticated user reads them (they are the
 * organisation's structure, not secrets); only CEO and HR create, change and delete them.
 */

import type { AuthUser } from "../../platform/context/types.ts";
import { ApiError } from "../../platform/lib/errors.ts";
import { isCeoOrHr } from "../users/roles.ts";

export function canManageDepartments(viewer: Pick<AuthUser, "role">): boolean {
  return isCeoOrHr(viewer);
}

/** Refuses (403) a create, change or delete by anyone but CEO and HR. */
export function assertCanManageDepartments(viewer: Pick<AuthUser, "role">): void {
  if (!canManageDepartments(viewer)) throw ApiError.forbidden("Only CEO and HR can manage departments.");
}
