/**
 * The task status report: its numbers on screen (refreshed after every change the console makes)
 * and the CSV download. Both count the tasks this user can see.
 */
import { api, send } from "./api.js";
import { saveResponse } from "./dom.js";

const numberFormat = new Intl.NumberFormat("en-US");

/** @param {{ total: HTMLElement, completed: HTMLElement, incomplete: HTMLElement }} cells */
export async function refreshReport(cells) {
  const report = await api("/reports/task-status/");
  cells.total.textContent = numberFormat.format(report.total_tasks);
  cells.completed.textContent = numberFormat.format(report.completed_tasks);
  cells.incomplete.textContent = numberFormat.format(report.incomplete_tasks);
}

export async function downloadReport() {
  const response = await send("/user/tasks/get_task_status_report/", { root: true, accept: "text/csv" });
  await saveResponse(response, "tasks.csv");
}
