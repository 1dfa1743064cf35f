/**
 * The Tasks view: the tasks this user can see, with the API's own filters, ordering and pages.
 * The address holds the whole state (see router.js): a control changes the address, the address
 * change loads the list. Search waits for a pause in typing (or Enter), so typing a word is one
 * request, not one per key.
 */
import { api } from "./api.js";
import { badge, dueDay, el, onSubmit, PRIORITY_LABELS, STATUS_LABELS } from "./dom.js";
import { parseRoute, taskHash, tasksHash } from "./router.js";

const PAGE_SIZE = 20;
const SEARCH_PAUSE_MS = 400;
/** The address's parameters, each the API's own name for it. */
const KEYS = ["status", "priority", "assigned_to", "department", "search", "ordering"];
const numberFormat = new Intl.NumberFormat("en-US");

export class TasksList {
  /**
   * @param {{ form: HTMLFormElement, table: HTMLTableElement, summary: HTMLElement, prev: HTMLButtonElement,
   *           next: HTMLButtonElement, directory: import("./directory.js").Directory, onError: (error: Error) => void }} el
   */
  constructor(elements) {
    this.el = elements;
    this.params = new URLSearchParams();
    this.sequence = 0;
    this.searchTimer = 0;
    const form = elements.form;
    form.addEventListener("change", (event) => {
      if (event.target.name === "search") return;
      this.navigate({ page: "" });
    });
    form.search.addEventListener("input", () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.navigate({ page: "" }), SEARCH_PAUSE_MS);
    });
    onSubmit(form, () => {
      clearTimeout(this.searchTimer);
      this.navigate({ page: "" });
    });
    form.querySelector("[data-action=clear]").addEventListener("click", () => {
      clearTimeout(this.searchTimer);
      location.hash = tasksHash(new URLSearchParams());
    });
    elements.prev.addEventListener("click", () => this.navigate({ page: String(this.page - 1) }));
    elements.next.addEventListener("click", () => this.navigate({ page: String(this.page + 1) }));
  }

  get page() {
    const page = Number.parseInt(this.params.get("page") ?? "1", 10);
    return Number.isInteger(page) && page > 0 ? page : 1;
  }

  /** The address for the form's current values (plus `extra`), which then loads the list. */
  navigate(extra) {
    // A search still waiting for its pause must not pull the user back from a task they opened.
    if (parseRoute(location.hash).view !== "tasks") return;
    const form = this.el.form;
    const params = new URLSearchParams();
    params.set("status", form.status.value);
    params.set("priority", form.priority.value);
    params.set("assigned_to", form.assigned_to.checked ? "me" : "");
    params.set("department", form.department.value);
    params.set("search", form.search.value.trim());
    params.set("ordering", form.ordering.value);
    for (const [key, value] of Object.entries(extra)) params.set(key, value);
    if (params.get("page") === "1") params.set("page", "");
    const hash = tasksHash(params);
    if (location.hash !== hash) location.hash = hash;
  }

  /** Fills the department filter (call after the directory loads). */
  setDepartments(departments) {
    const select = this.el.form.department;
    select.replaceChildren(
      el("option", { value: "", text: "All departments" }),
      ...departments.map((d) => el("option", { value: d.id, text: d.name })),
    );
  }

  /** @param {URLSearchParams} params the address's parameters */
  show(params) {
    this.params = params;
    const form = this.el.form;
    form.status.value = params.get("status") ?? "";
    form.priority.value = params.get("priority") ?? "";
    form.assigned_to.checked = params.get("assigned_to") === "me";
    form.department.value = params.get("department") ?? "";
    form.ordering.value = params.get("ordering") ?? "";
    // Not while the user is typing in it: the address only catches up with what they typed.
    if (document.activeElement !== form.search) form.search.value = params.get("search") ?? "";
    return this.load();
  }

  /** Reloads the current page (after a change elsewhere). */
  async load() {
    const query = new URLSearchParams({ page_size: String(PAGE_SIZE), page: String(this.page) });
    for (const key of KEYS) {
      const value = this.params.get(key);
      if (value) query.set(key, value);
    }
    const sequence = ++this.sequence;
    this.el.table.setAttribute("aria-busy", "true");
    try {
      const data = await api(`/tasks/?${query}`);
      // A slower answer to an older address must not overwrite the newer one.
      if (sequence === this.sequence) this.render(data);
    } catch (error) {
      if (sequence === this.sequence) this.el.onError(error);
    } finally {
      if (sequence === this.sequence) this.el.table.removeAttribute("aria-busy");
    }
  }

  render(data) {
    const { table, summary, prev, next, directory } = this.el;
    const rows = data.results.map((task) =>
      el(
        "tr",
        { "data-task": task.id },
        el("td", { class: "title", "data-label": "Title" }, el("a", { href: taskHash(task.id), text: task.title })),
        el("td", { "data-label": "Status" }, badge("status", task.status, STATUS_LABELS)),
        el("td", { "data-label": "Priority" }, badge("priority", task.priority, PRIORITY_LABELS)),
        el("td", { "data-label": "Due", text: dueDay(task.due_date) || "—" }),
        el("td", {
          "data-label": "Assignees",
          class: "assignees",
          text: task.assignees.length ? task.assignees.map((id) => directory.userName(id)).join(", ") : "—",
        }),
        el("td", { "data-label": "Department", text: directory.departmentName(task.department) }),
      ),
    );
    table.tBodies[0].replaceChildren(...rows);
    const first = (this.page - 1) * PAGE_SIZE + 1;
    const filtered = KEYS.some((key) => this.params.get(key) && key !== "ordering");
    if (data.results.length === 0) {
      summary.textContent =
        data.count > 0
          ? `No tasks on this page (there are ${numberFormat.format(data.count)}).`
          : filtered
            ? "No tasks match these filters."
            : "No tasks yet: create one with New task.";
    } else {
      const last = first + data.results.length - 1;
      summary.textContent = `Tasks ${numberFormat.format(first)}–${numberFormat.format(last)} of ${numberFormat.format(data.count)}`;
    }
    prev.disabled = this.page <= 1;
    next.disabled = !data.next;
  }
}
