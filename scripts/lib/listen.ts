/** Starting a local HTTP server on a port that may be 0 (any free one). */
import type { Server } from "node:http";

/** Listens on `host:port` and answers the port the server got (the one asked for, unless 0). */
export async function listenOn(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const actual = server.address();
  return typeof actual === "object" && actual ? actual.port : port;
}

/** A local server on any free port of 127.0.0.1 (test stand-ins): its origin, and a close that ends open connections first. */
export async function serveOnLoopback(server: Server): Promise<{ url: string; close: () => Promise<void> }> {
  const port = await listenOn(server, 0, "127.0.0.1");
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
