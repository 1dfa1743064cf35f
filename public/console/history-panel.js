/**
 * A task's history (who changed what, newest first), shown only when the API serves it: the
 * panel stays out of the page otherwise, rather than showing an empty or broken box.
 */
import { api } from "./api.js";
import { $, el, when } from "./dom.js";

/** Whether the API serves task history: asked of its OpenAPI document once, not by probing for a 404. */
let historyRoute;
function hasHistory() {
  historyRoute ??= fetch("/api/v1/openapi.json")
    .then((response) => (response.ok ? response.json() : { paths: {} }))
    .then((doc) => Object.keys(doc.paths ?? {}).some((p) => /\/tasks\/\{[^}]+\}\/history\/?$/.test(p)))
    .catch(() => false);
  return historyRoute;
}

export class HistoryPanel {
  /** @param {import("./directory.js").Directory} directory */
  constructor(directory) {
    this.directory = directory;
  }

  /** @param {number} taskId */
  async show(taskId) {
    const section = $("history-section");
    // Until the API serves a task's history the panel stays out of the page (no empty, broken box).
    if (!(await hasHistory())) {
      section.hidden = true;
      return;
    }
    const data = await api(`/tasks/${taskId}/history/?page_size=50`);
    $("history-list").replaceChildren(
      ...data.results.map((entry) =>
        el(
          "li",
          {},
          el("strong", { text: this.directory.userName(entry.actor) }),
          ` ${entry.action.replace("_", " ")} `,
          el("time", { datetime: entry.created_at, class: "muted", text: when(entry.created_at) }),
          Object.keys(entry.changes ?? {}).length
            ? el("span", { class: "muted", text: ` · ${Object.keys(entry.changes).join(", ")}` })
            : null,
        ),
      ),
    );
    section.hidden = false;
  }
}
