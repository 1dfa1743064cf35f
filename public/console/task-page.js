/**
 * A task's page: its fields (editable as far as this user's rights go), completing and deleting
 * it, its assignees, comments, attachments and, when the API has the route, its history. Every
 * change reloads the task and tells the app (which refreshes the report's numbers).
 */
import { api, apiWithEtag } from "./api.js";
import { AttachmentsPanel } from "./attachments-panel.js";
import { CommentsPanel } from "./comments-panel.js";
import { $, badge, el, onSubmit, PRIORITY_LABELS, STATUS_LABELS, when } from "./dom.js";
import { HistoryPanel } from "./history-panel.js";
import { ASSIGNEE_RULE, mayAssignUser, taskAccess } from "./rights.js";
import { TaskForm } from "./task-form.js";

export class TaskPage {
  /**
   * @param {{ directory: import("./directory.js").Directory, onChanged: () => void, onDeleted: () => void }} options
   */
  constructor({ directory, onChanged, onDeleted }) {
    this.directory = directory;
    this.onChanged = onChanged;
    this.onDeleted = onDeleted;
    this.task = null;
    this.etag = null;
    this.form = new TaskForm($("edit-form"), { prefix: "edit", mode: "edit", directory, submitLabel: "Save changes" });
    onSubmit($("edit-form"), () => this.save());
    $("complete-task").addEventListener("click", () =>
      this.act(() => api(`/tasks/${this.task.id}/complete/`, { method: "POST" })),
    );
    $("delete-task").addEventListener("click", () => this.remove());
    onSubmit($("assign-form"), () => {
      const id = Number($("assign-user").value);
      if (id) this.act(() => api(`/tasks/${this.task.id}/assign/`, { json: { assignees: [id] } }), $("assign-error"));
    });
    this.comments = new CommentsPanel(directory);
    this.attachments = new AttachmentsPanel(directory);
    this.history = new HistoryPanel(directory);
  }

  get me() {
    return this.directory.me;
  }

  /** @param {string} id */
  async show(id) {
    this.task = null;
    $("task-page-error").hidden = true;
    $("task-content").hidden = true;
    $("task-action-error").hidden = true;
    this.comments.reset();
    this.attachments.reset();
    $("save-status").textContent = "";
    try {
      await this.reload(id);
      this.form.build();
      this.render();
      $("task-content").hidden = false;
      $("task-title").focus();
      await Promise.all([
        this.comments.show(this.task.id),
        this.attachments.show(this.task.id, this.access === "manage"),
        this.history.show(this.task.id),
      ]);
    } catch (error) {
      $("task-page-error").textContent = error.message;
      $("task-page-error").hidden = false;
    }
  }

  async reload(id = this.task.id) {
    const { data, etag } = await apiWithEtag(`/tasks/${id}/`);
    this.task = data;
    this.etag = etag;
    this.access = taskAccess(this.me, data);
  }

  render() {
    const task = this.task;
    const manage = this.access === "manage";
    $("task-title").textContent = task.title;
    $("task-badges").replaceChildren(
      badge("status", task.status, STATUS_LABELS),
      badge("priority", task.priority, PRIORITY_LABELS),
    );
    const d = this.directory;
    $("task-meta").replaceChildren(
      ...[
        ["Created by", d.userName(task.creator)],
        ["Created", when(task.created_at)],
        ["Assigned by", d.userName(task.assigned_by)],
        ["Updated", when(task.updated_at)],
        ["Completed", when(task.completed_at)],
      ].flatMap(([term, value]) => [el("dt", { text: term }), el("dd", { text: value })]),
    );
    this.form.fill(task);
    this.form.clearErrors();
    this.form.setReadOnly({ readOnly: !manage, reason: ASSIGNEE_RULE });
    const done = task.status === "done";
    $("complete-task").disabled = done;
    $("complete-task").textContent = done ? "Completed" : "Mark done";
    $("delete-task").disabled = !manage;
    this.renderAssignees();
  }

  renderAssignees() {
    const task = this.task;
    const manage = this.access === "manage";
    $("assignee-list").replaceChildren(
      ...task.assignees.map((id) => {
        const name = this.directory.userName(id);
        const remove =
          manage && mayAssignUser(this.me, id)
            ? el("button", {
                type: "button",
                class: "link danger-link",
                "aria-label": `Unassign ${name}`,
                text: "Unassign",
              })
            : null;
        remove?.addEventListener("click", () =>
          this.act(() => api(`/tasks/${task.id}/unassign/`, { json: { assignees: [id] } }), $("assign-error")),
        );
        return el("li", {}, el("span", { text: name }), remove);
      }),
    );
    if (task.assignees.length === 0) $("assignee-list").append(el("li", { class: "muted", text: "Nobody yet." }));
    const candidates = this.directory
      .people()
      .filter((person) => !task.assignees.includes(person.id) && mayAssignUser(this.me, person.id));
    $("assign-user").replaceChildren(
      el("option", { value: "", text: candidates.length ? "Choose a person…" : "Nobody else to assign" }),
      ...candidates.map((person) => el("option", { value: person.id, text: this.directory.userName(person.id) })),
    );
    $("assign-form").hidden = !manage;
    $("assign-form").querySelector("button").disabled = candidates.length === 0;
    $("assign-rule").hidden = manage;
    $("assign-rule").textContent =
      this.me.role === "employee" && manage
        ? ""
        : "Only the task's creator, its managers, HR or the CEO may change its assignees.";
    $("assign-error").hidden = true;
  }

  /**
   * Runs one change, then reloads the task and tells the app; a refusal shows the API's sentence
   * in `errorAt` (the place of the control that asked), or above the task.
   */
  async act(change, errorAt = $("task-action-error")) {
    errorAt.hidden = true;
    try {
      await change();
      await this.reload();
      this.render();
      this.onChanged();
    } catch (error) {
      errorAt.textContent = error.message;
      errorAt.hidden = false;
    }
  }

  async save() {
    const changes = this.form.changes(this.task);
    this.form.clearErrors();
    $("save-status").textContent = "";
    if (Object.keys(changes).length === 0) {
      this.form.showError(new Error("Nothing changed: edit a field, then save."));
      return;
    }
    this.form.busy(true);
    try {
      // If-Match: a save over someone else's newer edit is refused (412), never silently lost.
      await api(`/tasks/${this.task.id}/`, { method: "PATCH", json: changes, ifMatch: this.etag });
      await this.reload();
      this.render();
      $("save-status").textContent = "Saved.";
      this.onChanged();
    } catch (error) {
      this.form.showError(error);
    } finally {
      this.form.busy(false);
    }
  }

  async remove() {
    if (!window.confirm(`Delete the task “${this.task.title}”?`)) return;
    try {
      // No If-Match: the person confirmed deleting this task by name, whatever changed in it since.
      await api(`/tasks/${this.task.id}/`, { method: "DELETE" });
      this.onChanged();
      this.onDeleted();
    } catch (error) {
      $("task-action-error").textContent = error.message;
      $("task-action-error").hidden = false;
    }
  }
}
