// The configured event sinks (`sinks:`): opens each one's spool under system.state_dir, reads its
// secret and CA files, and fans events out. Reload keeps a sink whose config did not change
// (queue, counters, retry state), restarts a changed one (its spool carries over), and closes a
// removed one (its spool stays on disk).
import { constants } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { configEquals, type Config, type SinkConfig } from "../../config/types.js";
import type { NetevdEvent } from "../../events/types.js";
import type { Logger } from "../../log.js";
import { closeFd, fstatFd, openFd, readFdToEnd } from "../../fs-async.js";
import { sourceHost } from "./cloudevent.js";
import { httpTransport, SinkWorker, type SinkStats } from "./deliver.js";
import { Spool } from "./spool.js";

export { SinkWorker, type SinkStats } from "./deliver.js";

const MAX_SECRET_BYTES = 4096;
const MAX_CA_BYTES = 1 << 20;
const MAX_HELD = 10_000;

/**
 * Read a small file that must be a regular file; `secret` additionally refuses one that others
 * (neither owner nor group) can read or write. Returns the contents or throws with the reason.
 */
export async function readGuardedFile(path: string, what: string, max: number, secret: boolean): Promise<Buffer> {
  // O_NONBLOCK: a FIFO put there must not hang the open
  const fd = await openFd(path, constants.O_RDONLY | constants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`${what} ${path}: ${err.code === "ENOENT" ? "does not exist" : err.code === "EACCES" ? "not readable by the daemon's user" : err.message}`);
  });
  try {
    const st = await fstatFd(fd);
    if (!st.isFile()) throw new Error(`${what} ${path}: not a regular file`);
    if (secret && (st.mode & 0o007) !== 0) {
      throw new Error(`${what} ${path}: readable or writable by others (mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}); chmod o-rwx it`);
    }
    if (st.size > max) throw new Error(`${what} ${path}: larger than ${max} bytes`);
    const buf = await readFdToEnd(fd);
    if (buf.length > max) throw new Error(`${what} ${path}: larger than ${max} bytes`);
    return buf;
  } finally {
    await closeFd(fd);
  }
}

/** The HMAC key from a secret file: its bytes without a trailing newline (what `echo secret > file` wrote). */
export function secretKey(buf: Buffer): Buffer {
  let end = buf.length;
  while (end > 0 && (buf[end - 1] === 0x0a || buf[end - 1] === 0x0d)) end--;
  if (end === 0) throw new Error("is empty");
  return buf.subarray(0, end);
}

interface SinkFiles {
  secret: Buffer | null;
  ca: Buffer | undefined;
  problem: string | undefined;
}

const sameFiles = (a: SinkFiles, b: SinkFiles): boolean =>
  a.problem === b.problem &&
  (a.secret === null ? b.secret === null : b.secret !== null && a.secret.equals(b.secret)) &&
  (a.ca === undefined ? b.ca === undefined : b.ca !== undefined && a.ca.equals(b.ca));

interface Running {
  files: SinkFiles;
  cfg: SinkConfig;
  stateDir: string;
  worker: SinkWorker;
  closeTransport: () => void;
}

export class SinkSet {
  private running = new Map<string, Running>();
  private readonly host = sourceHost(hostname());

  constructor(private readonly o: { log: Logger }) {}

  private applying: Promise<void> | null = null;
  /** events that came while sinks were being (re)started: handed to them once they run */
  private held: NetevdEvent[] = [];

  /**
   * Start the sinks of `config` (stopping removed/changed ones); calls are serialised. A sink that
   * cannot start is reported, never fatal. Events meanwhile are held, not lost.
   */
  apply(config: Config): Promise<void> {
    const prev = this.applying ?? Promise.resolve();
    const next = prev
      .then(() => this.applyNow(config))
      .finally(() => {
        if (this.applying !== next) return;
        this.applying = null;
        const held = this.held;
        this.held = [];
        for (const e of held) this.submit(e);
      });
    this.applying = next;
    return next;
  }

  private async applyNow(config: Config): Promise<void> {
    const want = new Map(config.sinks.map((s) => [s.name, s]));
    for (const name of this.failedStart.keys()) if (!want.has(name)) this.failedStart.delete(name);
    const reread = new Map<string, SinkFiles>();
    for (const [name, r] of this.running) {
      const next = want.get(name);
      if (next && configEquals(next as never, r.cfg as never) && r.stateDir === config.system.state_dir) {
        // a reload re-reads the secret and CA files: a rotated secret or a fixed mode takes effect
        const files = await this.readFiles(next);
        if (sameFiles(files, r.files)) continue;
        reread.set(name, files);
      }
      await this.stop(name);
    }
    for (const cfg of config.sinks) {
      if (this.running.has(cfg.name)) continue;
      await this.start(cfg, config.system.state_dir, reread.get(cfg.name));
    }
  }

  /** The secret and CA files, read now: their problems make the sink "misconfigured", not fatal. */
  private async readFiles(cfg: SinkConfig): Promise<SinkFiles> {
    const problems: string[] = [];
    let secret: Buffer | null = null;
    if (cfg.secret_file) {
      try {
        secret = secretKey(await readGuardedFile(cfg.secret_file, "secret_file", MAX_SECRET_BYTES, true));
      } catch (err) {
        problems.push((err as Error).message.startsWith("secret_file") ? (err as Error).message : `secret_file ${cfg.secret_file} ${(err as Error).message}`);
      }
    }
    let ca: Buffer | undefined;
    if (cfg.ca_file) {
      try {
        ca = await readGuardedFile(cfg.ca_file, "ca_file", MAX_CA_BYTES, false);
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
    return { secret, ca, problem: problems.join("; ") || undefined };
  }

  private async start(cfg: SinkConfig, stateDir: string, files?: SinkFiles): Promise<void> {
    const log = this.o.log.child({ sink: cfg.name });
    const { secret, ca, problem: misconfigured } = files ?? (await this.readFiles(cfg));
    let spool: Spool;
    try {
      spool = await Spool.open(join(stateDir, "sinks", cfg.name), {
        maxBytes: cfg.spool_max_bytes,
        syncMs: cfg.spool_sync_ms,
        timeOf: (body) => Date.parse((JSON.parse(body) as { time: string }).time),
        onDrop: (n, why) => {
          log.warn("sink spool dropped events", { sink: cfg.name, count: n, why });
        },
        onError: (err) => log.error("sink spool I/O failed", { sink: cfg.name, err: err.message }),
      });
    } catch (err) {
      // no durable spool: the sink is reported failed and takes no events
      log.error("sink spool unusable; the sink is off", { sink: cfg.name, dir: join(stateDir, "sinks", cfg.name), err: (err as Error).message });
      this.failedStart.set(cfg.name, `spool directory ${join(stateDir, "sinks", cfg.name)}: ${(err as Error).message}`);
      return;
    }
    let t: ReturnType<typeof httpTransport>;
    try {
      t = httpTransport(cfg, ca);
    } catch (err) {
      // node:https is loaded for the first https sink: a node without TLS support fails here
      await spool.close();
      log.error("sink transport unusable; the sink is off", { sink: cfg.name, url: cfg.url, err: (err as Error).message });
      this.failedStart.set(cfg.name, `transport for ${cfg.url}: ${(err as Error).message}`);
      return;
    }
    this.failedStart.delete(cfg.name);
    if (misconfigured) log.error("sink cannot deliver until fixed (events are queued)", { sink: cfg.name, problem: misconfigured });
    const worker = new SinkWorker(cfg, {
      spool,
      post: t.post,
      secret,
      hostname: this.host,
      log,
      misconfigured,
    });
    this.running.set(cfg.name, { cfg, stateDir, worker, closeTransport: t.close, files: { secret, ca, problem: misconfigured } });
    log.info("sink started", { sink: cfg.name, url: cfg.url, queued: spool.depth, signed: secret !== null });
    worker.kick();
  }

  private readonly failedStart = new Map<string, string>();

  private async stop(name: string): Promise<void> {
    const r = this.running.get(name);
    if (!r) return;
    this.running.delete(name);
    await r.worker.close();
    r.closeTransport();
  }

  submit(e: NetevdEvent): void {
    if (this.applying) {
      // bounded like the history: a reload takes milliseconds, so this stays tiny in practice
      if (this.held.length < MAX_HELD) this.held.push(e);
      else this.o.log.warn("event not spooled: sinks are restarting and the hold buffer is full", { id: e.id });
      return;
    }
    for (const r of this.running.values()) r.worker.submit(e);
  }

  health(): Record<string, { state: string; ok: boolean; detail?: string }> {
    const out: Record<string, { state: string; ok: boolean; detail?: string }> = {};
    for (const [name, r] of this.running) out[`sink/${name}`] = r.worker.health();
    for (const [name, why] of this.failedStart) out[`sink/${name}`] = { state: "off", ok: false, detail: why };
    return out;
  }

  stats(): SinkStats[] {
    return [...this.running.values()].map((r) => r.worker.stats());
  }

  async close(): Promise<void> {
    await Promise.all([...this.running.keys()].map((n) => this.stop(n)));
  }
}
