/**
 * A task's page: its fields (editable as far as this user's rights go), completing and deleting
 * it, its assignees, comments, attachments and, when the API has the route, its history. Every
 * change reloads the task and tells the app (which refreshes the report's numbers).
 */
import { api, apiWithEtag } from "./api.js";
import { downloadAttachment, uploadAttachment } from "./attachments.js";
import { badge, bytes, el, PRIORITY_LABELS, STATUS_LABELS, when } from "./dom.js";
import { ASSIGNEE_RULE, mayAssignUser, mayDeleteComment, taskAccess } from "./rights.js";
import { TaskForm } from "./task-form.js";

const $ = (id) => document.getElementById(id);

/** Whether the API serves task history: asked of its OpenAPI document once, not by probing for a 404. */
let historyRoute;
function hasHistory() {
  historyRoute ??= fetch("/api/v1/openapi.json")
    .then((response) => (response.ok ? response.json() : { paths: {} }))
    .then((doc) => Object.keys(doc.paths ?? {}).some((p) => /\/tasks\/\{[^}]+\}\/history\/?$/.test(p)))
    .catch(() => false);
  return historyRoute;
}

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
    $("edit-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    $("complete-task").addEventListener("click", () =>
      this.act(() => api(`/tasks/${this.task.id}/complete/`, { method: "POST" })),
    );
    $("delete-task").addEventListener("click", () => this.remove());
    $("assign-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const id = Number($("assign-user").value);
      if (id) this.act(() => api(`/tasks/${this.task.id}/assign/`, { json: { assignees: [id] } }), $("assign-error"));
    });
    $("comment-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.addComment();
    });
    $("attachment-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.upload();
    });
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
    $("attachment-progress").hidden = true;
    $("attachment-error").hidden = true;
    $("save-status").textContent = "";
    try {
      await this.reload(id);
      this.form.build();
      this.render();
      $("task-content").hidden = false;
      $("task-title").focus();
      await Promise.all([this.loadComments(), this.loadAttachments(), this.loadHistory()]);
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
    $("attachment-form").hidden = !manage;
    $("attachment-rule").hidden = manage;
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

  // ---- comments --------------------------------------------------------------------------------

  async loadComments() {
    const data = await api(`/tasks/${this.task.id}/comments/?page_size=100`);
    const list = $("comment-list");
    list.replaceChildren(
      ...data.results.map((comment) => {
        const remove = mayDeleteComment(this.me, comment)
          ? el("button", {
              type: "button",
              class: "link danger-link",
              text: "Delete",
              "aria-label": "Delete this comment",
            })
          : null;
        remove?.addEventListener("click", async () => {
          if (!window.confirm("Delete this comment?")) return;
          await this.commentChange(() => api(`/comments/${comment.id}/`, { method: "DELETE" }));
        });
        return el(
          "li",
          { class: "comment" },
          el(
            "p",
            { class: "comment-head" },
            el("strong", { text: this.directory.userName(comment.author) }),
            el("time", { datetime: comment.created_at, text: when(comment.created_at) }),
            remove,
          ),
          el("p", { class: "comment-body", text: comment.content }),
        );
      }),
    );
    if (data.results.length === 0) list.append(el("li", { class: "muted", text: "No comments yet." }));
    $("comments-count").textContent = data.count ? `(${data.count})` : "";
  }

  async commentChange(change) {
    const error = $("comment-error");
    error.hidden = true;
    $("comment-content").removeAttribute("aria-invalid");
    try {
      await change();
      await this.loadComments();
      return true;
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
      $("comment-content").setAttribute("aria-invalid", "true");
      return false;
    }
  }

  async addComment() {
    const content = $("comment-content");
    const button = $("comment-form").querySelector("button");
    button.disabled = true;
    const added = await this.commentChange(() =>
      api(`/tasks/${this.task.id}/comments/`, { json: { content: content.value } }),
    );
    button.disabled = false;
    if (added) content.value = "";
  }

  // ---- attachments -----------------------------------------------------------------------------

  async loadAttachments() {
    const data = await api(`/tasks/${this.task.id}/attachments/`);
    const manage = this.access === "manage";
    const list = $("attachment-list");
    list.replaceChildren(
      ...data.results.map((file) => {
        const download = el("button", {
          type: "button",
          class: "link",
          text: file.filename,
          "aria-label": `Download ${file.filename}`,
        });
        download.addEventListener("click", () =>
          downloadAttachment(file.id).catch((error) => this.attachmentError(error)),
        );
        const remove = manage
          ? el("button", {
              type: "button",
              class: "link danger-link",
              text: "Remove",
              "aria-label": `Remove ${file.filename}`,
            })
          : null;
        remove?.addEventListener("click", async () => {
          if (!window.confirm(`Remove ${file.filename}?`)) return;
          try {
            await api(`/attachments/${file.id}/`, { method: "DELETE" });
            await this.loadAttachments();
          } catch (error) {
            this.attachmentError(error);
          }
        });
        return el(
          "li",
          {},
          download,
          el("span", {
            class: "muted",
            text: `${bytes(file.size_bytes)} · ${this.directory.userName(file.uploaded_by)}`,
          }),
          remove,
        );
      }),
    );
    if (data.results.length === 0) list.append(el("li", { class: "muted", text: "No files attached." }));
  }

  attachmentError(error) {
    $("attachment-error").textContent = error.message;
    $("attachment-error").hidden = false;
  }

  async upload() {
    const input = $("attachment-file");
    const file = input.files[0];
    if (!file) return;
    const bar = $("attachment-bar");
    const text = $("attachment-text");
    const button = $("attachment-form").querySelector("button");
    $("attachment-error").hidden = true;
    $("attachment-progress").hidden = false;
    button.disabled = true;
    bar.value = 0;
    text.textContent = `0% of ${bytes(file.size)}`;
    try {
      await uploadAttachment(this.task.id, file, (loaded, total) => {
        const percent = total > 0 ? (loaded / total) * 100 : 100;
        bar.value = percent;
        text.textContent = `${percent.toFixed(0)}% of ${bytes(total)}`;
      });
      bar.value = 100;
      text.textContent = `Uploaded ${file.name} (${bytes(file.size)}).`;
      input.value = "";
      await this.loadAttachments();
    } catch (error) {
      text.textContent = "Upload failed.";
      this.attachmentError(error);
    } finally {
      button.disabled = false;
    }
  }

  // ---- history ---------------------------------------------------------------------------------

  async loadHistory() {
    const section = $("history-section");
    // Until the API serves a task's history the panel stays out of the page (no empty, broken box).
    if (!(await hasHistory())) {
      section.hidden = true;
      return;
    }
    const data = await api(`/tasks/${this.task.id}/history/?page_size=50`);
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
