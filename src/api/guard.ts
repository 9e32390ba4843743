// Who may hold the API's connection slots. Every connection has a deadline until its request's
// headers are complete (HEADERS_TIMEOUT_MS, not reset by a trickle of bytes: slowloris) and until
// its response is done (REQUEST_TIMEOUT_MS); event streams are exempt once open (their heartbeat
// finds dead peers, and EventStreams caps them separately). A client (remote address) holds at most
// PER_CLIENT_CONNECTIONS; at a cap, the oldest connection still without a request (idle keep-alive,
// or headers still trickling in) is closed to make room, so a new client (a /health probe) always
// gets in, whatever idle or slow clients hold. Timers exist only while connections do: none at idle.
// (node's own headersTimeout/requestTimeout would run a checking interval even at idle.)
import type { Server } from "node:http";
import type { Socket } from "node:net";
import { isLoopbackHost } from "../config/check.js";

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

/**
 * The rate limiter's key. Off loopback, the remote address. On loopback every local user is
 * 127.0.0.1 (or ::1), so one address would make them share one bucket: there the key is the
 * connection (address and port). Local users can reach the unix socket anyway (not rate-limited;
 * its file mode is the authorization), and the connection caps bound what one of them holds.
 */
export function rateKeyOf(socket: Socket, via: "tcp" | "unix"): string {
  const addr = socket.remoteAddress ?? "?";
  if (via === "unix") return "unix";
  return isLoopbackHost(addr) ? `${addr}:${socket.remotePort ?? 0}` : addr;
}

export class ConnectionGuard {
  readonly stats: GuardStats = { evicted: 0, refused: 0, timedOut: 0 };
  private readonly conns = new Map<Socket, Conn>();
  private readonly perClient = new Map<string, number>();

  constructor(
    private readonly via: "tcp" | "unix",
    private readonly limits = { max: MAX_CONNECTIONS, perClient: PER_CLIENT_CONNECTIONS, headersMs: HEADERS_TIMEOUT_MS, requestMs: REQUEST_TIMEOUT_MS },
    private readonly onClose?: (socket: Socket) => void,
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
    const c: Conn = { socket, client, phase: "waiting", since: performance.now(), timer: undefined };
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
    this.onClose?.(c.socket);
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
    c.since = performance.now();
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
