/**
 * The task form, for creating (with assignees) and editing (with status). It reads and fills the
 * task's writable fields, sends only what changed on edit, and shows an API refusal as the API's
 * sentence next to the field it names (or above the form when it names none).
 */
import { dueDay, el, PRIORITY_LABELS, STATUS_LABELS } from "./dom.js";
import { mayAssignUser } from "./rights.js";

const FIELDS = ["title", "description", "status", "priority", "due_date", "estimate_hours", "department", "assignees"];

function options(labels, selected) {
  return Object.entries(labels).map(([value, label]) =>
    el("option", { value, text: label, selected: value === selected }),
  );
}

export class TaskForm {
  /**
   * @param {HTMLFormElement} form an empty form; its submit button is added here
   * @param {{ prefix: string, mode: "create" | "edit", directory: import("./directory.js").Directory, submitLabel: string }} options
   */
  constructor(form, { prefix, mode, directory, submitLabel }) {
    this.form = form;
    this.prefix = prefix;
    this.mode = mode;
    this.directory = directory;
    this.submitLabel = submitLabel;
    this.controls = {};
    this.errors = {};
  }

  id(name) {
    return `${this.prefix}-${name.replace("_", "-")}`;
  }

  /** One labelled control with its error line, wired with aria-describedby. */
  field(name, label, control, wide = false) {
    control.id ||= this.id(name);
    control.name = name;
    const error = el("p", { class: "field-error", id: `${control.id}-error`, hidden: true });
    control.setAttribute("aria-describedby", error.id);
    this.controls[name] = control;
    this.errors[name] = error;
    return el(
      "div",
      { class: `field${wide ? " wide" : ""}`, "data-field": name },
      el("label", { for: control.id, text: label }),
      control,
      error,
    );
  }

  /** (Re)builds the controls: the department and people lists come from the directory. */
  build() {
    const user = this.directory.me;
    this.controls = {};
    this.errors = {};
    this.formError = el("p", { class: "form-error", role: "alert", hidden: true });
    this.note = el("p", { class: "note", hidden: true });
    const departmentSelect = el(
      "select",
      {},
      el("option", { value: "", text: this.mode === "create" ? "My department" : "No department" }),
      ...[...this.directory.departments.values()].map((d) => el("option", { value: d.id, text: d.name })),
    );
    const parts = [
      this.formError,
      this.note,
      this.field(
        "title",
        "Title",
        el("input", { type: "text", required: true, maxlength: 200, autocomplete: "off" }),
        true,
      ),
      this.field("description", "Description", el("textarea", { rows: 3 }), true),
    ];
    if (this.mode === "edit")
      parts.push(this.field("status", "Status", el("select", {}, ...options(STATUS_LABELS, "todo"))));
    parts.push(
      this.field("priority", "Priority", el("select", {}, ...options(PRIORITY_LABELS, "medium"))),
      this.field("due_date", "Due date", el("input", { type: "date" })),
      // No maximum here: the API's limit and its sentence are the ones that count.
      this.field(
        "estimate_hours",
        "Estimate (hours)",
        el("input", { type: "number", min: 0, step: "any", inputmode: "decimal" }),
      ),
      this.field("department", "Department", departmentSelect),
    );
    if (this.mode === "create") {
      const people = this.directory.people().filter((person) => mayAssignUser(user, person.id));
      const group = el(
        "fieldset",
        { class: "people", id: this.id("assignees"), tabindex: -1 },
        el("legend", { text: user.role === "employee" ? "Assign (you may assign only yourself)" : "Assignees" }),
        ...people.map((person) =>
          el(
            "label",
            { class: "check" },
            el("input", { type: "checkbox", name: "assignee", value: person.id }),
            ` ${this.directory.userName(person.id)}`,
          ),
        ),
      );
      const error = el("p", { class: "field-error", id: `${group.id}-error`, hidden: true });
      group.setAttribute("aria-describedby", error.id);
      this.controls.assignees = group;
      this.errors.assignees = error;
      parts.push(el("div", { class: "field wide", "data-field": "assignees" }, group, error));
    }
    this.submit = el("button", { type: "submit", text: this.submitLabel });
    parts.push(el("div", { class: "form-actions wide" }, this.submit));
    this.form.replaceChildren(...parts);
    this.form.classList.add("task-form");
  }

  /** @param {object} task */
  fill(task) {
    const c = this.controls;
    c.title.value = task.title;
    c.description.value = task.description;
    if (c.status) c.status.value = task.status;
    c.priority.value = task.priority;
    c.due_date.value = dueDay(task.due_date);
    c.estimate_hours.value = task.estimate_hours ?? "";
    c.department.value = task.department ?? "";
  }

  /** The task as the form says it: the body of a create. */
  values() {
    const c = this.controls;
    const body = { title: c.title.value.trim(), description: c.description.value, priority: c.priority.value };
    if (c.status) body.status = c.status.value;
    if (c.due_date.value) body.due_date = c.due_date.value;
    if (c.estimate_hours.value !== "") body.estimate_hours = Number(c.estimate_hours.value);
    if (c.department.value) body.department = Number(c.department.value);
    if (c.assignees) {
      const picked = [...c.assignees.querySelectorAll("input:checked")].map((box) => Number(box.value));
      if (picked.length > 0) body.assignees = picked;
    }
    return body;
  }

  /** The fields that differ from `task`: the body of a PATCH (empty when nothing changed). */
  changes(task) {
    const c = this.controls;
    const now = {
      title: c.title.value.trim(),
      description: c.description.value,
      status: c.status.value,
      priority: c.priority.value,
      due_date: c.due_date.value || null,
      estimate_hours: c.estimate_hours.value === "" ? null : Number(c.estimate_hours.value),
      department: c.department.value ? Number(c.department.value) : null,
    };
    const before = { ...task, due_date: dueDay(task.due_date) || null };
    return Object.fromEntries(Object.entries(now).filter(([key, value]) => value !== before[key]));
  }

  /**
   * An assignee may change only the status: every other control is disabled, and the note says
   * why.
   * @param {{ readOnly: boolean, reason?: string }} state
   */
  setReadOnly({ readOnly, reason }) {
    for (const [name, control] of Object.entries(this.controls)) {
      if (name !== "status") control.disabled = readOnly;
    }
    this.note.hidden = !readOnly;
    this.note.textContent = reason ?? "";
  }

  clearErrors() {
    this.formError.hidden = true;
    for (const [name, error] of Object.entries(this.errors)) {
      error.hidden = true;
      error.textContent = "";
      this.controls[name].removeAttribute("aria-invalid");
    }
  }

  /**
   * The API's sentence next to the field it names; each further field named gets its own message.
   * Errors that name no field of this form go above it.
   * @param {Error & { errors?: { field: string, message: string }[] }} error
   */
  showError(error) {
    this.clearErrors();
    const named = [];
    for (const item of error.errors ?? []) {
      const name = item.field.split(".").find((part) => FIELDS.includes(part));
      if (name && this.errors[name] && !named.some((n) => n.name === name)) named.push({ name, message: item.message });
    }
    if (named.length === 0) {
      this.formError.textContent = error.message;
      this.formError.hidden = false;
      this.formError.scrollIntoView({ block: "nearest" });
      return;
    }
    named.forEach(({ name, message }, index) => {
      this.errors[name].textContent = index === 0 ? error.message : `${name.replace("_", " ")} ${message}.`;
      this.errors[name].hidden = false;
      this.controls[name].setAttribute("aria-invalid", "true");
    });
    this.controls[named[0].name].focus();
  }

  /** Disables the submit button while a request is on its way (no double submits). */
  busy(on) {
    this.submit.disabled = on;
  }
}
