// The API server: node:http (no framework: every MB of RSS counts on every host) on
// api.listen and on the unix socket api.socket (mode 0660; its file mode is the authorization for
// mutating endpoints). No timers at idle: node's connection-checking interval is off; idle sockets
// time out by themselves.
import { createServer, type RequestListener, type Server } from "node:http";
import { connect } from "node:net";
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { parseListen } from "../config/leaves.js";
import { logRejection, type Logger } from "../log.js";
import { checkApiConfig } from "../config/check.js";
import { RateLimiter, SERVER_OPTIONS, withDateHeader } from "./http.js";
import { createRouter, type ApiContext, type Via } from "./routes.js";
import { EventStreams } from "./sse.js";
import { ConnectionGuard } from "./guard.js";
import { packageVersion } from "../version.js";

export type { ApiContext } from "./routes.js";
export { checkApiConfig } from "../config/check.js";

export interface ApiServer {
  /** what is bound: "host:port" / the socket path, or null */
  readonly tcp: string | null;
  readonly socket: string | null;
  /** why api.listen is not bound (yet): binding is retried with backoff */
  readonly tcpError: string | null;
  close(): Promise<void>;
}

/** retrying a TCP listen that failed (port taken); no timer once bound */
const LISTEN_RETRY_MS = [1000, 2000, 5000, 10_000, 30_000, 60_000];

/** idle keep-alive and stalled requests are dropped after this (per-socket timer, none at idle) */
const SOCKET_IDLE_MS = 30_000;

function newServer(handle: RequestListener): Server {
  const s = createServer({ ...SERVER_OPTIONS, maxHeaderSize: 16384, noDelay: true }, withDateHeader(handle));
  s.setTimeout(SOCKET_IDLE_MS);
  return s;
}

function listenOn(server: Server, where: { host: string; port: number } | { path: string }): Promise<void> {
  return new Promise((res, rej) => {
    const onError = (err: Error) => rej(err);
    server.once("error", onError);
    // a deep accept queue: under a connection flood a probe's SYN waits its turn instead of being
    // dropped (a dropped SYN costs the client a 1 s retransmit); the guard then sorts them out
    server.listen({ ...where, backlog: 4096 }, () => {
      server.off("error", onError);
      res();
    });
  });
}

/** Whether something accepts connections on a unix socket path. */
function socketAlive(path: string): Promise<boolean> {
  return new Promise((res) => {
    const c = connect({ path });
    c.once("connect", () => {
      c.destroy();
      res(true);
    });
    c.once("error", () => res(false));
  });
}

/**
 * Create the socket's directory if missing (mode 0750) and bind the socket with mode 0660.
 * A stale socket left by a crashed daemon is replaced; a live one or a non-socket file is not.
 */
async function listenUnix(server: Server, path: string): Promise<{ ino: number }> {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { mode: 0o750 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st) {
    if (!st.isSocket()) throw new Error(`${path} exists and is not a socket; not replacing it`);
    if (await socketAlive(path)) throw new Error(`another process is serving ${path} (is netevd already running?)`);
    unlinkSync(path);
  }
  // connecting needs write permission: with this umask the socket is never more open than 0660
  const old = process.umask(0o117);
  let bound: Promise<void>;
  try {
    bound = listenOn(server, { path });
  } finally {
    process.umask(old);
  }
  await bound;
  chmodSync(path, 0o660);
  return { ino: lstatSync(path).ino };
}

function explainSocketError(err: NodeJS.ErrnoException, path: string): string {
  if (err.code === "EACCES" || err.code === "EPERM") {
    return (
      `${err.code}: the daemon (uid ${process.getuid?.()}) may not create ${path}; give it ${dirname(path)} ` +
      `(systemd: RuntimeDirectory=netevd; by hand: install -d -o netevd -g netevd -m 0750 ${dirname(path)})`
    );
  }
  return err.message;
}

/**
 * Start the API (REST, event stream, metrics). Throws when it must not serve TCP (off-loopback without a
 * token). A TCP address that cannot be bound (taken: Prometheus listens on 9090 too) is not fatal:
 * the daemon runs, hooks fire, /health and `status` say so, and binding is retried with backoff.
 * A unix socket that cannot be created is logged, and the daemon keeps running without it.
 */
export async function startApi(ctx: ApiContext): Promise<ApiServer> {
  const api = ctx.config.api;
  const problem = checkApiConfig(ctx.config);
  if (problem) throw new Error(problem);
  if (!api.enabled) return { tcp: null, socket: null, tcpError: null, close: async () => {} };
  const log: Logger = ctx.log.child({ source: "api" });
  const streams = new EventStreams(ctx.history);
  const listening: { tcp: string | null; socket: string | null; tcpError: string | null } = { tcp: null, socket: null, tcpError: null };
  let retry: NodeJS.Timeout | null = null;
  let closed = false;
  const guards: Partial<Record<Via, ConnectionGuard>> = {};
  const route = createRouter({
    // the owners a script may have besides root: none for root hooks (hooks.user: root)
    ctx,
    streams,
    limiter: new RateLimiter(),
    version: packageVersion(),
    daemonUid: ctx.config.hooks.user === "root" ? 0 : (process.getuid?.() ?? 0),
    listening,
    streamStarted: (req, via) => guards[via]?.streamStarted(req.socket),
  });
  const servers: Server[] = [];
  const serve = (via: Via) => {
    // separate guards: whatever happens on TCP, the unix socket has its own slots
    const guard = new ConnectionGuard(via);
    guards[via] = guard;
    const s = newServer((req, res) => {
      guard.requestStarted(req.socket);
      res.once("finish", () => guard.requestDone(req.socket));
      route(req, res, via);
    });
    guard.attach(s);
    // after listen, an accept error (EMFILE...) must not become an uncaught exception
    s.on("error", (err: NodeJS.ErrnoException) => log.error("API server error", { via, err: err.message, code: err.code }));
    return s;
  };
  let socketIno: number | undefined;

  const close = async (): Promise<void> => {
    closed = true;
    if (retry) clearTimeout(retry);
    streams.close();
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((res) => {
            s.close(() => res());
            s.closeAllConnections();
          }),
      ),
    );
    if (listening.socket && socketIno !== undefined) {
      // remove the socket only if it is still ours (not a newer daemon's)
      try {
        if (lstatSync(listening.socket, { throwIfNoEntry: false })?.ino === socketIno) unlinkSync(listening.socket);
      } catch {
        /* gone */
      }
    }
  };

  const tcp = parseListen(api.listen);
  const bindTcp = async (attempt: number): Promise<void> => {
    retry = null;
    if (closed || !tcp) return;
    const s = serve("tcp");
    try {
      await listenOn(s, tcp);
    } catch (err) {
      s.close();
      const code = (err as NodeJS.ErrnoException).code;
      const delay = LISTEN_RETRY_MS[Math.min(attempt, LISTEN_RETRY_MS.length - 1)]!;
      listening.tcpError = `cannot listen on ${api.listen}: ${code ?? (err as Error).message}${code === "EADDRINUSE" ? " (the port is taken)" : ""}; retrying`;
      if (attempt === 0)
        log.error("API TCP listener failed; the daemon runs on, the unix socket serves, binding is retried", { listen: api.listen, err: (err as Error).message, code });
      if (!closed) retry = setTimeout(() => void bindTcp(attempt + 1).catch(logRejection(log, "API TCP listener failed", { listen: api.listen })), delay);
      if (attempt === 0) ctx.apiStateChanged?.();
      return;
    }
    if (closed) {
      s.close();
      return;
    }
    servers.push(s);
    // the address really bound (a host name in api.listen resolved): auth decisions follow it
    const a = s.address();
    listening.tcp = a && typeof a === "object" ? (a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`) : api.listen;
    if (attempt > 0) log.info("API TCP listener bound after retrying", { listen: listening.tcp, attempts: attempt + 1 });
    if (listening.tcpError) {
      listening.tcpError = null;
      ctx.apiStateChanged?.();
    }
  };
  await bindTcp(0);
  if (api.socket) {
    const s = serve("unix");
    try {
      socketIno = (await listenUnix(s, api.socket)).ino;
      servers.push(s);
      listening.socket = api.socket;
    } catch (err) {
      log.error("cannot create the API unix socket; running without it (CLI commands need --endpoint)", {
        socket: api.socket,
        err: explainSocketError(err as NodeJS.ErrnoException, api.socket),
      });
    }
  }
  log.info("API listening", { listen: listening.tcp, socket: listening.socket, token: api.token ? "set" : "none" });
  return {
    get tcp() {
      return listening.tcp;
    },
    get socket() {
      return listening.socket;
    },
    get tcpError() {
      return listening.tcpError;
    },
    close,
  };
}
