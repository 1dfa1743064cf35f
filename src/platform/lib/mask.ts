/**
 * Masks identifiers before they reach logs (no log line holds a whole id): enough to correlate
 * lines, not enough to enumerate objects. `"3f2a9c1e-…"` → `"3f2a…"`; `12345` → `"1***5"`.
 */
export function maskId(id: string | number | null | undefined): string | null {
  if (id === null || id === undefined) return null;
  const text = String(id);
  if (text.length <= 2) return "*".repeat(text.length);
  if (text.length <= 8) return `${text[0]}${"*".repeat(text.length - 2)}${text[text.length - 1]}`;
  return `${text.slice(0, 4)}…`;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const NUMERIC_SEGMENT = /\/(\d+)(?=\/|$)/g;
const SECRET_PARAMS = /([?&](?:access_token|token|cursor|X-Amz-Signature|X-Amz-Credential)=)[^&]*/gi;

/** Masks ids and tokens inside a path or URL (for the rare log line that must carry one). */
export function maskPath(path: string): string {
  return path
    .replace(UUID, (m) => maskId(m) ?? "")
    .replace(NUMERIC_SEGMENT, (_m, id: string) => `/${maskId(id)}`)
    .replace(SECRET_PARAMS, "$1***");
}
