/**
 * A Node-side server tests reach over HTTP for what only Node knows or controls: the runtime's real
 * origin, and faults injected into the two ways the Worker reaches Postgres: the WebSocket relay
 * (scripts/lib/relay.ts, `RelayFault`: `/relay/faults`) and the SQL-over-HTTP endpoint
 * (scripts/lib/sql-over-http.ts, `SqlOverHttpFault`: `/sql-over-http/faults`). POST a fault to
 * arm it (201 `{id}`), GET `…/faults/<id>` for `{fired, cut}`. POST `/relay/watches` `{text}` to
 * watch the relay connections whose traffic mentions `text` (201 `{id}`), GET `/relay/watches/<id>`
 * for `{connections: [{terminated, closed}]}`.
 */
import { createServer, type IncomingMessage } from "node:http";
import { serveOnLoopback } from "../../scripts/lib/listen.ts";
import type { Relay, RelayFault } from "../../scripts/lib/relay.ts";
import type { SqlOverHttp, SqlOverHttpFault } from "../../scripts/lib/sql-over-http.ts";
import { readText, sendJson } from "./http-io.ts";
import { runtimeOrigin } from "./runtime-origin.ts";

async function readJson(request: IncomingMessage): Promise<unknown> {
  return JSON.parse(await readText(request));
}

interface ArmedThing {
  path: string;
  create: (body: unknown) => number;
  read: (id: number) => unknown;
  missing: string;
}

export async function startSupportServer(
  relay: Relay,
  sqlOverHttp: SqlOverHttp,
): Promise<{ url: string; close(): Promise<void> }> {
  /** What tests arm and then ask about: POST <path> answers 201 `{id}`, GET <path>/<id> its state (404 when unknown). */
  const armedThings: ArmedThing[] = [
    {
      path: "/relay/faults",
      create: (body) => relay.injectFault(body as RelayFault),
      read: (id) => relay.fault(id),
      missing: "no such fault",
    },
    {
      path: "/relay/watches",
      create: (body) => relay.watch((body as { text: string }).text),
      read: (id) => relay.watched(id),
      missing: "no such watch",
    },
    {
      path: "/sql-over-http/faults",
      create: (body) => sqlOverHttp.injectFault(body as SqlOverHttpFault),
      read: (id) => sqlOverHttp.fault(id),
      missing: "no such fault",
    },
  ];
  const server = createServer((request, response) => {
    const send = (status: number, body: unknown) => sendJson(response, status, body);
    const runtime = /^\/runtime-origin\?id=([\w-]+)$/.exec(request.url ?? "")?.[1];
    if (runtime) {
      const origin = runtimeOrigin(runtime);
      send(origin ? 200 : 503, { origin: origin ?? null });
      return;
    }
    for (const armed of armedThings) {
      if (request.url === armed.path && request.method === "POST") {
        readJson(request)
          .then((body) => send(201, { id: armed.create(body) }))
          .catch((error: unknown) => send(400, { detail: String(error) }));
        return;
      }
      const id = new RegExp(`^${armed.path}/(\\d+)$`).exec(request.url ?? "")?.[1];
      if (id) {
        const state = armed.read(Number(id));
        send(state ? 200 : 404, state ?? { detail: armed.missing });
        return;
      }
    }
    if (request.url === "/sql-over-http/stats" && request.method === "GET") {
      send(200, sqlOverHttp.stats());
      return;
    }
    response.writeHead(404).end();
  });
  return serveOnLoopback(server);
}
