// dhclient lease files → backend state. inotify (fs.watch) on the lease DIRECTORIES, since the files
// may not exist yet, are kept open by dhclient (MODIFY, never CLOSE_WRITE) and are rewritten on
// start and release. A change is read after a short debounce; a half-written tail is left for the
// next change. Per interface, the last well-formed block of the most recently written file is the
// current lease; it is reported as DHCP_* fields (the model turns only changes into facts), and a
// released or expired one is dropped from the model. No timers at idle except one at the next expiry.
import { watch, readFileSync, statSync, type FSWatcher } from "node:fs";
import { closeFd, fstatFd, openFd, readFd, readdirNames } from "../fs-async.js";
import { basename, dirname, join } from "node:path";
import type { Config } from "../config/index.js";
import { compileGlob, hasGlobChars, type GlobMatcher } from "../config/glob.js";
import { logRejection, type Logger } from "../log.js";
import { monotonicMs } from "../time.js";
import { validIfname } from "../net/validate.js";
import { DHCP_KEYS, LEASE_LIMITS, leaseExpired, leaseFields, parseLeases, type Lease } from "./lease.js";
import type { BackendSink, BackendSource, SourceHealth } from "./backend.js";

const DEBOUNCE_MS = 50;
/** setTimeout's limit; a later expiry is re-checked then */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** problems remembered per file (so each is logged once) */
const MAX_LOGGED = 1000;

interface LeaseFile {
  mtimeMs: number;
  size: number;
  leases: Map<string, Lease>;
  /** problems already logged: their keys (kind and content, not line), kept across rewrites */
  logged: Set<string>;
}

interface WatchedDir {
  dir: string;
  matchers: GlobMatcher[];
  watcher: FSWatcher | null;
  /** watching an ancestor until the directory exists */
  waitingOn: string | null;
  ino: number;
}

/** The ifindex of an interface, from the kernel model (or sysfs when no model is at hand). */
export type ResolveIndex = (name: string) => number | undefined;

function sysfsIndex(name: string): number | undefined {
  if (!validIfname(name)) return undefined;
  try {
    const n = Number(readFileSync(`/sys/class/net/${name}/ifindex`, "utf8").trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export class DhclientSource implements BackendSource {
  readonly backend = "dhclient" as const;
  private readonly dirs = new Map<string, WatchedDir>();
  private readonly files = new Map<string, LeaseFile>();
  private readonly debounce = new Map<string, NodeJS.Timeout>();
  private readonly reading = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();
  /** interface → ifindex, for every interface with a current lease in the model */
  private readonly reported = new Map<string, number>();
  private readonly unknownIfaces = new Set<string>();
  private expiryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private started = false;

  constructor(
    private readonly log: Logger,
    private readonly sink: BackendSink,
    private readonly config: () => Config,
    private readonly resolveIndex: ResolveIndex = sysfsIndex,
  ) {}

  start(): void {
    const patterns = this.config().backends.dhclient.lease_files;
    for (const p of patterns) {
      const dir = dirname(p);
      if (hasGlobChars(dir)) {
        this.log.error("lease_files: only the file name may be a glob; entry ignored", { pattern: p });
        continue;
      }
      let d = this.dirs.get(dir);
      if (!d) {
        d = { dir, matchers: [], watcher: null, waitingOn: null, ino: 0 };
        this.dirs.set(dir, d);
      }
      d.matchers.push(compileGlob(basename(p)));
    }
    if (this.dirs.size === 0) {
      this.log.warn("no dhclient lease files configured (backends.dhclient.lease_files): no dhclient events will fire");
      this.sink.unavailable();
      return;
    }
    for (const d of this.dirs.values()) this.watchDir(d);
    void this.initialRead().catch(logRejection(this.log, "reading the lease files failed"));
  }

  stop(): void {
    this.stopped = true;
    for (const d of this.dirs.values()) {
      d.watcher?.close();
      d.watcher = null;
    }
    for (const t of this.debounce.values()) clearTimeout(t);
    this.debounce.clear();
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
  }

  health(): SourceHealth {
    const present = [...this.dirs.values()].filter((d) => d.waitingOn === null && d.watcher);
    if (present.length === 0) {
      return {
        state: "no-lease-dir",
        ok: false,
        detail: `no lease directory exists (${[...this.dirs.keys()].join(", ") || "none configured"}): no dhclient events will fire until one appears`,
      };
    }
    return { state: "watching", ok: true, detail: `${this.files.size} lease file(s), ${this.reported.size} current lease(s)` };
  }

  /** Read every matching file once, then report the current leases and say we are attached. */
  private async initialRead(): Promise<void> {
    await Promise.all([...this.dirs.values()].map((d) => this.scanDir(d)));
    if (this.stopped) return;
    this.started = true;
    this.recompute();
    const present = [...this.dirs.values()].filter((d) => d.waitingOn === null).map((d) => d.dir);
    if (present.length === 0) {
      this.sink.unavailable();
      return;
    }
    this.log.info("dhclient lease files attached", { dirs: present, files: this.files.size, leases: this.reported.size });
    this.sink.attached(true);
  }

  // ---- directories ---------------------------------------------------------------------------

  /** Watch the directory; when it does not exist, watch its nearest existing ancestor until it does. */
  private watchDir(d: WatchedDir): void {
    if (this.stopped) return;
    d.watcher?.close();
    d.watcher = null;
    try {
      d.ino = statSync(d.dir).ino;
      d.watcher = watch(d.dir, { persistent: false }, (_type, name) => this.onDirEvent(d, name));
      d.watcher.on("error", () => this.onDirGone(d));
      if (d.waitingOn !== null) {
        d.waitingOn = null;
        this.log.info("lease directory appeared", { dir: d.dir });
        void this.scanDir(d)
          .then(() => {
            this.recompute();
            if (this.started) this.sink.attached(true);
          })
          .catch(logRejection(this.log, "reading the lease directory failed", { dir: d.dir }));
      }
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") {
        this.log.error("cannot watch lease directory", { dir: d.dir, err: (err as Error).message });
      }
    }
    let parent = dirname(d.dir);
    let child = d.dir;
    for (;;) {
      try {
        d.watcher = watch(parent, { persistent: false }, (_type, name) => {
          if (name === null || name === basename(child)) this.watchDir(d);
        });
        d.watcher.on("error", () => this.watchDir(d));
        break;
      } catch {
        if (parent === "/") return; // nothing to watch at all
        child = parent;
        parent = dirname(parent);
      }
    }
    if (d.waitingOn === null) this.log.warn("lease directory does not exist; waiting for it to appear", { dir: d.dir, watching: parent });
    d.waitingOn = parent;
  }

  private onDirEvent(d: WatchedDir, name: string | Buffer | null): void {
    if (name === null) {
      void this.scanDir(d)
        .then(() => this.recompute())
        .catch(logRejection(this.log, "reading the lease directory failed", { dir: d.dir }));
      return;
    }
    const file = String(name);
    if (d.matchers.some((m) => m(file))) {
      this.schedule(join(d.dir, file));
      return;
    }
    // the directory itself removed or replaced: back to waiting for it
    try {
      if (statSync(d.dir).ino !== d.ino) this.onDirGone(d);
    } catch {
      this.onDirGone(d);
    }
  }

  private onDirGone(d: WatchedDir): void {
    if (d.waitingOn === null) this.log.warn("lease directory removed; waiting for it to reappear", { dir: d.dir });
    for (const f of [...this.files.keys()]) if (dirname(f) === d.dir) this.files.delete(f);
    d.waitingOn = "";
    this.watchDir(d);
    this.recompute();
  }

  private async scanDir(d: WatchedDir): Promise<void> {
    if (d.waitingOn !== null) return;
    let names: string[];
    try {
      names = await readdirNames(d.dir);
    } catch (err) {
      this.log.warn("cannot list lease directory", { dir: d.dir, err: (err as Error).message });
      return;
    }
    await Promise.all(names.filter((n) => d.matchers.some((m) => m(n))).map((n) => this.readFile(join(d.dir, n))));
  }

  // ---- files ---------------------------------------------------------------------------------

  private schedule(path: string): void {
    const t = this.debounce.get(path);
    if (t) clearTimeout(t);
    this.debounce.set(
      path,
      setTimeout(() => {
        this.debounce.delete(path);
        void this.readFile(path)
          .then(() => this.recompute())
          .catch(logRejection(this.log, "reading the lease file failed", { path }));
      }, DEBOUNCE_MS),
    );
  }

  /** Read and parse one file (one read at a time per file; a change during a read reads again). */
  private readFile(path: string): Promise<void> {
    const inFlight = this.reading.get(path);
    if (inFlight) {
      this.dirty.add(path);
      return inFlight;
    }
    const p = (async () => {
      do {
        this.dirty.delete(path);
        await this.readOnce(path);
      } while (this.dirty.has(path) && !this.stopped);
    })().finally(() => this.reading.delete(path));
    this.reading.set(path, p);
    return p;
  }

  private async readOnce(path: string): Promise<void> {
    let text: string;
    let size: number;
    let mtimeMs: number;
    try {
      const fd = await openFd(path, "r");
      try {
        const st = await fstatFd(fd);
        if (!st.isFile()) return;
        size = st.size;
        mtimeMs = st.mtimeMs;
        // dhclient appends: when the file is too big, its current leases are at the end
        const len = Math.min(size, LEASE_LIMITS.file);
        const buf = Buffer.alloc(len);
        const bytesRead = await readFd(fd, buf, 0, len, size - len);
        text = buf.toString("latin1", 0, bytesRead);
        if (size > LEASE_LIMITS.file) text = text.slice(text.indexOf("\n") + 1);
      } finally {
        await closeFd(fd);
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        this.files.delete(path);
        return;
      }
      this.log.warn("cannot read lease file", { file: path, err: (err as Error).message });
      return;
    }
    const prev = this.files.get(path);
    // truncated for a rewrite (dhclient start, dhclient -r): the new content follows at once
    if (size === 0 && prev) return;
    const t0 = monotonicMs();
    const parsed = parseLeases(text);
    const ms = monotonicMs() - t0;
    const logged = prev?.logged ?? new Set<string>();
    const problems = [...parsed.problems];
    if (size > LEASE_LIMITS.file)
      problems.unshift({
        line: 0,
        key: "file too large",
        reason: `file larger than ${LEASE_LIMITS.file} bytes: only its last ${LEASE_LIMITS.file} bytes are read (line numbers count from there)`,
      });
    for (const p of problems) {
      const key = p.key;
      if (logged.has(key)) continue;
      if (logged.size >= MAX_LOGGED) logged.clear();
      logged.add(key);
      this.log.warn("lease file problem", { file: path, line: p.line, problem: p.reason });
    }
    this.log.debug("lease file read", { file: path, bytes: size, blocks: parsed.blocks, incomplete: parsed.incomplete, parseMs: +ms.toFixed(3) });
    this.files.set(path, { mtimeMs, size, leases: parsed.leases, logged });
  }

  // ---- current leases → model ----------------------------------------------------------------

  /** Per interface: the lease of the most recently written file; reported when current, dropped when not. */
  private recompute(): void {
    if (this.stopped || !this.started) return;
    const now = Date.now();
    const newest = new Map<string, { lease: Lease; mtimeMs: number }>();
    for (const [, f] of [...this.files].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      for (const [iface, lease] of f.leases) {
        const cur = newest.get(iface);
        if (!cur || f.mtimeMs >= cur.mtimeMs) newest.set(iface, { lease, mtimeMs: f.mtimeMs });
      }
    }
    let nextExpiry = Infinity;
    const current = new Set<string>();
    for (const [iface, { lease }] of newest) {
      if (leaseExpired(lease, now)) continue;
      const index = this.resolveIndex(iface);
      if (index === undefined) {
        if (!this.unknownIfaces.has(iface)) {
          this.unknownIfaces.add(iface);
          this.log.info("lease for an interface that does not exist; ignored", { link: iface });
        }
        continue;
      }
      this.unknownIfaces.delete(iface);
      const before = this.reported.get(iface);
      if (before !== undefined && before !== index) this.sink.linkGone(before, [...DHCP_KEYS]);
      current.add(iface);
      this.reported.set(iface, index);
      this.sink.linkState(index, iface, leaseFields(lease));
      if (typeof lease.expire === "number") nextExpiry = Math.min(nextExpiry, lease.expire);
    }
    for (const [iface, index] of [...this.reported]) {
      if (current.has(iface)) continue;
      this.reported.delete(iface);
      const lease = newest.get(iface)?.lease;
      this.log.info(lease ? "lease released or expired" : "lease gone", { link: iface, index });
      this.sink.linkGone(index, [...DHCP_KEYS]);
    }
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (nextExpiry !== Infinity) {
      this.expiryTimer = setTimeout(
        () => {
          this.expiryTimer = null;
          this.recompute();
        },
        Math.min(MAX_TIMER_MS, Math.max(0, nextExpiry - now) + 10),
      );
      this.expiryTimer.unref();
    }
  }
}
