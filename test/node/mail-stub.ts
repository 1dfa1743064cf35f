/**
 * A local server speaking MailChannels' send API (`POST /tx/v1/send`), for tests. It records every
 * request it receives and can be told to fail the next N sends, so the email pipeline's retry and
 * dead-letter paths run against real HTTP.
 * Control:
 * - GET /__requests[?to=<address>]: recorded sends, optionally only those to one recipient.
 * - POST /__fail {"count": n, "status": 503, "to"?: "<address>"}: fail the next n sends (to that
 *   recipient only, when `to` is given; test files run concurrently, so tests should scope failures).
 * - POST /__reject {"to": "<address>", "reason": "..."}: answer the next send to that recipient
 *   200 with its personalization's `status: "failed"` and that reason, as MailChannels does for
 *   an address it will not deliver to (a suppressed one).
 * - POST /__reset: forget requests and failures.
 */
import { createServer, type IncomingMessage } from "node:http";
import { serveOnLoopback } from "../../scripts/lib/listen.ts";
import { readText, sendJson } from "./http-io.ts";

export interface RecordedRequest {
  path: string;
  apiKey: string | undefined;
  /** Lower-cased recipients of every personalization, for filtering. */
  to: string[];
  body: unknown;
  status: number;
  at: string;
}

export interface MailStub {
  url: string;
  close(): Promise<void>;
}

interface Failure {
  count: number;
  status: number;
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const text = await readText(request);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

function recipientsOf(body: unknown): string[] {
  const personalizations = (body as { personalizations?: { to?: { email?: unknown }[] }[] } | undefined)
    ?.personalizations;
  return (personalizations ?? []).flatMap((p) =>
    (p.to ?? []).map((r) => (typeof r.email === "string" ? r.email.toLowerCase() : "")),
  );
}

export async function startMailStub(): Promise<MailStub> {
  let requests: RecordedRequest[] = [];
  let failures: Failure = { count: 0, status: 503 };
  let failuresByRecipient = new Map<string, Failure>();
  let rejections = new Map<string, string>();

  /** The reason a 200 refuses one of `to`, once per `/__reject`, or undefined to send normally. */
  function takeRejection(to: string[]): string | undefined {
    for (const address of to) {
      const reason = rejections.get(address);
      if (reason !== undefined) {
        rejections.delete(address);
        return reason;
      }
    }
    return undefined;
  }

  /** The status a send gets: a scoped failure first, then a global one, else success. */
  function takeFailure(to: string[]): number | null {
    for (const address of to) {
      const scoped = failuresByRecipient.get(address);
      if (scoped && scoped.count > 0) {
        scoped.count--;
        return scoped.status;
      }
    }
    if (failures.count > 0) {
      failures.count--;
      return failures.status;
    }
    return null;
  }

  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://stub");
    const reply = (status: number, body: unknown) => sendJson(response, status, body);
    try {
      if (url.pathname === "/__requests") {
        const to = url.searchParams.get("to")?.toLowerCase();
        return reply(200, to ? requests.filter((r) => r.to.includes(to)) : requests);
      }
      if (url.pathname === "/__reset") {
        requests = [];
        failures = { count: 0, status: 503 };
        failuresByRecipient = new Map();
        rejections = new Map();
        return reply(200, { ok: true });
      }
      if (url.pathname === "/__fail") {
        const body = (await readJson(request)) as { count?: number; status?: number; to?: string } | undefined;
        const failure = { count: body?.count ?? 1, status: body?.status ?? 503 };
        if (body?.to) failuresByRecipient.set(body.to.toLowerCase(), failure);
        else failures = failure;
        return reply(200, failure);
      }
      if (url.pathname === "/__reject") {
        const body = (await readJson(request)) as { to?: string; reason?: string } | undefined;
        if (!body?.to) return reply(400, { error: "to is required" });
        rejections.set(body.to.toLowerCase(), body.reason ?? "recipient suppressed");
        return reply(200, { ok: true });
      }
      if (request.method === "POST" && url.pathname === "/tx/v1/send") {
        const body = await readJson(request);
        const apiKey = request.headers["x-api-key"];
        const to = recipientsOf(body);
        const status = typeof apiKey !== "string" || !apiKey ? 401 : (takeFailure(to) ?? 200);
        requests.push({
          path: url.pathname,
          apiKey: typeof apiKey === "string" ? apiKey : undefined,
          to,
          body,
          status,
          at: new Date().toISOString(),
        });
        if (status === 401) return reply(401, { error: "Missing X-API-Key header." });
        if (status !== 200) return reply(status, { error: "Simulated outage." });
        const personalizations = (body as { personalizations?: unknown[] } | undefined)?.personalizations ?? [];
        const reason = takeRejection(to);
        return reply(200, {
          request_id: `req_${requests.length}`,
          results: personalizations.map((_p, index) => ({
            index,
            message_id: `<${index}-${Date.now()}@stub>`,
            ...(reason === undefined ? { status: "sent" } : { status: "failed", reason }),
          })),
        });
      }
      reply(404, { error: "Not Found" });
    } catch (error) {
      reply(400, { error: String(error) });
    }
  });
  return serveOnLoopback(server);
}
