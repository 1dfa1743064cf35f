/**
 * A task's files: listed for anyone who can read the task, each downloaded through a short-lived
 * signed URL; added (with upload progress) and removed by those who may edit the task.
 */
import { api } from "./api.js";
import { downloadAttachment, uploadAttachment } from "./attachments.js";
import { $, bytes, el, onSubmit } from "./dom.js";

export class AttachmentsPanel {
  /** @param {import("./directory.js").Directory} directory */
  constructor(directory) {
    this.directory = directory;
    this.taskId = null;
    this.manage = false;
    onSubmit($("attachment-form"), () => this.upload());
  }

  /** A new task's page starts without the last upload's progress or error. */
  reset() {
    $("attachment-list").replaceChildren();
    $("attachment-progress").hidden = true;
    $("attachment-error").hidden = true;
  }

  /**
   * @param {number} taskId
   * @param {boolean} manage whether this user may add and remove files (the right to edit the task)
   */
  async show(taskId, manage) {
    this.taskId = taskId;
    this.manage = manage;
    $("attachment-form").hidden = !manage;
    $("attachment-rule").hidden = manage;
    const data = await api(`/tasks/${taskId}/attachments/`);
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
            await this.show(this.taskId, this.manage);
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
      await uploadAttachment(this.taskId, file, (loaded, total) => {
        const percent = total > 0 ? (loaded / total) * 100 : 100;
        bar.value = percent;
        text.textContent = `${percent.toFixed(0)}% of ${bytes(total)}`;
      });
      bar.value = 100;
      text.textContent = `Uploaded ${file.name} (${bytes(file.size)}).`;
      input.value = "";
      await this.show(this.taskId, this.manage);
    } catch (error) {
      text.textContent = "Upload failed.";
      this.attachmentError(error);
    } finally {
      button.disabled = false;
    }
  }
}
