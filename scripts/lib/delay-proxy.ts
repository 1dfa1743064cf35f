/**
 * A loopback TCP proxy that adds latency: every chunk is held `delayMs` before it is forwarded, in
 * EACH direction, so one request/response exchange through it costs 2 × delay more than without
 * it. `bench:edge` puts one in front of each database endpoint the Worker talks to (the WebSocket
 * relay and the SQL-over-HTTP endpoint) to stand for the distance between the edge and the
 * database region, and counts round trips from how much slower each request kind gets.
 *
 * - The delay can be changed while connections are open (`setDelay`); it applies to chunks that
 *   arrive afterwards. Order within a direction is kept: a chunk is due at
 *   `max(now + delay, the previous chunk's due time)`, so lowering the delay never lets data
 *   overtake. At delay 0 with nothing held, a chunk is forwarded at once (no timer tick added).
 * - An end (FIN) is forwarded like a chunk, after the data before it; an error on either side
 *   closes both at once.
 * - TCP setup itself is not delayed: the client's connect completes locally at once and the proxy
 *   connects to the target at once (a real network would charge one more round trip for it, and
 *   TLS more; neither is modelled).
 * - Listens on 127.0.0.1 and forwards to loopback targets only.
 */
import net from "node:net";

export interface DelayProxyStats {
  /** Connections accepted since the start. */
  connections: number;
  /** Connections open now. */
  open: number;
  /** Bytes forwarded to the target / back to the clients. */
  bytesToTarget: number;
  bytesToClients: number;
}

export interface DelayProxy {
  /** host:port to connect to instead of the target. */
  address: string;
  setDelay(ms: number): void;
  stats(): DelayProxyStats;
  close(): Promise<void>;
}

export interface DelayProxyOptions {
  delayMs: number;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);
/** Above this many bytes held in one direction, reading from the sender pauses until they drain. */
const HIGH_WATER = 4 * 1024 * 1024;
/** Timers fire on a millisecond clock; a chunk this close to its due time is sent rather than re-timed. */
const TOLERANCE_MS = 0.5;

function parseTarget(target: string): { host: string; port: number } {
  const separator = target.lastIndexOf(":");
  const host = target.slice(0, separator).replace(/^\[|\]$/g, "");
  const port = Number(target.slice(separator + 1));
  if (separator <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new Error(`delay proxy: target must be host:port, got ${JSON.stringify(target)}`);
  }
  if (!LOOPBACK.has(host)) throw new Error(`delay proxy: target must be a loopback address, got ${host}`);
  return { host, port };
}

function checkDelay(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`delay proxy: delay must be a number ≥ 0, got ${ms}`);
  return ms;
}

interface Held {
  at: number;
  /** `null`: the sender's end (FIN). */
  chunk: Buffer | null;
}

interface Pipe {
  /** Cancels the pending timer (the proxy is closing). */
  stop(): void;
}

/**
 * One direction of one connection: what `from` sends reaches `to` after the delay, in order.
 * `from` is paused while more than HIGH_WATER bytes are held.
 */
function delayedPipe(from: net.Socket, to: net.Socket, delay: () => number, onForward: (bytes: number) => void): Pipe {
  const queue: Held[] = [];
  let lastAt = 0;
  let held = 0;
  let paused = false;
  let timer: NodeJS.Timeout | undefined;

  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && (queue[0]?.at ?? 0) <= now + TOLERANCE_MS) {
      const { chunk } = queue.shift() as Held;
      if (to.destroyed) continue;
      if (chunk === null) {
        to.end();
        continue;
      }
      to.write(chunk);
      held -= chunk.length;
      onForward(chunk.length);
    }
    if (paused && held <= HIGH_WATER / 2) {
      paused = false;
      from.resume();
    }
    const head = queue[0];
    if (head) timer = setTimeout(flush, Math.max(1, Math.ceil(head.at - now)));
  };

  const hold = (chunk: Buffer | null) => {
    const at = Math.max(performance.now() + delay(), lastAt);
    lastAt = at;
    queue.push({ at, chunk });
    if (chunk) {
      held += chunk.length;
      if (held > HIGH_WATER && !paused) {
        paused = true;
        from.pause();
      }
    }
    // A pending timer already serves the head of the queue; otherwise this chunk is the head.
    if (timer === undefined) flush();
  };

  from.on("data", (chunk: Buffer) => hold(chunk));
  from.on("end", () => hold(null));
  // A sender gone without a FIN (destroyed) still ends the other side, after what it sent.
  from.on("close", () => {
    if (!from.readableEnded) hold(null);
  });
  return { stop: () => clearTimeout(timer) };
}

/** Starts a proxy on 127.0.0.1 (a free port) in front of `target` ("host:port", loopback only). */
export async function startDelayProxy(target: string, options: DelayProxyOptions): Promise<DelayProxy> {
  const { host, port } = parseTarget(target);
  let delayMs = checkDelay(options.delayMs);
  const delay = () => delayMs;
  const sockets = new Set<net.Socket>();
  const pipes = new Set<Pipe>();
  const stats: DelayProxyStats = { connections: 0, open: 0, bytesToTarget: 0, bytesToClients: 0 };

  // Half-open sockets: a FIN from one side must not end the other direction, whose data may
  // still be held here; each FIN is forwarded in order by its pipe instead.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ host, port, allowHalfOpen: true });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    stats.connections++;
    stats.open++;
    const toUpstream = delayedPipe(client, upstream, delay, (n) => {
      stats.bytesToTarget += n;
    });
    const toClient = delayedPipe(upstream, client, delay, (n) => {
      stats.bytesToClients += n;
    });
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.on("error", closeBoth);
    }
    pipes.add(toUpstream);
    pipes.add(toClient);
    let open = 2;
    const closed = (socket: net.Socket) => () => {
      sockets.delete(socket);
      if (--open === 0) {
        stats.open--;
        pipes.delete(toUpstream);
        pipes.delete(toClient);
      }
    };
    client.on("close", closed(client));
    upstream.on("close", closed(upstream));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address();
  const boundPort = typeof bound === "object" && bound ? bound.port : 0;

  return {
    address: `127.0.0.1:${boundPort}`,
    setDelay(ms: number) {
      delayMs = checkDelay(ms);
    },
    stats: () => ({ ...stats }),
    close() {
      return new Promise<void>((resolve) => {
        for (const pipe of pipes) pipe.stop();
        pipes.clear();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      });
    },
  };
}
