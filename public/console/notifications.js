/**
 * The notification bell: the unread count in the header, a panel with the newest notifications
 * (mark one read, or all), and live updates over the API's notification WebSocket. The feed is
 * the record and the socket only news: every (re)connection reads the feed again, so nothing
 * pushed while the socket was down is missed.
 */
import { API, api, session } from "./api.js";
import { $, el, when } from "./dom.js";
import { taskHash } from "./router.js";

/** How many notifications the panel lists (the newest). */
const SHOWN = 20;
/** Waits before reconnecting a dropped socket, growing to the last. */
const RECONNECT_MS = [1000, 2000, 5000, 10_000, 30_000];

export class NotificationBell {
  /** @param {{ onError: (error: unknown) => void }} options */
  constructor({ onError }) {
    this.onError = onError;
    this.toggle = $("notifications-toggle");
    this.panel = $("notifications-panel");
    this.list = $("notification-list");
    this.count = $("notifications-count");
    this.summary = $("notifications-summary");
    this.announcer = $("notifications-live");
    this.readAll = $("notifications-read-all");
    /** @type {object[]} newest first */
    this.items = [];
    this.unread = 0;
    this.socket = null;
    this.active = false;
    this.failures = 0;

    this.toggle.addEventListener("click", () => this.open(this.panel.hidden));
    this.panel.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      this.open(false);
      this.toggle.focus();
    });
    this.readAll.addEventListener("click", () => this.markAllRead());
  }

  /** Logged in: read the feed and follow the stream. */
  async start() {
    this.active = true;
    this.failures = 0;
    await this.load();
    this.connect();
  }

  /** Logged out: close the stream and forget what was shown. */
  stop() {
    this.active = false;
    clearTimeout(this.retry);
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
    this.items = [];
    this.unread = 0;
    this.open(false);
    this.render();
  }

  /** @param {boolean} open */
  open(open) {
    this.panel.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
    if (open) this.panel.querySelector("h2")?.focus();
  }

  async load() {
    const [page, unread] = await Promise.all([
      api(`/notifications/?page_size=${SHOWN}`),
      api("/notifications/?unread=true&page_size=1"),
    ]);
    this.items = page.results;
    this.unread = unread.count;
    this.render();
  }

  connect() {
    if (!this.active) return;
    const url = new URL(`${API}/notifications/stream/`, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    // Browsers cannot put headers on a WebSocket: the API takes the token in the query instead.
    url.searchParams.set("access_token", session.token ?? "");
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onopen = () => {
      this.failures = 0;
    };
    socket.onmessage = (event) => this.arrived(JSON.parse(event.data));
    socket.onclose = () => {
      if (this.socket !== socket || !this.active) return;
      this.socket = null;
      // Reading the feed renews an expired token (and brings back the login page if the login is gone).
      const delay = RECONNECT_MS[Math.min(this.failures++, RECONNECT_MS.length - 1)];
      this.retry = setTimeout(() => {
        this.load()
          .then(() => this.connect())
          .catch(() => this.active && this.connect());
      }, delay);
    };
  }

  /** A notification pushed by the stream. */
  arrived(notification) {
    if (this.items.some((item) => item.id === notification.id)) return;
    this.items = [notification, ...this.items].slice(0, SHOWN);
    if (!notification.read_at) this.unread++;
    this.announcer.textContent = `New notification: ${notification.title}`;
    this.render();
  }

  async markRead(notification) {
    try {
      await api(`/notifications/${notification.id}/read/`, { method: "POST" });
      if (!notification.read_at) {
        notification.read_at = new Date().toISOString();
        this.unread = Math.max(0, this.unread - 1);
      }
      this.render();
      // The next unread item's button, or the panel's heading, keeps the keyboard in the panel.
      (this.list.querySelector("button[data-read]") ?? this.panel.querySelector("h2"))?.focus();
    } catch (error) {
      this.onError(error);
    }
  }

  async markAllRead() {
    try {
      await api("/notifications/read-all/", { method: "POST" });
      const now = new Date().toISOString();
      for (const item of this.items) item.read_at ??= now;
      this.unread = 0;
      this.render();
      // The button just pressed is now disabled and has lost focus: keep the keyboard in the panel.
      this.panel.querySelector("h2")?.focus();
    } catch (error) {
      this.onError(error);
    }
  }

  render() {
    this.count.textContent = this.unread > 0 ? String(this.unread) : "";
    this.count.hidden = this.unread === 0;
    this.toggle.setAttribute("aria-label", `Notifications, ${this.unread} unread`);
    this.readAll.disabled = this.unread === 0;
    this.summary.textContent =
      this.items.length === 0 ? "No notifications yet." : `${this.unread} unread. Newest first.`;
    this.list.replaceChildren(...this.items.map((item) => this.row(item)));
  }

  row(item) {
    const unread = !item.read_at;
    const title = item.task
      ? el("a", { href: taskHash(item.task), text: item.title })
      : item.upload
        ? el("a", { href: "#/uploads", text: item.title })
        : el("span", { text: item.title });
    const read = unread
      ? el("button", {
          type: "button",
          class: "link",
          "data-read": item.id,
          "aria-label": `Mark read: ${item.title}`,
          text: "Mark read",
        })
      : null;
    read?.addEventListener("click", () => this.markRead(item));
    return el(
      "li",
      { class: unread ? "notification unread" : "notification", "data-id": item.id },
      unread ? el("span", { class: "dot", text: "Unread: " }) : null,
      title,
      el("time", { class: "muted", datetime: item.created_at, text: when(item.created_at) }),
      read,
    );
  }
}
