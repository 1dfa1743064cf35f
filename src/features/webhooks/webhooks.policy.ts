/**
 * Who may manage webhooks, and which URLs they may point at. Pure rules (no I/O), so the URL
 * policy is tested for every environment without a deployment.
 *
 * Subscriptions receive every task and upload event of the organisation, whoever could see it, so
 * only CEO and HR (who see everything) manage them.
 *
 * URLs. A webhook makes the Worker send requests where a user says, so in production only `https`
 * to a public host is accepted: no credentials in the URL, no `localhost` (or `*.localhost`), no
 * IP literal in a loopback, private, link-local, carrier-grade NAT, unique-local or unspecified
 * range (IPv4-mapped IPv6 included). The URL parser normalises hosts first, so `http://2130706433/`
 * and `0x7f.1` are seen as 127.0.0.1. The same check runs again before every delivery. What is NOT
 * checked: what a host NAME resolves to (Workers have no DNS look-up to ask); a name pointing at
 * a private address is left to the platform, whose outbound `fetch` does not reach private
 * networks, and redirects are never followed, so a public host cannot bounce a delivery inward.
 * In development `https` goes anywhere and `http` only to loopback hosts, for a local receiver.
 */
import { ApiError } from "../../platform/lib/errors.ts";
import { isCeoOrHr } from "../users/roles.ts";

export function canManageWebhooks(viewer: Parameters<typeof isCeoOrHr>[0]): boolean {
  return isCeoOrHr(viewer);
}

/** Refuses (403) every webhook route to anyone but CEO and HR. */
export function assertCanManageWebhooks(viewer: Parameters<typeof isCeoOrHr>[0]): void {
  if (!canManageWebhooks(viewer)) throw ApiError.forbidden("Only CEO and HR can manage webhooks.");
}

export type UrlPolicy = "production" | "development";

function ipv4Parts(host: string): number[] | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part))) return null;
  const numbers = parts.map(Number);
  return numbers.every((n) => n <= 255) ? numbers : null;
}

/** The kind of non-public IPv4 range `host` is in, or null for a public address (or not IPv4). */
function privateIpv4(parts: number[]): string | null {
  const [a = 0, b = 0] = parts;
  if (a === 127) return "loopback";
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private";
  if (a === 169 && b === 254) return "link-local";
  if (a === 100 && b >= 64 && b <= 127) return "carrier-grade NAT";
  if (a === 0) return "unspecified";
  if (a >= 224) return "multicast or reserved";
  return null;
}

/** The eight 16-bit groups of an IPv6 literal (as the URL parser writes it, without brackets). */
function ipv6Groups(host: string): number[] | null {
  if (!host.includes(":")) return null;
  let text = host;
  // A dotted IPv4 tail (the parser normally rewrites it to hex, but accept both).
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const v4 = ipv4Parts(dotted[1]);
    if (!v4) return null;
    const [a = 0, b = 0, c = 0, d = 0] = v4;
    text = `${text.slice(0, -dotted[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string | undefined) => (part ? part.split(":").map((group) => Number.parseInt(group, 16)) : []);
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return null;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

function privateIpv6(groups: number[]): string | null {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = groups;
  const zeroHead = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (zeroHead && g5 === 0 && g6 === 0 && g7 === 1) return "loopback";
  if (zeroHead && g5 === 0 && g6 === 0 && g7 === 0) return "unspecified";
  // IPv4-mapped (::ffff:a.b.c.d): the IPv4 address's own range decides.
  if (zeroHead && g5 === 0xffff) return privateIpv4([g6 >> 8, g6 & 0xff, g7 >> 8, g7 & 0xff]) ?? null;
  if ((g0 & 0xfe00) === 0xfc00) return "unique-local";
  if ((g0 & 0xffc0) === 0xfe80) return "link-local";
  if ((g0 & 0xff00) === 0xff00) return "multicast";
  return null;
}

function isLoopbackHost(host: string): boolean {
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const v4 = ipv4Parts(host);
  if (v4) return v4[0] === 127;
  const v6 = ipv6Groups(host);
  return v6 !== null && privateIpv6(v6) === "loopback";
}

/**
 * Why `url` may not receive webhooks under `policy`, as a sentence for the client, or null when
 * it may.
 */
export function webhookUrlProblem(url: string, policy: UrlPolicy): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "must be an absolute URL such as https://example.com/webhooks";
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    return `must use https (not ${parsed.protocol.slice(0, -1)})`;
  }
  if (parsed.username || parsed.password) return "must not contain a user name or password";
  // Brackets are part of an IPv6 host as the URL writes it; a trailing dot names the same host.
  const host = parsed.hostname
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "")
    .toLowerCase();
  if (policy === "development") {
    if (parsed.protocol === "http:" && !isLoopbackHost(host)) {
      return "must use https; plain http is allowed only to localhost or a loopback address in development";
    }
    return null;
  }
  if (parsed.protocol !== "https:") return "must use https";
  if (host === "localhost" || host.endsWith(".localhost")) return "must not point at localhost";
  const v4 = ipv4Parts(host);
  const kind = v4
    ? privateIpv4(v4)
    : (() => {
        const v6 = ipv6Groups(host);
        return v6 ? privateIpv6(v6) : null;
      })();
  if (kind) return `must not point at ${kind === "unspecified" ? "an" : "a"} ${kind} address (${host})`;
  return null;
}

/** `webhookUrlProblem` as the API's 400 for the field `url`. */
export function assertWebhookUrl(url: string, policy: UrlPolicy): void {
  const problem = webhookUrlProblem(url, policy);
  if (problem) throw ApiError.invalidParameter("url", problem);
}
