/**
 * WebSocket-to-TCP relay standing in for Neon's WebSocket proxy in development and tests
 * (Neon's own proxy needs Docker). The Neon driver connects to `ws://<relay>/v2?address=host:port`
 * and speaks the Postgres wire protocol over the socket; this pipes the bytes both ways.
 *
 * The driver never closes its socket after `pool.end()` until the server hangs up, so the relay
 * watches the client's messages and closes both sides once it sees Terminate ('X').
 *
 * Tests can watch the connections whose client traffic mentions a string (a request's unique
 * email, say) and see, per connection, whether it sent Terminate and closed: that tells one
 * request's pool ending from another's, which global counters cannot.
 * Only loopback targets are accepted: this is a development tool, not an open proxy.
 */

import { createServer, type Server } from "node:http";
import net from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import { type Fault, FaultInjector, type FaultState } from "./fault-injector.ts";
import { listenOn } from "./listen.ts";

export interface RelayStats {
  open: number;
  total: number;
  terminated: number;
}

/** What a watch saw: the connections whose client traffic held its string, in order of opening. */
export interface ConnectionWatch {
  connections: ConnectionRecord[];
}

export interface ConnectionRecord {
  /** The client sent Terminate: its pool ended it. */
  terminated: boolean;
  /** Both sides are closed. */
  closed: boolean;
}

/** A relay fault: the triggering client message is not delivered and its connection is cut. */
export type RelayFault = Fault;
export type RelayFaultState = FaultState;

export interface Relay {
  port: number;
  address: string;
  stats(): RelayStats;
  /** Arms a fault; returns its id for `fault(id)`. */
  injectFault(fault: RelayFault): number;
  fault(id: number): RelayFaultState | undefined;
  /** Starts watching the connections whose client traffic contains `text`; returns its id. */
  watch(text: string): number;
  watched(id: number): ConnectionWatch | undefined;
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/** Follows the frontend message stream just far enough to spot a Terminate message. */
class FrontendMessageWatcher {
  private buffered: Buffer = Buffer.alloc(0);
  private expectStartup = true;

  /** Returns true once a Terminate message has been seen. */
  push(chunk: Buffer): boolean {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    for (;;) {
      if (this.expectStartup) {
        if (this.buffered.length < 8) return false;
        const length = this.buffered.readInt32BE(0);
        if (this.buffered.length < length) return false;
        const code = this.buffered.readInt32BE(4);
        // SSL/GSS negotiation requests are followed by the real startup message.
        this.expectStartup = code === SSL_REQUEST || code === GSSENC_REQUEST;
        this.buffered = this.buffered.subarray(length);
        continue;
      }
      if (this.buffered.length < 5) return false;
      const type = this.buffered[0];
      const length = this.buffered.readInt32BE(1);
      if (type === 0x58 /* 'X' Terminate */) return true;
      if (this.buffered.length < 1 + length) return false;
      this.buffered = this.buffered.subarray(1 + length);
    }
  }
}

function parseTarget(url: string | undefined): { host: string; port: number } | null {
  const address = new URL(url ?? "/", "http://relay").searchParams.get("address");
  if (!address) return null;
  const separator = address.lastIndexOf(":");
  const host = address.slice(0, separator);
  const port = Number(address.slice(separator + 1));
  if (!LOOPBACK.has(host) || !Number.isInteger(port) || port <= 0 || port > 65535) return null;
  return { host: host.replace(/^\[|\]$/g, ""), port };
}

/** The watches of one relay: which connection mentioned which watched string. */
class ConnectionWatches {
  private readonly watches = new Map<number, { text: string; connections: ConnectionRecord[] }>();
  private nextId = 1;

  add(text: string): number {
    if (typeof text !== "string" || text === "") throw new Error("a watch needs a non-empty text");
    const id = this.nextId++;
    this.watches.set(id, { text, connections: [] });
    return id;
  }

  get(id: number): ConnectionWatch | undefined {
    const watch = this.watches.get(id);
    return watch && { connections: watch.connections.map((record) => ({ ...record })) };
  }

  /** Adds `record` to every watch whose text `chunk` holds (once per watch). */
  see(chunk: Buffer, record: ConnectionRecord): void {
    for (const watch of this.watches.values()) {
      if (!watch.connections.includes(record) && chunk.includes(watch.text)) watch.connections.push(record);
    }
  }
}

function pipe(
  ws: WebSocket,
  target: { host: string; port: number },
  stats: RelayStats,
  faults: FaultInjector<RelayFault>,
  watches: ConnectionWatches,
): void {
  const record: ConnectionRecord = { terminated: false, closed: false };
  stats.open++;
  stats.total++;
  const tcp = net.connect(target.port, target.host);
  tcp.setNoDelay(true);
  const watcher = new FrontendMessageWatcher();
  const pending: Buffer[] = [];
  let connected = false;
  let closed = false;

  const closeBoth = () => {
    if (closed) return;
    closed = true;
    record.closed = true;
    stats.open--;
    tcp.destroy();
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
  };

  tcp.on("connect", () => {
    connected = true;
    for (const chunk of pending) tcp.write(chunk);
    pending.length = 0;
  });
  tcp.on("data", (data) => {
    if (ws.readyState === ws.OPEN) ws.send(data);
  });
  tcp.on("error", closeBoth);
  tcp.on("close", closeBoth);

  ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
    const chunk = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (faults.failing((text) => chunk.includes(text))) {
      // Cut without a word, as a dead network would: Postgres rolls back the open transaction.
      closeBoth();
      ws.terminate();
      return;
    }
    watches.see(chunk, record);
    const terminate = watcher.push(chunk);
    if (connected) tcp.write(chunk);
    else pending.push(chunk);
    if (terminate) {
      stats.terminated++;
      record.terminated = true;
      tcp.end(() => closeBoth());
      setTimeout(closeBoth, 1000).unref();
    }
  });
  ws.on("close", closeBoth);
  ws.on("error", closeBoth);
}

/** Starts the relay on `port` (0 picks a free one). `GET /stats` answers with connection counts. */
export async function startRelay(port = 0, host = "127.0.0.1"): Promise<Relay> {
  const stats: RelayStats = { open: 0, total: 0, terminated: 0 };
  const faults = new FaultInjector<RelayFault>();
  const watches = new ConnectionWatches();
  const server: Server = createServer((req, res) => {
    if (req.url === "/stats") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(stats));
      return;
    }
    res.writeHead(426).end("WebSocket upgrade expected");
  });
  const wss = new WebSocketServer({ server });
  wss.on("connection", (ws, req) => {
    const target = parseTarget(req.url);
    if (!target) {
      ws.close(1008, "address must be a loopback host:port");
      return;
    }
    pipe(ws, target, stats, faults, watches);
  });
  const boundPort = await listenOn(server, port, host);
  return {
    port: boundPort,
    address: `${host}:${boundPort}`,
    stats: () => ({ ...stats }),
    injectFault: (fault) => faults.arm(fault),
    fault: (id) => faults.state(id),
    watch: (text) => watches.add(text),
    watched: (id) => watches.get(id),
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.close(() => resolve());
      }),
  };
}
