/**
 * A task's comments: listed oldest first with their authors; anyone who can read the task adds
 * one; a comment's author, HR or the CEO may delete it.
 */
import { api } from "./api.js";
import { $, el, onSubmit, when } from "./dom.js";
import { mayDeleteComment } from "./rights.js";

export class CommentsPanel {
  /** @param {import("./directory.js").Directory} directory */
  constructor(directory) {
    this.directory = directory;
    this.taskId = null;
    onSubmit($("comment-form"), () => this.addComment());
  }

  /** A new task's page starts with none of the last task's comments, draft or error. */
  reset() {
    $("comment-list").replaceChildren();
    $("comments-count").textContent = "";
    $("comment-content").value = "";
    $("comment-content").removeAttribute("aria-invalid");
    $("comment-error").hidden = true;
  }

  /** @param {number} taskId */
  async show(taskId) {
    this.taskId = taskId;
    const data = await api(`/tasks/${taskId}/comments/?page_size=100`);
    const list = $("comment-list");
    list.replaceChildren(
      ...data.results.map((comment) => {
        const remove = mayDeleteComment(this.directory.me, comment)
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
      await this.show(this.taskId);
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
      api(`/tasks/${this.taskId}/comments/`, { json: { content: content.value } }),
    );
    button.disabled = false;
    if (added) content.value = "";
  }
}
