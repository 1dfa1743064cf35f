/**
 * A local server speaking MailChannels' send API (`POST /tx/v1/send`), for tests. It records every
 * request it receives and can be told to fail the next N sends, so the email pipeline's retry and
 * dead-letter paths run against real HTTP.
 * Control: GET /__requests, POST /__fail {"count": n, "status": 503}, POST /__reset.
 */
import { createServer, type IncomingMessage } from "node:http";

export interface RecordedRequest {
  path: string;
  apiKey: string | undefined;
  body: unknown;
  status: number;
  at: string;
}

export interface MailStub {
  url: string;
  close(): Promise<void>;
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? (JSON.parse(text) as unknown) : undefined;
}

export async function startMailStub(): Promise<MailStub> {
  let requests: RecordedRequest[] = [];
  let failures = { count: 0, status: 503 };

  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://stub");
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    try {
      if (url.pathname === "/__requests") return reply(200, requests);
      if (url.pathname === "/__reset") {
        requests = [];
        failures = { count: 0, status: 503 };
        return reply(200, { ok: true });
      }
      if (url.pathname === "/__fail") {
        const body = (await readJson(request)) as { count?: number; status?: number } | undefined;
        failures = { count: body?.count ?? 1, status: body?.status ?? 503 };
        return reply(200, failures);
      }
      if (request.method === "POST" && url.pathname === "/tx/v1/send") {
        const body = await readJson(request);
        const apiKey = request.headers["x-api-key"];
        const failing = failures.count > 0;
        const status = typeof apiKey !== "string" || !apiKey ? 401 : failing ? failures.status : 200;
        if (failing) failures.count--;
        requests.push({
          path: url.pathname,
          apiKey: typeof apiKey === "string" ? apiKey : undefined,
          body,
          status,
          at: new Date().toISOString(),
        });
        if (status === 401) return reply(401, { error: "Missing X-API-Key header." });
        if (status !== 200) return reply(status, { error: "Simulated outage." });
        const personalizations = (body as { personalizations?: unknown[] } | undefined)?.personalizations ?? [];
        return reply(200, {
          request_id: `req_${requests.length}`,
          results: personalizations.map((_p, index) => ({
            index,
            message_id: `<${index}-${Date.now()}@stub>`,
            status: "sent",
          })),
        });
      }
      reply(404, { error: "Not Found" });
    } catch (error) {
      reply(400, { error: String(error) });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
