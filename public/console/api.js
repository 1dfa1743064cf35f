/**
 * The console's only door to the API: JSON in and out, the bearer token (renewed with the refresh
 * token when it expires), and the API's `{"detail", "errors"}` answers turned into exceptions that
 * keep both the sentence and the fields it names.
 */

const TOKEN_KEY = "edge-tasks.access-token";
const REFRESH_KEY = "edge-tasks.refresh-token";
const USER_KEY = "edge-tasks.user";

export const API = "/api/v1";

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} detail the API's sentence
   * @param {{ field: string, message: string }[]} [errors] the fields it names, when it names any
   */
  constructor(status, detail, errors = []) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.errors = errors;
  }
}

// sessionStorage, not localStorage: the tokens live as long as the tab, and are not shared with other tabs.
export const session = {
  /** @returns {string | null} */
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  /** @returns {{ id: number, email: string, full_name: string, role: string, department: number | null } | null} */
  get user() {
    const raw = sessionStorage.getItem(USER_KEY);
    return raw ? JSON.parse(raw) : null;
  },
  /** @param {{ access_token: string, refresh_token?: string, user?: object }} login */
  save(login) {
    sessionStorage.setItem(TOKEN_KEY, login.access_token);
    if (login.refresh_token) sessionStorage.setItem(REFRESH_KEY, login.refresh_token);
    if (login.user) sessionStorage.setItem(USER_KEY, JSON.stringify(login.user));
  },
  /** @param {object} user the current user, as `/auth/user/me/` gives it */
  saveUser(user) {
    sessionStorage.setItem(USER_KEY, JSON.stringify(user));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(REFRESH_KEY);
    sessionStorage.removeItem(USER_KEY);
  },
};

/**
 * @param {Response} response
 * @returns {Promise<never>}
 */
async function fail(response) {
  let detail = `${response.status} ${response.statusText}`;
  let errors = [];
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string") detail = body.detail;
    if (Array.isArray(body?.errors)) errors = body.errors;
  } catch {
    // Not JSON: the status line is all there is.
  }
  if (response.status === 401) window.dispatchEvent(new CustomEvent("console:unauthorized"));
  throw new ApiError(response.status, detail, errors);
}

/**
 * Calls the API and returns the parsed JSON (or null for 204).
 * @param {string} path a path under /api/v1, a full URL (a `next` link), or with `root` a path from the site root
 * @param {RequestOptions} [options]
 */
export async function api(path, options = {}) {
  const response = await send(path, options);
  if (response.status === 204) return null;
  return response.json();
}

/**
 * The parsed JSON and the `ETag` it came with, for a later `If-Match` (no lost updates).
 * @param {string} path
 * @returns {Promise<{ data: any, etag: string | null }>}
 */
export async function apiWithEtag(path) {
  const response = await send(path);
  return { data: await response.json(), etag: response.headers.get("ETag") };
}

/**
 * @typedef {{ method?: string, json?: unknown, accept?: string, root?: boolean, ifMatch?: string | null }} RequestOptions
 */

/** Where a 401 means the credentials themselves were refused: no renewal is tried for these. */
const SESSION_PATHS = /\/auth\/(user\/login|user\/logout|token\/refresh)\/?$/;

// One renewal at a time: parallel requests that all met an expired token share it.
let renewing = null;

/** Trades the refresh token for a new pair; false when there is none or it is refused. */
function renew() {
  const refreshToken = sessionStorage.getItem(REFRESH_KEY);
  if (!refreshToken) return Promise.resolve(false);
  renewing ??= fetch(`${API}/auth/token/refresh/`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ refresh_token: refreshToken }),
  })
    .then(async (response) => {
      if (!response.ok) return false;
      session.save(await response.json());
      return true;
    })
    .catch(() => false)
    .finally(() => {
      renewing = null;
    });
  return renewing;
}

/**
 * The raw response (for downloads); errors still throw.
 * @param {string} path
 * @param {RequestOptions} [options]
 */
export async function send(path, options = {}) {
  const url = /^https?:/.test(path) || options.root ? path : `${API}${path}`;
  const attempt = () => {
    const headers = new Headers({ Accept: options.accept ?? "application/json" });
    const token = session.token;
    if (token) headers.set("Authorization", `Bearer ${token}`);
    if (options.ifMatch) headers.set("If-Match", options.ifMatch);
    let body;
    if (options.json !== undefined) {
      headers.set("Content-Type", "application/json");
      body = JSON.stringify(options.json);
    }
    return fetch(url, { method: options.method ?? (body ? "POST" : "GET"), headers, body });
  };
  let response = await attempt();
  // An access token lives minutes; a console stays open for hours. Renew once, then give up.
  if (response.status === 401 && session.token && !SESSION_PATHS.test(url) && (await renew())) {
    response = await attempt();
  }
  if (!response.ok) await fail(response);
  return response;
}
