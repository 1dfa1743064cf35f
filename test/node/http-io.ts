/** Reading requests and answering JSON, as the Node-side test servers (mail stub, webhook receiver, support server) do. */
import type { IncomingMessage, ServerResponse } from "node:http";

/** The whole request body as UTF-8 text. */
export async function readText(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Answers `body` as JSON with `status`. */
export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}
