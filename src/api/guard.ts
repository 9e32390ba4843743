// Who may hold the API's connection slots. Every connection has a deadline until its request's
// headers are complete (HEADERS_TIMEOUT_MS, not reset by a trickle of bytes: slowloris) and until
// its response is done (REQUEST_TIMEOUT_MS); event streams are exempt once open (their heartbeat
// finds dead peers, and EventStreams caps them separately). A client (remote address) holds at most
// PER_CLIENT_CONNECTIONS; at a cap, the oldest connection still without a request (idle keep-alive,
// or headers still trickling in) is closed to make room, so a new client (a /health probe) always
// gets in, whatever idle or slow clients hold. Timers exist only while connections do: none at idle.
// (node's own headersTimeout/requestTimeout would run a checking interval even at idle.)
import type { Server } from "node:http";
import { isIPv4, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import { isLoopbackHost } from "../config/check.js";
import { monotonicMs } from "../time.js";

export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;
/** connections per listener */
export const MAX_CONNECTIONS = 256;
/** connections per client (remote address; the unix socket's clients count as one) */
export const PER_CLIENT_CONNECTIONS = 32;

type Phase = "waiting" | "request" | "stream";

interface Conn {
  socket: Socket;
  client: string;
  phase: Phase;
  since: number;
  timer: NodeJS.Timeout | undefined;
}

export interface GuardStats {
  /** connections closed to make room for a new one */
  evicted: number;
  /** connections refused: every slot held by requests in progress or streams */
  refused: number;
  /** connections closed by a deadline (headers or request too slow) */
  timedOut: number;
}

/** The client a connection belongs to, for connection caps and the rate limiter (see README). */
export function clientOf(socket: Socket, via: "tcp" | "unix"): string {
  if (via === "unix") return "unix";
  return socket.remoteAddress ?? "?";
}

const rateKeys = new WeakMap<Socket, string>();

/**
 * The rate limiter's key. Off loopback, the remote address. On loopback every local user is
 * 127.0.0.1 (or ::1), so the address would make them all share one bucket: there the key is the
 * local user that owns the client's socket (its uid, from the kernel's socket table), so one user
 * cannot get the others refused, and one user's many connections still share a bucket. Looked up
 * once per connection; when it cannot be found, the address (one shared bucket) is the safe side.
 */
export function rateKeyOf(socket: Socket, via: "tcp" | "unix"): string {
  if (via === "unix") return "unix";
  let key = rateKeys.get(socket);
  if (key === undefined) {
    const addr = socket.remoteAddress ?? "?";
    const uid = isLoopbackHost(addr) ? loopbackPeerUid(socket) : undefined;
    key = uid === undefined ? addr : `${addr} uid ${uid}`;
    rateKeys.set(socket, key);
  }
  return key;
}

/** /proc/net/tcp{,6} notation of an address and port: 32-bit words in host (little-endian) order. */
function procAddr(addr: string, port: number): string | undefined {
  const p = port.toString(16).toUpperCase().padStart(4, "0");
  const v4 = isIPv4(addr) ? addr : /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr)?.[1];
  const word = (b: number[]) =>
    b
      .map((x) => x.toString(16).toUpperCase().padStart(2, "0"))
      .reverse()
      .join("");
  if (v4 && isIPv4(addr)) return `${word(v4.split(".").map(Number))}:${p}`;
  if (v4) return `0000000000000000FFFF0000${word(v4.split(".").map(Number))}:${p}`;
  if (addr === "::1") return `00000000000000000000000001000000:${p}`;
  return undefined;
}

/** The uid owning the other end of a loopback TCP connection (the client's socket), or undefined. */
export function loopbackPeerUid(socket: Socket): number | undefined {
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (!remoteAddress || !remotePort || !localAddress || !localPort) return undefined;
  const client = procAddr(remoteAddress, remotePort);
  const server = procAddr(localAddress, localPort);
  if (!client || !server) return undefined;
  try {
    const table = readFileSync(isIPv4(remoteAddress) ? "/proc/net/tcp" : "/proc/net/tcp6", "latin1");
    for (const line of table.split("\n")) {
      const f = line.trim().split(/\s+/);
      // sl local rem st tx:rx tr:when retrnsmt uid ...: the client's socket has local = client
      if (f[1] === client && f[2] === server) return Number(f[7]);
    }
  } catch {
    /* no procfs */
  }
  return undefined;
}

export class ConnectionGuard {
  readonly stats: GuardStats = { evicted: 0, refused: 0, timedOut: 0 };
  private readonly conns = new Map<Socket, Conn>();
  private readonly perClient = new Map<string, number>();

  constructor(
    private readonly via: "tcp" | "unix",
    private readonly limits = { max: MAX_CONNECTIONS, perClient: PER_CLIENT_CONNECTIONS, headersMs: HEADERS_TIMEOUT_MS, requestMs: REQUEST_TIMEOUT_MS },
  ) {}

  get size(): number {
    return this.conns.size;
  }

  attach(server: Server): void {
    server.on("connection", (socket: Socket) => this.admit(socket));
    // node's own cap is only a backstop: sockets closed to make room are counted until they close
    server.maxConnections = this.limits.max * 2;
  }

  private admit(socket: Socket): void {
    const client = clientOf(socket, this.via);
    if ((this.perClient.get(client) ?? 0) >= this.limits.perClient && !this.evict((c) => c.client === client)) return this.refuse(socket);
    if (this.conns.size >= this.limits.max && !this.evict(() => true)) return this.refuse(socket);
    const c: Conn = { socket, client, phase: "waiting", since: monotonicMs(), timer: undefined };
    this.conns.set(socket, c);
    this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
    this.deadline(c, this.limits.headersMs);
    socket.once("close", () => this.forget(c));
  }

  private refuse(socket: Socket): void {
    this.stats.refused++;
    socket.destroy();
  }

  /** Close the oldest connection still waiting for its request, among those `pick` accepts. */
  private evict(pick: (c: Conn) => boolean): boolean {
    let oldest: Conn | undefined;
    for (const c of this.conns.values()) {
      if (c.phase === "waiting" && pick(c) && (!oldest || c.since < oldest.since)) oldest = c;
    }
    if (!oldest) return false;
    this.stats.evicted++;
    this.forget(oldest);
    oldest.socket.destroy();
    return true;
  }

  private forget(c: Conn): void {
    if (this.conns.get(c.socket) !== c) return;
    clearTimeout(c.timer);
    this.conns.delete(c.socket);
    const n = (this.perClient.get(c.client) ?? 1) - 1;
    if (n > 0) this.perClient.set(c.client, n);
    else this.perClient.delete(c.client);
  }

  private deadline(c: Conn, ms: number): void {
    clearTimeout(c.timer);
    c.timer = setTimeout(() => {
      c.timer = undefined;
      if (c.phase === "stream") return;
      this.stats.timedOut++;
      c.socket.destroy();
    }, ms);
  }

  /** A request's headers are complete: its response must be done within REQUEST_TIMEOUT_MS. */
  requestStarted(socket: Socket): void {
    const c = this.conns.get(socket);
    if (!c || c.phase === "stream") return;
    c.phase = "request";
    this.deadline(c, this.limits.requestMs);
  }

  /** The response is complete: the connection waits for its next request (keep-alive). */
  requestDone(socket: Socket | null): void {
    const c = socket ? this.conns.get(socket) : undefined;
    if (!c || c.phase === "stream") return;
    c.phase = "waiting";
    c.since = monotonicMs();
    this.deadline(c, this.limits.headersMs);
  }

  /** The connection became an event stream: no deadline, never evicted as idle. */
  streamStarted(socket: Socket | null): void {
    const c = socket ? this.conns.get(socket) : undefined;
    if (!c) return;
    c.phase = "stream";
    clearTimeout(c.timer);
    c.timer = undefined;
  }
}
