// The privileged hook runner (hooks.user: root). The only netevd code that runs as root for longer
// than the start: it takes "run script S of hook directory D with environment E" requests from the
// unprivileged daemon, one JSON object per line, and checks every one of them again:
//   - the directory comes from the allow-list (the event name maps to `<scripts_dir>/<event>.d`);
//   - the script is a plain name found by discovery in that directory, and it, its directory and
//     every directory up to `/` are owned by root and not group- or world-writable;
//   - the environment is one the daemon could have built (names, values, sizes: checkHookEnv);
//   - argv is [path], nothing else.
// It answers with the run's log records and its result. It parses nothing else: no netlink, D-Bus,
// lease or HTTP input ever reaches it.
//
// Two ways in: an inherited socketpair end (started by hand as root, `netevd run` starts it before
// it drops privileges) or a listening unix socket handed over by systemd (netevd-hook-runner.socket),
// where only the daemon's user may connect (SO_PEERCRED).
import * as net from "node:net";
import { logRejection, type Logger } from "../../log.js";
import { hookDirName } from "../../hook-dirs.js";
import { validIfname } from "../../net/validate.js";
import { checkHookEnv } from "./env.js";
import { discoverMerged } from "./merge.js";
import { nativeExecutable } from "../../netlink/native.js";
import { HookLauncher } from "./launcher.js";
import { KILL_GRACE_MS, notRunResult, runScript, type HookLogger, type HookRunResult, type RunContext } from "./run.js";

/** One request line is at most this long (environments are at most a few hundred KiB). */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/** Runs at once per connection (hooks.max_parallel is at most 256). */
export const MAX_RUNS = 256;
/** Connections at once over systemd's socket (the daemon needs one; a restart briefly two). */
export const MAX_CONNECTIONS = 4;
/**
 * Root runs start through a launcher that lives only while runs are in flight: between runs, the
 * runner stays the only root process.
 */
let rootLauncher: HookLauncher | undefined;
/** hooks.timeout_sec's maximum. */
const MAX_TIMEOUT_SEC = 86400;

export interface RunRequest {
  id: number;
  event: string;
  script: string;
  eventId: string;
  link: string | null;
  env: Record<string, string>;
  timeoutSec: number;
  /** the script is one of networkd-dispatcher's directories (compat.networkd_dispatcher_dirs) */
  compat?: "networkd-dispatcher";
}

/** The base directories the runner takes scripts from (its own config, never the request). */
export interface RunnerDirs {
  scripts: readonly string[];
  networkdDispatcher: readonly string[];
}

export type RunnerMessage =
  { id: number; log: { level: "info" | "warn" | "error" | "debug"; msg: string; fields: Record<string, unknown> } } | { id: number; result: HookRunResult };

/** Checks a request's shape and values; returns the problem or undefined. */
export function checkRequest(r: unknown): string | undefined {
  if (typeof r !== "object" || r === null) return "not an object";
  const q = r as Record<string, unknown>;
  if (!Number.isSafeInteger(q.id) || (q.id as number) < 0) return "bad id";
  if (typeof q.event !== "string" || hookDirName(q.event) === undefined) return "event is not on the allow-list";
  if (typeof q.script !== "string" || !/^[^/\0]{1,255}$/.test(q.script) || q.script === "." || q.script === "..") return "script is not a plain file name";
  if (typeof q.eventId !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(q.eventId)) return "bad eventId";
  if (q.link !== null && (typeof q.link !== "string" || !validIfname(q.link, true))) return "bad link";
  if (typeof q.timeoutSec !== "number" || !(q.timeoutSec > 0 && q.timeoutSec <= MAX_TIMEOUT_SEC)) return "bad timeoutSec";
  if (q.compat !== undefined && q.compat !== "networkd-dispatcher") return "bad compat";
  return checkHookEnv(q.env);
}

/**
 * Serve one connection: run what it asks (after the checks) as this process's user, and stop its
 * runs (SIGTERM to each launcher, which ends every descendant) when it closes.
 */
export function serveConnection(sock: net.Socket, dirs: RunnerDirs, log: Logger): Promise<void> {
  let buf = "";
  let closed = false;
  const running = new Map<number, AbortController>();
  const send = (m: RunnerMessage): void => {
    if (!closed) sock.write(`${JSON.stringify(m)}\n`);
  };

  const handle = (line: string): void => {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      log.warn("hook runner: request is not JSON; closing the connection");
      sock.destroy();
      return;
    }
    const problem = checkRequest(req);
    const q = req as RunRequest;
    const ctx: RunContext = { event: String(q?.event), eventId: String(q?.eventId), link: typeof q?.link === "string" ? q.link : null };
    const refuse = (error: string): void => {
      log.warn("hook runner: request refused", { reason: error });
      if (Number.isSafeInteger(q?.id)) {
        send({
          id: q.id,
          result: notRunResult(ctx, String(q.script), "", `refused by the hook runner: ${error}`),
        });
      }
    };
    if (problem !== undefined) {
      refuse(problem);
      return;
    }
    if (running.size >= MAX_RUNS || running.has(q.id)) {
      refuse("too many runs, or a duplicate id");
      return;
    }
    // the script must be one discovery accepts (the same merge of admin and vendor directories as
    // the daemon's), with root as the only trusted owner
    const d = discoverMerged(q.compat === "networkd-dispatcher" ? dirs.networkdDispatcher : dirs.scripts, q.event, 0);
    const script = d.scripts.find((s) => s.name === q.script);
    if (!script) {
      const skipped = d.skipped.find((s) => s.name === q.script);
      refuse(d.dirProblem ?? (skipped ? `${q.script}: ${skipped.reason}` : `${q.script}: not in ${d.dir}`));
      return;
    }
    const abort = new AbortController();
    running.set(q.id, abort);
    const relay = (level: "info" | "warn" | "error" | "debug") => (msg: string, fields: Record<string, unknown>) => send({ id: q.id, log: { level, msg, fields } });
    const hookLog: HookLogger = { info: relay("info"), warn: relay("warn"), error: relay("error"), debug: relay("debug") };
    // (runScript never rejects; should it, the daemon still gets an answer for the id)
    void runScript(script, ctx, q.env, { timeoutSec: q.timeoutSec, daemonUid: 0, log: hookLog, noNewPrivs: false, signal: abort.signal, launcher: launcherFor(log) }).then(
      (result) => {
        running.delete(q.id);
        send({ id: q.id, result });
      },
      (err: unknown) => {
        running.delete(q.id);
        refuse(`run failed: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
  };

  return new Promise<void>((resolve) => {
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.length > 0) handle(line);
      }
      if (buf.length > MAX_REQUEST_BYTES) {
        log.warn("hook runner: request too long; closing the connection");
        sock.destroy();
      }
    });
    const done = (): void => {
      if (closed) return;
      closed = true;
      for (const a of running.values()) a.abort();
      const wait = (): void => {
        if (running.size === 0) resolve();
        else setTimeout(wait, 50);
      };
      wait();
    };
    sock.on("error", done);
    sock.on("close", done);
  });
}

/** Where the root runner listens under systemd (netevd-hook-runner.socket). */
export const RUNNER_SOCKET = "/run/netevd-hook-runner.sock";

/**
 * The runner's main loop. `fd`: an inherited socketpair end (one connection, the runner exits when
 * it closes). `listenFd`: a listening socket from systemd (connections from uid `allowUid` only;
 * runs until SIGTERM). Resolves when done.
 */
export async function runRunner(o: { dirs: RunnerDirs; log: Logger; fd?: number; listenFd?: number; allowUid?: number; peerUid?: (fd: number) => number }): Promise<void> {
  if (o.fd !== undefined) {
    const sock = new net.Socket({ fd: o.fd, readable: true, writable: true });
    const stop = (): void => {
      sock.destroy();
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", () => {
      /* the terminal's Ctrl-C: the daemon decides; we end when it closes the socket */
    });
    process.on("SIGHUP", () => {});
    o.log.info("hook runner ready", { mode: "inherited socket", pid: process.pid, dirs: o.dirs });
    await serveConnection(sock, o.dirs, o.log);
    return;
  }
  if (o.listenFd === undefined || o.allowUid === undefined || !o.peerUid) throw new Error("runRunner: fd, or listenFd with allowUid and peerUid");
  const conns = new Set<Promise<void>>();
  const socks = new Set<net.Socket>();
  const server = net.createServer({ pauseOnConnect: true }, (sock) => {
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
    let uid = -1;
    try {
      if (typeof fd === "number" && fd >= 0) uid = o.peerUid!(fd);
    } catch {
      /* not a unix socket */
    }
    if (uid !== o.allowUid) {
      o.log.warn("hook runner: connection refused", { peerUid: uid, allowed: o.allowUid });
      sock.destroy();
      return;
    }
    if (socks.size >= MAX_CONNECTIONS) {
      o.log.warn("hook runner: too many connections; refused", { max: MAX_CONNECTIONS });
      sock.destroy();
      return;
    }
    const p = serveConnection(sock, o.dirs, o.log);
    conns.add(p);
    socks.add(sock);
    void p.catch(logRejection(o.log, "hook runner: connection failed")).finally(() => {
      conns.delete(p);
      socks.delete(sock);
    });
    sock.resume();
  });
  await new Promise<void>((res, rej) => {
    server.once("error", rej);
    server.listen({ fd: o.listenFd }, () => res());
  });
  o.log.info("hook runner ready", { mode: "socket", pid: process.pid, dirs: o.dirs, allowUid: o.allowUid });
  await new Promise<void>((res) => {
    // stop: no new connection; every connection's runs end (SIGTERM, SIGKILL after the grace period)
    const stop = (): void => {
      server.close();
      for (const c of socks) c.destroy();
      res();
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  await Promise.all([...conns]);
}

function launcherFor(log: Logger): HookLauncher {
  rootLauncher ??= new HookLauncher(() => nativeExecutable("netevd-hookexec"), {
    exitWhenIdle: true,
    graceMs: KILL_GRACE_MS,
    onDied: (reason, inFlight) => log.error("hook launcher died; the runs in flight failed", { reason, inFlight }),
  });
  return rootLauncher;
}
