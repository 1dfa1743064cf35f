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

export async function startSupportServer(
  relay: Relay,
  sqlOverHttp: SqlOverHttp,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const send = (status: number, body: unknown) => sendJson(response, status, body);
    if (request.url === "/runtime-origin") {
      const origin = runtimeOrigin();
      send(origin ? 200 : 503, { origin: origin ?? null });
      return;
    }
    if (request.url === "/relay/faults" && request.method === "POST") {
      readJson(request)
        .then((fault) => send(201, { id: relay.injectFault(fault as RelayFault) }))
        .catch((error: unknown) => send(400, { detail: String(error) }));
      return;
    }
    const faultId = /^\/relay\/faults\/(\d+)$/.exec(request.url ?? "")?.[1];
    if (faultId) {
      const state = relay.fault(Number(faultId));
      send(state ? 200 : 404, state ?? { detail: "no such fault" });
      return;
    }
    if (request.url === "/relay/watches" && request.method === "POST") {
      readJson(request)
        .then((body) => send(201, { id: relay.watch((body as { text: string }).text) }))
        .catch((error: unknown) => send(400, { detail: String(error) }));
      return;
    }
    const watchId = /^\/relay\/watches\/(\d+)$/.exec(request.url ?? "")?.[1];
    if (watchId) {
      const watch = relay.watched(Number(watchId));
      send(watch ? 200 : 404, watch ?? { detail: "no such watch" });
      return;
    }
    if (request.url === "/sql-over-http/stats" && request.method === "GET") {
      send(200, sqlOverHttp.stats());
      return;
    }
    if (request.url === "/sql-over-http/faults" && request.method === "POST") {
      readJson(request)
        .then((fault) => send(201, { id: sqlOverHttp.injectFault(fault as SqlOverHttpFault) }))
        .catch((error: unknown) => send(400, { detail: String(error) }));
      return;
    }
    const httpFaultId = /^\/sql-over-http\/faults\/(\d+)$/.exec(request.url ?? "")?.[1];
    if (httpFaultId) {
      const state = sqlOverHttp.fault(Number(httpFaultId));
      send(state ? 200 : 404, state ?? { detail: "no such fault" });
      return;
    }
    response.writeHead(404).end();
  });
  return serveOnLoopback(server);
}
