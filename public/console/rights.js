/**
 * What this user may do with a task, as the API decides it, so that the page offers exactly the
 * actions the API would accept (the API still decides; a refusal shows its sentence):
 * - CEO and HR manage every task; a creator manages their own; a manager manages the tasks of
 *   their department and those they assigned.
 * - An assignee with no other right may only change the status (completing included) and comment.
 * - Employees may assign or unassign only themselves.
 * - A comment may be deleted by its author, HR or the CEO.
 */

const isCeoOrHr = (user) => user.role === "ceo" || user.role === "hr";

/**
 * @param {{ id: number, role: string, department: number | null }} user
 * @param {{ creator: number, department: number | null, assigned_by: number | null, assignees: number[] }} task
 * @returns {"manage" | "assignee" | "none"}
 */
export function taskAccess(user, task) {
  if (isCeoOrHr(user) || task.creator === user.id) return "manage";
  if (user.role === "manager") {
    const inDepartment = user.department !== null && task.department === user.department;
    if (inDepartment || task.assigned_by === user.id) return "manage";
  }
  return task.assignees.includes(user.id) ? "assignee" : "none";
}

/** Whether this user may put `userId` on (or take them off) a task they manage. */
export const mayAssignUser = (user, userId) => user.role !== "employee" || userId === user.id;

/** @param {{ author: number }} comment */
export const mayDeleteComment = (user, comment) => comment.author === user.id || isCeoOrHr(user);

/** Why an assignee sees the task's fields read-only: the rule itself, in a sentence. */
export const ASSIGNEE_RULE =
  "You are assigned to this task: you may change its status and comment on it. Its other fields, its assignees and its files can be changed, and the task deleted, only by its creator, its department's manager, HR or the CEO.";
