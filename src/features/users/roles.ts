import type { Role } from "../../platform/db/schema.ts";

/**
 * CEO and HR see and manage everything: every user, department, task and mail. Every rule that
 * grants them that asks here, so the set of such roles is written once.
 */
export function isCeoOrHr(subject: { role: Role }): boolean {
  return subject.role === "ceo" || subject.role === "hr";
}
