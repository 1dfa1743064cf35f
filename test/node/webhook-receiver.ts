/**
 * A local webhook receiver, for tests: it records every delivery it is sent and verifies its
 * signature with the `standardwebhooks` package (the specification's reference library), so the
 * product's signing is checked by an implementation it shares no code with. Each test posts to a
 * path of its own (`/hooks/<name>`), since test files run at once and subscriptions see every
 * event of the organisation.
 * Control:
 * - GET /__deliveries/<name>[?secret=whsec_…]: what `<name>` received, oldest first, each with
 *   `verified` (the signature checked with `secret`; null without one).
 * - POST /__fail/<name> {"count": n, "status": 500, "type"?: "ping", "id"?: "msg_7", "location"?: url}:
 *   answer the next n deliveries to `<name>` (of that event type, or with that `webhook-id`, only,
 *   when given) with `status` (and a `Location` header, for a redirect), then recover.
 */
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";
import { serveOnLoopback } from "../../scripts/lib/listen.ts";
import { readText, sendJson } from "./http-io.ts";

export interface ReceivedDelivery {
  headers: Record<string, string>;
  body: string;
  /** The status the receiver answered. */
  status: number;
  at: string;
}

interface Failure {
  count: number;
  status: number;
  type?: string;
  id?: string;
  location?: string;
}

export interface WebhookReceiver {
  url: string;
  close(): Promise<void>;
}

function typeOf(body: string): string | undefined {
  try {
    const type = (JSON.parse(body) as { type?: unknown }).type;
    return typeof type === "string" ? type : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a delivery's signature verifies with `secret`, as a Standard Webhooks receiver checks it. */
function verifies(secret: string, delivery: ReceivedDelivery): boolean {
  try {
    new Webhook(secret).verify(delivery.body, delivery.headers);
    return true;
  } catch {
    return false;
  }
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received = new Map<string, ReceivedDelivery[]>();
  const failures = new Map<string, Failure>();

  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://receiver");
    const reply = (status: number, body: unknown) => sendJson(response, status, body);
    try {
      const hook = /^\/hooks\/([\w-]+)$/.exec(url.pathname)?.[1];
      if (hook && request.method === "POST") {
        const body = await readText(request);
        const failure = failures.get(hook);
        const fails =
          failure &&
          failure.count > 0 &&
          (failure.type === undefined || failure.type === typeOf(body)) &&
          (failure.id === undefined || failure.id === request.headers["webhook-id"]);
        if (fails) failure.count--;
        const status = fails ? failure.status : 204;
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(request.headers)) {
          if (typeof value === "string") headers[name] = value;
        }
        const list = received.get(hook) ?? [];
        list.push({ headers, body, status, at: new Date().toISOString() });
        received.set(hook, list);
        response.writeHead(status, fails && failure.location ? { Location: failure.location } : {});
        response.end();
        return;
      }
      const listed = /^\/__deliveries\/([\w-]+)$/.exec(url.pathname)?.[1];
      if (listed) {
        const secret = url.searchParams.get("secret");
        const list = received.get(listed) ?? [];
        return reply(
          200,
          list.map((delivery) => ({ ...delivery, verified: secret ? verifies(secret, delivery) : null })),
        );
      }
      const failing = /^\/__fail\/([\w-]+)$/.exec(url.pathname)?.[1];
      if (failing && request.method === "POST") {
        const { count, status, type, id, location } = JSON.parse(await readText(request)) as Failure;
        failures.set(failing, { count, status, type, id, location });
        return reply(200, { ok: true });
      }
      reply(404, { detail: "not found" });
    } catch (error) {
      reply(500, { detail: String(error) });
    }
  });
  return serveOnLoopback(server);
}
