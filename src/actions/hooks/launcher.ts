// The hook launcher: one long-lived `netevd-hookexec -s` per process that runs hooks, started once,
// which starts each run on request (native/hookexec.c, serve()). Forking this big process for every
// run cost milliseconds on the kernel event → hook path; forking the small launcher costs little.
// Each run is still supervised exactly as by the per-run launcher (fds closed, NoNewPrivs,
// subreaper, argv [path]). Output and exit statuses come back as frames over one pipe.
//
// If the launcher dies, the runs in flight fail (with that reason, logged by their caller) and the
// next run starts a new launcher. It runs as this process's user with its ambient capabilities, so
// it is started after those are set (the daemon starts it at start; otherwise the first run does).
import { spawn, type ChildProcess } from "node:child_process";
import { constants as osConstants } from "node:os";
import type { Socket } from "node:net";

/** Request and reply types (native/hookexec.c). */
const REQ_RUN = 1,
  REQ_KILL = 2;
const REP_OUT = 1,
  REP_ERR = 2,
  REP_EXIT = 3,
  REP_FAIL = 4;
const SIGTERM = osConstants.signals.SIGTERM,
  SIGKILL = osConstants.signals.SIGKILL;
/** A reply frame is at most 9 + 64 KiB; a longer one is a broken launcher. */
const MAX_REPLY = 9 + 65536;

const SIGNAL_NAMES = new Map<number, string>(Object.entries(osConstants.signals).map(([name, n]) => [n, name]));

/** How a run ended: its exit code or signal, or why it could not start / was lost. */
export type LaunchEnd = { exitCode: number | null; signal: string | null } | { error: string };

export interface LaunchHandlers {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  /** once, after every byte of output */
  end(how: LaunchEnd): void;
}

export interface LaunchHandle {
  /** SIGTERM to the run's supervisor: everything of the run gets SIGTERM, SIGKILL after the grace period */
  terminate(): void;
  /** SIGKILL to the supervisor (the backstop should it not end) */
  kill(): void;
}

export interface LauncherOptions {
  /** the launcher died with runs in flight or could not be started */
  onDied?(reason: string, inFlight: number): void;
  /**
   * End the launcher whenever no run is in flight (the next run starts one): for the root runner,
   * so that no root process is left between runs besides the runner itself.
   */
  exitWhenIdle?: boolean;
  /** between SIGTERM and SIGKILL when a run is ended (timeout, stop) */
  graceMs: number;
}

function errnoName(errno: number): string {
  for (const [name, n] of Object.entries(osConstants.errno)) if (n === errno) return name;
  return `errno ${errno}`;
}

export class HookLauncher {
  private child: ChildProcess | null = null;
  private readonly runs = new Map<number, LaunchHandlers>();
  private nextId = 1;
  private buf: Buffer = Buffer.alloc(0);

  constructor(
    private readonly executable: () => string,
    private readonly events: LauncherOptions,
  ) {}

  /** The launcher's pid (tests), undefined when none runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Start the launcher now (else the first run starts it); returns why it cannot start. */
  start(): string | undefined {
    if (this.child) return undefined;
    let exe: string;
    try {
      exe = this.executable();
    } catch (e) {
      const why = `hook launcher could not start: ${(e as Error).message}`;
      this.events.onDied?.(why, 0);
      return why;
    }
    const child = spawn(exe, ["-s", "-g", String(this.events.graceMs)], {
      cwd: "/",
      env: {},
      shell: false,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
      windowsHide: true,
    });
    this.child = child;
    this.buf = Buffer.alloc(0);
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      if (this.child === child) this.onData(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-1000);
    });
    const gone = (reason: string): void => {
      if (this.child !== child) return;
      this.child = null;
      const inFlight = [...this.runs.values()];
      this.runs.clear();
      const why = `hook launcher ${reason}${stderr.trim() ? `: ${stderr.trim()}` : ""}`;
      if (inFlight.length > 0 || reason.startsWith("could not")) this.events.onDied?.(why, inFlight.length);
      for (const h of inFlight) h.end({ error: why });
    };
    child.once("error", (e) => {
      if (child.pid === undefined) gone(`could not start: ${(e as NodeJS.ErrnoException).code ?? e.message}`);
    });
    // "close", not "exit": frames it sent before it died are still read (each run's end included)
    child.once("close", (code, signal) => {
      gone(signal ? `died (${signal})` : `exited (${code})`);
    });
    child.stdin.on("error", () => {
      /* EPIPE: the exit event says the rest */
    });
    this.unrefAll();
    return undefined;
  }

  /**
   * Start `path` with argv [path] and `env`. The handlers get its output and how it ended (also
   * when the launcher cannot be started or dies).
   */
  launch(path: string, env: Record<string, string>, opts: { noNewPrivs: boolean }, h: LaunchHandlers): LaunchHandle {
    const problem = this.start();
    const child = this.child;
    const id = this.nextId++;
    if (this.nextId > 0xffffffff) this.nextId = 1;
    if (!child?.stdin || child.pid === undefined) {
      queueMicrotask(() => h.end({ error: problem ?? "hook launcher could not start" }));
      return { terminate() {}, kill() {} };
    }
    const parts: Buffer[] = [Buffer.from(`${path}\0`)];
    for (const [k, v] of Object.entries(env)) parts.push(Buffer.from(`${k}=${v}\0`));
    const body = Buffer.concat(parts);
    const head = Buffer.alloc(4 + 1 + 4 + 1);
    head.writeUInt32LE(1 + 4 + 1 + body.length, 0);
    head.writeUInt8(REQ_RUN, 4);
    head.writeUInt32LE(id, 5);
    head.writeUInt8(opts.noNewPrivs ? 1 : 0, 9);
    this.runs.set(id, h);
    this.busy();
    child.stdin.write(Buffer.concat([head, body]));
    const signal = (sig: number): void => {
      if (!this.runs.has(id) || this.child !== child) return;
      const req = Buffer.alloc(4 + 1 + 4 + 1);
      req.writeUInt32LE(6, 0);
      req.writeUInt8(REQ_KILL, 4);
      req.writeUInt32LE(id, 5);
      req.writeUInt8(sig, 9);
      child.stdin!.write(req);
    };
    return { terminate: () => signal(SIGTERM), kill: () => signal(SIGKILL) };
  }

  /**
   * End the launcher: runs still in flight end as at a stop (SIGTERM, SIGKILL after the grace
   * period) and fail here; a later run starts a new launcher.
   */
  close(): void {
    const child = this.child;
    if (!child) return;
    this.child = null;
    const inFlight = [...this.runs.values()];
    this.runs.clear();
    for (const h of inFlight) h.end({ error: "hook launcher closed" });
    child.stdin?.end();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let off = 0;
    while (this.buf.length - off >= 4) {
      const len = this.buf.readUInt32LE(off);
      if (len < 5 || len > MAX_REPLY) {
        this.child?.kill("SIGKILL");
        this.buf = Buffer.alloc(0);
        return;
      }
      if (this.buf.length - off - 4 < len) break;
      const type = this.buf.readUInt8(off + 4);
      const id = this.buf.readUInt32LE(off + 5);
      const data = this.buf.subarray(off + 9, off + 4 + len);
      off += 4 + len;
      const h = this.runs.get(id);
      if (!h) continue;
      if (type === REP_OUT) h.stdout(data);
      else if (type === REP_ERR) h.stderr(data);
      else if (type === REP_EXIT || type === REP_FAIL) {
        this.runs.delete(id);
        if (this.runs.size === 0) this.idle();
        const v = data.length >= 4 ? data.readInt32LE(0) : -1;
        if (type === REP_FAIL) h.end({ error: `cannot start: ${errnoName(v)}` });
        else if ((v & 0x7f) === 0) h.end({ exitCode: (v >> 8) & 0xff, signal: null });
        else h.end({ exitCode: null, signal: SIGNAL_NAMES.get(v & 0x7f) ?? `signal ${v & 0x7f}` });
      }
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(off));
  }

  /** While runs are in flight the launcher keeps the event loop alive; idle, it does not. */
  private busy(): void {
    this.child?.ref();
    for (const s of [this.child?.stdin, this.child?.stdout, this.child?.stderr]) (s as Socket | null | undefined)?.ref?.();
  }

  private idle(): void {
    if (this.events.exitWhenIdle && this.runs.size === 0 && this.child) {
      const child = this.child;
      this.child = null; // its exit is no news: nothing was in flight
      child.stdin?.end();
      return;
    }
    this.unrefAll();
  }

  private unrefAll(): void {
    this.child?.unref();
    for (const s of [this.child?.stdin, this.child?.stdout, this.child?.stderr]) (s as Socket | null | undefined)?.unref?.();
  }
}
