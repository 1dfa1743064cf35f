import { describe, expect, it } from "vitest";
import {
  assertCanAssign,
  assertCanChangeAttachments,
  assertCanComment,
  assertCanComplete,
  assertCanDelete,
  assertCanDeleteComment,
  assertCanRead,
  assertCanUpdate,
  assertMayAssignUsers,
  type TaskFacts,
  taskAccess,
} from "../../src/features/tasks/tasks.policy.ts";
import { ceo, colleague, employee, hr, manager, managerWithoutDepartment } from "../support/policy-actors.ts";
import { refusal } from "../support/refusal.ts";

/** A task in department 20, created by user 100 and assigned by user 101 to nobody. */
const task = (overrides: Partial<TaskFacts> = {}): TaskFacts => ({
  departmentId: 20,
  creatorId: 100,
  assignedById: 101,
  assigneeIds: [],
  ...overrides,
});

const NOT_FOUND = { status: 404, detail: "Task not found." };

describe("taskAccess", () => {
  it("lets the CEO and HR manage every task", () => {
    expect(taskAccess(ceo, task())).toBe("manage");
    expect(taskAccess(hr, task())).toBe("manage");
  });

  it("lets the creator manage their task, whatever their role", () => {
    expect(taskAccess(employee, task({ creatorId: employee.id }))).toBe("manage");
    expect(taskAccess(manager, task({ creatorId: manager.id }))).toBe("manage");
  });

  it("lets a manager manage the tasks of their department, not of another", () => {
    expect(taskAccess(manager, task({ departmentId: 10 }))).toBe("manage");
    expect(taskAccess(manager, task({ departmentId: 11 }))).toBe("none");
    expect(taskAccess(manager, task({ departmentId: null }))).toBe("none");
  });

  it("does not match a manager without a department to tasks without one", () => {
    expect(taskAccess(managerWithoutDepartment, task({ departmentId: null }))).toBe("none");
  });

  it("lets a manager manage a task they last assigned, in any department", () => {
    expect(taskAccess(manager, task({ assignedById: manager.id }))).toBe("manage");
    expect(taskAccess(managerWithoutDepartment, task({ assignedById: managerWithoutDepartment.id }))).toBe("manage");
  });

  it("gives an employee nothing from their department or from having assigned a task", () => {
    expect(taskAccess(employee, task({ departmentId: 10 }))).toBe("none");
    expect(taskAccess(employee, task({ assignedById: employee.id }))).toBe("none");
  });

  it("gives assignees the assignee right, and everyone else nothing", () => {
    expect(taskAccess(employee, task({ assigneeIds: [6, employee.id] }))).toBe("assignee");
    expect(taskAccess(manager, task({ assigneeIds: [manager.id] }))).toBe("assignee");
    expect(taskAccess(employee, task({ assigneeIds: [6] }))).toBe("none");
  });
});

describe("assertCanRead", () => {
  it("answers the access it found", () => {
    expect(assertCanRead(ceo, task())).toBe("manage");
    expect(assertCanRead(employee, task({ assigneeIds: [employee.id] }))).toBe("assignee");
  });

  it("hides a task the user cannot read as not found", () => {
    expect(refusal(() => assertCanRead(employee, task()))).toEqual(NOT_FOUND);
  });
});

describe("assertCanUpdate", () => {
  const assigned = task({ assigneeIds: [employee.id] });

  it("lets a manager change any field", () => {
    expect(() => assertCanUpdate(manager, task({ departmentId: 10 }), ["title", "status"])).not.toThrow();
  });

  it("lets an assignee change the status, and a request that changes nothing", () => {
    expect(() => assertCanUpdate(employee, assigned, ["status"])).not.toThrow();
    expect(() => assertCanUpdate(employee, assigned, [])).not.toThrow();
  });

  it("forbids an assignee any other field, naming each", () => {
    expect(refusal(() => assertCanUpdate(employee, assigned, ["status", "title", "due_date"]))).toEqual({
      status: 403,
      detail: "As an assignee of this task you may change only its status, not: title, due_date.",
    });
  });

  it("hides the task from everyone else", () => {
    expect(refusal(() => assertCanUpdate(employee, task(), ["status"]))).toEqual(NOT_FOUND);
  });
});

// The rules only those who manage the task pass: an assignee is told why not, anyone else sees no task.
describe.each([
  [
    "assertCanDelete",
    {
      rule: assertCanDelete,
      action: "delete it",
      actor: employee,
      managed: task({ creatorId: employee.id }),
      forbidden: "Only the task's creator, its managers, HR or the CEO may delete it.",
    },
  ],
  [
    "assertCanChangeAttachments",
    {
      rule: assertCanChangeAttachments,
      action: "change its attachments",
      actor: manager,
      managed: task({ assignedById: manager.id }),
      forbidden: "As an assignee of this task you may read its attachments but not change them.",
    },
  ],
] as const)("%s", (_name, { rule, action, actor, managed, forbidden }) => {
  it(`lets those who manage the task ${action}`, () => {
    expect(() => rule(actor, managed)).not.toThrow();
  });

  it("forbids an assignee, and hides the task from others", () => {
    expect(refusal(() => rule(employee, task({ assigneeIds: [employee.id] })))).toEqual({
      status: 403,
      detail: forbidden,
    });
    expect(refusal(() => rule(employee, task()))).toEqual(NOT_FOUND);
  });
});

describe("assertCanComplete and assertCanComment", () => {
  it("let every reader, assignees included", () => {
    const assigned = task({ assigneeIds: [employee.id] });
    expect(() => assertCanComplete(employee, assigned)).not.toThrow();
    expect(() => assertCanComment(employee, assigned)).not.toThrow();
  });

  it("hide the task from others", () => {
    expect(refusal(() => assertCanComplete(employee, task()))).toEqual(NOT_FOUND);
    expect(refusal(() => assertCanComment(employee, task()))).toEqual(NOT_FOUND);
  });
});

describe("assertCanAssign", () => {
  it("lets a manager of the task assign anyone", () => {
    expect(() => assertCanAssign(manager, task({ departmentId: 10 }), [5, 6, 7])).not.toThrow();
  });

  it("lets an employee who created the task assign only themselves", () => {
    const own = task({ creatorId: employee.id });
    expect(() => assertCanAssign(employee, own, [employee.id])).not.toThrow();
    expect(refusal(() => assertCanAssign(employee, own, [employee.id, colleague.id]))).toEqual({
      status: 403,
      detail: "Employees may assign or unassign only themselves.",
    });
  });

  it("forbids an assignee, and hides the task from others", () => {
    expect(refusal(() => assertCanAssign(employee, task({ assigneeIds: [employee.id] }), [employee.id]))).toEqual({
      status: 403,
      detail: "Only the task's creator, its managers, HR or the CEO may change its assignees.",
    });
    expect(refusal(() => assertCanAssign(employee, task(), [employee.id]))).toEqual(NOT_FOUND);
  });
});

describe("assertMayAssignUsers", () => {
  it("lets an employee name only themselves, or no one", () => {
    expect(() => assertMayAssignUsers(employee, [employee.id])).not.toThrow();
    expect(() => assertMayAssignUsers(employee, [])).not.toThrow();
    expect(refusal(() => assertMayAssignUsers(employee, [colleague.id]))).toEqual({
      status: 403,
      detail: "Employees may assign or unassign only themselves.",
    });
  });

  it("lets managers, HR and the CEO name anyone", () => {
    for (const user of [manager, hr, ceo]) expect(() => assertMayAssignUsers(user, [colleague.id, 77])).not.toThrow();
  });
});

describe("assertCanDeleteComment", () => {
  const assigned = task({ assigneeIds: [employee.id, colleague.id] });
  const FORBIDDEN = { status: 403, detail: "Only the comment's author, HR or the CEO may delete it." };

  it("lets the author delete their comment", () => {
    expect(() => assertCanDeleteComment(employee, assigned, employee.id)).not.toThrow();
  });

  it("lets HR and the CEO delete anyone's comment", () => {
    expect(() => assertCanDeleteComment(hr, assigned, colleague.id)).not.toThrow();
    expect(() => assertCanDeleteComment(ceo, assigned, colleague.id)).not.toThrow();
  });

  it("forbids everyone else, a managing manager included", () => {
    expect(refusal(() => assertCanDeleteComment(employee, assigned, colleague.id))).toEqual(FORBIDDEN);
    expect(refusal(() => assertCanDeleteComment(manager, task({ departmentId: 10 }), colleague.id))).toEqual(FORBIDDEN);
  });

  it("hides the task from those who cannot read it, even from a comment's author", () => {
    expect(refusal(() => assertCanDeleteComment(employee, task(), employee.id))).toEqual(NOT_FOUND);
  });
});
