// The daemon's side of the privileged hook runner (hooks.user: root): sends run requests, relays the
// run's log records into the daemon's log, resolves with the result. If the runner is gone, runs
// fail with that reason (and are recorded as failed), the daemon goes on; over systemd's socket the
// next run connects again (the runner may have been restarted).
import * as net from "node:net";
import type { HookScript } from "./discover.js";
import { notRunResult, type HookLogger, type HookRunResult, type RemoteRunner, type RunContext } from "./run.js";
import type { RunnerMessage, RunRequest } from "./runner.js";

interface Pending {
  resolve: (r: HookRunResult) => void;
  log: HookLogger;
  script: HookScript;
  ctx: RunContext;
}

const LEVELS = new Set(["info", "warn", "error", "debug"]);
/** A runner message longer than this is a broken runner (results and log records are small). */
const MAX_MESSAGE = 1024 * 1024;

function connectSocket(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    sock.once("connect", () => {
      sock.removeListener("error", reject);
      resolve(sock);
    });
    sock.once("error", reject);
  });
}

export class RunnerClient implements RemoteRunner {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buf = "";
  private gone: string | null = null;
  private sock!: net.Socket;
  private closing = false;

  /** `path`: the runner's socket, connected again after a loss; none for an inherited socket */
  private constructor(
    sock: net.Socket,
    private readonly path?: string,
  ) {
    this.attach(sock);
  }

  private attach(sock: net.Socket): void {
    this.sock = sock;
    this.buf = "";
    this.gone = null;
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => {
      if (this.sock === sock) this.onData(chunk);
    });
    sock.on("error", (e) => {
      if (this.sock === sock) this.fail(`hook runner connection: ${e.message}`);
    });
    sock.on("close", () => {
      if (this.sock === sock) this.fail("hook runner gone");
    });
  }

  /** Over an inherited socket (started by hand as root). */
  static fromFd(fd: number): RunnerClient {
    return new RunnerClient(new net.Socket({ fd, readable: true, writable: true }));
  }

  /** Over the runner's unix socket (systemd); rejects when nobody listens. */
  static async connect(path: string): Promise<RunnerClient> {
    return new RunnerClient(await connectSocket(path), path);
  }

  get closed(): boolean {
    return this.gone !== null;
  }

  close(): void {
    this.closing = true;
    this.sock.end();
  }

  async run(script: HookScript, ctx: RunContext, env: Record<string, string>, timeoutSec: number, log: HookLogger): Promise<HookRunResult> {
    if (this.gone !== null && this.path !== undefined && !this.closing) {
      try {
        const sock = await connectSocket(this.path);
        if (this.gone !== null) this.attach(sock);
        else sock.destroy(); // another run reconnected first
        log.info("hook runner connected again", { socket: this.path });
      } catch (e) {
        this.gone = `hook runner unreachable: ${(e as Error).message}`;
      }
    }
    if (this.gone !== null) return this.failed(script, ctx, this.gone, log);
    const id = this.nextId++;
    const req: RunRequest = { id, event: ctx.event, script: script.name, eventId: ctx.eventId, link: ctx.link, env, timeoutSec };
    if (ctx.compat !== undefined) req.compat = ctx.compat;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve, log, script, ctx });
      this.sock.write(`${JSON.stringify(req)}\n`);
    });
  }

  private failed(script: HookScript, ctx: RunContext, error: string, log: HookLogger): HookRunResult {
    log.error("hook failed", { event: ctx.event, eventId: ctx.eventId, link: ctx.link, script: script.name, path: script.path, error });
    return notRunResult(ctx, script.name, script.path, error);
  }

  private fail(reason: string): void {
    if (this.gone !== null) return;
    this.gone = reason;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.resolve(this.failed(p.script, p.ctx, reason, p.log));
    }
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    for (let nl = this.buf.indexOf("\n"); nl >= 0; nl = this.buf.indexOf("\n")) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      let m: RunnerMessage;
      try {
        m = JSON.parse(line) as RunnerMessage;
      } catch {
        continue;
      }
      const p = this.pending.get(m.id);
      if (!p) continue;
      if ("result" in m) {
        this.pending.delete(m.id);
        // what the daemon knows (script path as discovered) wins over what came back
        p.resolve({ ...m.result, script: p.script.name, path: p.script.path });
      } else if ("log" in m && LEVELS.has(m.log.level)) {
        p.log[m.log.level](String(m.log.msg), m.log.fields ?? {});
      }
    }
    if (this.buf.length > MAX_MESSAGE) {
      this.buf = "";
      this.sock.destroy();
    }
  }
}
