import { describe, expect, it } from "vitest";
import {
  assertCanChangeUser,
  canSeeUser,
  type UserFacts,
  userListScope,
} from "../../src/features/users/users.policy.ts";
import type { Role } from "../../src/platform/db/schema.ts";
import { ceo, employee, hr, manager, managerWithoutDepartment } from "../support/policy-actors.ts";
import { refusal } from "../support/refusal.ts";

const user = (id: number, role: Role, departmentId: number | null): UserFacts => ({ id, role, departmentId });

const ONLY_ADMINS = { status: 403, detail: "Only CEO and HR can change a user's role or department." };
const OWN_ROLE = { status: 403, detail: "You cannot change your own role." };
const ONLY_CEO = { status: 403, detail: "Only the CEO can grant or remove the CEO role." };

describe("canSeeUser", () => {
  it("lets the CEO and HR see everyone, with or without a department", () => {
    for (const viewer of [ceo, hr]) {
      expect(canSeeUser(viewer, { id: 50, departmentId: 11 })).toBe(true);
      expect(canSeeUser(viewer, { id: 50, departmentId: null })).toBe(true);
    }
  });

  it("lets everyone see themselves", () => {
    expect(canSeeUser(employee, { id: employee.id, departmentId: null })).toBe(true);
    expect(canSeeUser(managerWithoutDepartment, { id: managerWithoutDepartment.id, departmentId: null })).toBe(true);
  });

  it("lets a manager see the members of their department, not of another or of none", () => {
    expect(canSeeUser(manager, { id: 50, departmentId: 10 })).toBe(true);
    expect(canSeeUser(manager, { id: 50, departmentId: 11 })).toBe(false);
    expect(canSeeUser(manager, { id: 50, departmentId: null })).toBe(false);
  });

  it("does not let a manager without a department see others without one", () => {
    expect(canSeeUser(managerWithoutDepartment, { id: 50, departmentId: null })).toBe(false);
  });

  it("does not let an employee see a colleague of their own department", () => {
    expect(canSeeUser(employee, { id: 50, departmentId: 10 })).toBe(false);
    expect(canSeeUser({ ...employee, departmentId: null }, { id: 50, departmentId: null })).toBe(false);
  });
});

describe("userListScope", () => {
  it("gives the CEO and HR everyone", () => {
    expect(userListScope(ceo)).toEqual({ kind: "everyone" });
    expect(userListScope(hr)).toEqual({ kind: "everyone" });
  });

  it("gives a manager themselves and their department (or just themselves without one)", () => {
    expect(userListScope(manager)).toEqual({ kind: "department", selfId: 3, departmentId: 10 });
    expect(userListScope(managerWithoutDepartment)).toEqual({ kind: "department", selfId: 4, departmentId: null });
  });

  it("refuses an employee with 403", () => {
    expect(refusal(() => userListScope(employee))).toEqual({
      status: 403,
      detail: "Only CEO, HR and managers can list users.",
    });
  });
});

describe("assertCanChangeUser", () => {
  it("refuses managers and employees, even a department-only change", () => {
    expect(refusal(() => assertCanChangeUser(manager, user(50, "employee", 10), undefined))).toEqual(ONLY_ADMINS);
    expect(refusal(() => assertCanChangeUser(employee, user(employee.id, "employee", 10), undefined))).toEqual(
      ONLY_ADMINS,
    );
    expect(refusal(() => assertCanChangeUser(manager, user(50, "employee", 10), "employee"))).toEqual(ONLY_ADMINS);
  });

  it("lets the CEO and HR change a department or a role between employee, manager and HR", () => {
    for (const viewer of [ceo, hr]) {
      expect(() => assertCanChangeUser(viewer, user(50, "employee", 10), undefined)).not.toThrow();
      expect(() => assertCanChangeUser(viewer, user(50, "employee", 10), "manager")).not.toThrow();
      expect(() => assertCanChangeUser(viewer, user(50, "manager", 10), "hr")).not.toThrow();
      expect(() => assertCanChangeUser(viewer, user(50, "hr", 10), "employee")).not.toThrow();
    }
  });

  it("refuses a change of one's own role, but not of one's own department or keeping the role", () => {
    expect(refusal(() => assertCanChangeUser(hr, user(hr.id, "hr", 9), "employee"))).toEqual(OWN_ROLE);
    expect(refusal(() => assertCanChangeUser(ceo, user(ceo.id, "ceo", null), "hr"))).toEqual(OWN_ROLE);
    expect(() => assertCanChangeUser(hr, user(hr.id, "hr", 9), undefined)).not.toThrow();
    expect(() => assertCanChangeUser(hr, user(hr.id, "hr", 9), "hr")).not.toThrow();
    expect(() => assertCanChangeUser(ceo, user(ceo.id, "ceo", null), "ceo")).not.toThrow();
  });

  it("lets only the CEO grant the CEO role", () => {
    expect(refusal(() => assertCanChangeUser(hr, user(50, "employee", 10), "ceo"))).toEqual(ONLY_CEO);
    expect(() => assertCanChangeUser(ceo, user(50, "employee", 10), "ceo")).not.toThrow();
  });

  it("lets only the CEO remove the CEO role from another", () => {
    expect(refusal(() => assertCanChangeUser(hr, user(50, "ceo", null), "hr"))).toEqual(ONLY_CEO);
    expect(() => assertCanChangeUser(ceo, user(50, "ceo", null), "hr")).not.toThrow();
  });

  it("lets HR move a CEO to another department while keeping the role", () => {
    expect(() => assertCanChangeUser(hr, user(50, "ceo", null), undefined)).not.toThrow();
    expect(() => assertCanChangeUser(hr, user(50, "ceo", null), "ceo")).not.toThrow();
  });
});
