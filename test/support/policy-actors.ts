/**
 * The callers the policy unit tests ask about (plain Node, like refusal.ts): one of each role, HR
 * in department 9, a manager and employees of department 10, and a manager without a department.
 */
import type { AuthUser } from "../../src/platform/context/types.ts";

type PolicyActor = Pick<AuthUser, "id" | "role" | "departmentId">;

export const ceo: PolicyActor = { id: 1, role: "ceo", departmentId: null };
export const hr: PolicyActor = { id: 2, role: "hr", departmentId: 9 };
export const manager: PolicyActor = { id: 3, role: "manager", departmentId: 10 };
export const managerWithoutDepartment: PolicyActor = { id: 4, role: "manager", departmentId: null };
export const employee: PolicyActor = { id: 5, role: "employee", departmentId: 10 };
export const colleague: PolicyActor = { id: 6, role: "employee", departmentId: 10 };
