/** Small helpers shared by the views: finding and building elements (text only, never HTML), forms, labels. */

/** The page's element with this id. */
export const $ = (id) => document.getElementById(id);

/** Handles a form's submit in the page: the browser neither sends the form nor reloads the view. */
export function onSubmit(form, handler) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    handler();
  });
}

/**
 * @param {string} tag
 * @param {Record<string, string | number | boolean | null | undefined>} [attrs] `class`, `text`, attributes; false/null are left out
 * @param {(Node | string | null | undefined | false)[]} children
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "class") node.className = String(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

export const STATUS_LABELS = { todo: "To do", in_progress: "In progress", done: "Done" };
export const PRIORITY_LABELS = { low: "Low", medium: "Medium", high: "High", critical: "Critical" };

/** A due date as the day it names (stored as an instant; a date alone means midnight UTC). */
export const dueDay = (iso) => (iso ? iso.slice(0, 10) : "");

const dateTime = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });
export const when = (iso) => (iso ? dateTime.format(new Date(iso)) : "—");

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A status or priority as a coloured badge; the word is the content, the colour only repeats it. */
export const badge = (kind, value, labels) =>
  el("span", { class: `badge ${kind}-${value}`, text: labels[value] ?? value });

/** Starts a download of a response body under the name its Content-Disposition gives. */
export async function saveResponse(response, fallbackName) {
  const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") ?? "")?.[1] ?? fallbackName;
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
