import { describe, expect, it } from "vitest";
import { assertCanManageDepartments, canManageDepartments } from "../../src/features/departments/departments.policy.ts";
import type { Role } from "../../src/platform/db/schema.ts";
import { ApiError } from "../../src/platform/lib/errors.ts";

describe("department rights", () => {
  it("lets the CEO and HR manage departments", () => {
    for (const role of ["ceo", "hr"] as const) {
      expect(canManageDepartments({ role })).toBe(true);
      expect(() => assertCanManageDepartments({ role })).not.toThrow();
    }
  });

  it("refuses managers and employees with 403", () => {
    const roles: Role[] = ["manager", "employee"];
    for (const role of roles) {
      expect(canManageDepartments({ role })).toBe(false);
      let caught: unknown;
      try {
        assertCanManageDepartments({ role });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ApiError);
      expect(caught).toMatchObject({ status: 403, detail: "Only CEO and HR can manage departments." });
    }
  });
});
