/**
 * The console's only door to the API: JSON in and out, the bearer token, and the API's
 * `{"detail": ...}` errors turned into exceptions whose message a person can act on.
 */

const TOKEN_KEY = "edge-tasks.access-token";
const USER_KEY = "edge-tasks.user";

export const API = "/api/v1";

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} detail
   */
  constructor(status, detail) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
  }
}

// sessionStorage, not localStorage: the token lives as long as the tab, and is not shared with other tabs.
export const session = {
  /** @returns {string | null} */
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  /** @returns {{ email: string, full_name: string } | null} */
  get user() {
    const raw = sessionStorage.getItem(USER_KEY);
    return raw ? JSON.parse(raw) : null;
  },
  /** @param {{ access_token: string, user: object }} login */
  save(login) {
    sessionStorage.setItem(TOKEN_KEY, login.access_token);
    sessionStorage.setItem(USER_KEY, JSON.stringify(login.user));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
  },
};

/**
 * @param {Response} response
 * @returns {Promise<never>}
 */
async function fail(response) {
  let detail = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string") detail = body.detail;
    if (Array.isArray(body?.errors) && body.errors.length > 0) {
      detail += ` (${body.errors.map((e) => `${e.field}: ${e.message}`).join("; ")})`;
    }
  } catch {
    // Not JSON: the status line is all there is.
  }
  if (response.status === 401) window.dispatchEvent(new CustomEvent("console:unauthorized"));
  throw new ApiError(response.status, detail);
}

/**
 * Calls the API and returns the parsed JSON (or null for 204).
 * @param {string} path a path under /api/v1, a full URL (a `next` link), or with `root` a path from the site root
 * @param {{ method?: string, json?: unknown, accept?: string, root?: boolean }} [options]
 */
export async function api(path, options = {}) {
  const response = await send(path, options);
  if (response.status === 204) return null;
  return response.json();
}

/**
 * The raw response (for downloads); errors still throw.
 * @param {string} path
 * @param {{ method?: string, json?: unknown, accept?: string, root?: boolean }} [options]
 */
export async function send(path, options = {}) {
  const headers = new Headers({ Accept: options.accept ?? "application/json" });
  const token = session.token;
  if (token) headers.set("Authorization", `Bearer ${token}`);
  let body;
  if (options.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(options.json);
  }
  const url = /^https?:/.test(path) || options.root ? path : `${API}${path}`;
  const response = await fetch(url, { method: options.method ?? (body ? "POST" : "GET"), headers, body });
  if (!response.ok) await fail(response);
  return response;
}
