/**
 * The console's address is its state: `#/tasks?status=todo&page=2` (a list with its filters),
 * `#/tasks/12` (a task), `#/uploads`. A hash needs no server routes, and the full view can be
 * shared or bookmarked; the browser's back button walks through filters and pages.
 */

/**
 * @param {string} hash location.hash
 * @returns {{ view: "tasks", params: URLSearchParams } | { view: "task", id: string } | { view: "uploads" }}
 */
export function parseRoute(hash) {
  const [path, query = ""] = hash.replace(/^#/, "").split("?");
  const task = /^\/tasks\/(\d+)$/.exec(path);
  if (task) return { view: "task", id: task[1] };
  if (path === "/uploads") return { view: "uploads" };
  return { view: "tasks", params: new URLSearchParams(query) };
}

/** @param {URLSearchParams} params the list's filters; empty values are left out of the address */
export function tasksHash(params) {
  const kept = new URLSearchParams([...params].filter(([, value]) => value !== ""));
  const query = kept.toString();
  return query ? `#/tasks?${query}` : "#/tasks";
}

export const taskHash = (id) => `#/tasks/${id}`;
