/** A Node-side server tests can ask for what only Node knows: the runtime's real origin. */
import { createServer } from "node:http";
import { runtimeOrigin } from "./runtime-origin.ts";

export async function startSupportServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    if (request.url === "/runtime-origin") {
      const origin = runtimeOrigin();
      response.writeHead(origin ? 200 : 503, { "content-type": "application/json" });
      response.end(JSON.stringify({ origin: origin ?? null }));
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
