/**
 * A task's attachments: the presigned flow (register the file, PUT its bytes straight to storage
 * with the signed headers, then confirm) with upload progress, and downloads through the
 * short-lived URL the API signs for each one.
 */
import { api } from "./api.js";

/**
 * The browser sets Content-Length itself from the body (scripts may not set it), so that signed
 * header is the one not copied onto the request.
 */
const SET_BY_BROWSER = new Set(["content-length", "host"]);

/**
 * @param {{ method: string, url: string, headers: Record<string, string> }} upload
 * @param {File} file
 * @param {(loaded: number, total: number) => void} onProgress
 */
function put(upload, file, onProgress) {
  return new Promise((resolve, reject) => {
    // XHR rather than fetch: only XHR reports upload progress.
    const xhr = new XMLHttpRequest();
    xhr.open(upload.method, upload.url);
    for (const [name, value] of Object.entries(upload.headers)) {
      if (!SET_BY_BROWSER.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    xhr.onload = () =>
      xhr.status >= 200 && xhr.status < 300
        ? resolve()
        : reject(new Error(`Storage refused the file (HTTP ${xhr.status}); try again.`));
    xhr.onerror = () => reject(new Error("The network failed while sending the file; try again."));
    xhr.send(file);
  });
}

/**
 * Uploads `file` as an attachment of task `taskId` and resolves with the attachment once the API
 * has confirmed it (only then is it listed).
 * @param {string | number} taskId
 * @param {File} file
 * @param {(loaded: number, total: number) => void} onProgress
 */
export async function uploadAttachment(taskId, file, onProgress) {
  const registered = await api(`/tasks/${taskId}/attachments/`, {
    json: { filename: file.name, size_bytes: file.size, content_type: file.type || "application/octet-stream" },
  });
  await put(registered.upload, file, onProgress);
  return api(`/attachments/${registered.id}/complete/`, { method: "POST" });
}

/** Starts the browser's download of an attachment, under its own file name. */
export async function downloadAttachment(id) {
  const details = await api(`/attachments/${id}/`);
  const link = document.createElement("a");
  link.href = details.download_url;
  link.download = details.filename;
  document.body.append(link);
  link.click();
  link.remove();
}
