// A sink's durable queue: append-only segment files of one encoded event per line, plus an "acked"
// position (segment number and byte offset) that says which prefix has been delivered.
//
// Durability: appended lines are handed to write(2) on the next event-loop turn (a process crash or
// SIGKILL loses at most the events of the current turn), and fdatasync(2) runs at most every
// `syncMs` (power loss loses at most the last `syncMs` of events; 0 = after every write batch).
// The acked position is written (tmp + rename) on the same schedule and never fsynced on its own:
// after a power loss it may move back, which only redelivers (at least once).
//
// Bounded: the segment files never exceed `maxBytes` together. Making room drops the oldest segment
// whole (its undelivered events are counted as dropped). Memory holds the undelivered events,
// which are at most the on-disk bytes. Nothing here blocks: all file I/O is async and serialised
// on one promise chain; the caller's `append` only queues.
import { constants } from "node:fs";
import { join } from "node:path";
import {
  closeFd,
  fdatasyncFd,
  lstatPath,
  mkdirs,
  openFd,
  readdirNames,
  readFd,
  readFdToEnd,
  removeFile,
  renamePath,
  truncatePath,
  writeFd,
  writeFileText,
} from "../../fs-async.js";

export interface SpoolRecord {
  /** spool-local sequence number, increasing */
  seq: number;
  /** the encoded event (one JSON line, without the newline) */
  body: string;
  /** bytes on disk, newline included */
  bytes: number;
  seg: number;
  /** byte offset just after this record in its segment */
  end: number;
  /** event time, ms since the epoch (for the oldest-queued age) */
  at: number;
}

export interface SpoolOptions {
  maxBytes: number;
  syncMs: number;
  /** called for events dropped to make room (or found corrupt on recovery) */
  onDrop?: (count: number, why: "full" | "too-large" | "corrupt") => void;
  onError?: (err: Error) => void;
  /** event time of an encoded record (recovery only) */
  timeOf?: (body: string) => number;
}

interface Segment {
  no: number;
  /** bytes assigned (written or queued for writing) */
  size: number;
  /** records of this segment not yet acked or dropped */
  live: number;
}

const SEG_RE = /^(\d{12})\.seg$/;
const segName = (no: number) => `${String(no).padStart(12, "0")}.seg`;
const ACKED = "acked";
// never through a symlink planted in the spool directory (hooks may run as the same user)
const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW;
const READ = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Count newlines of a file in fixed-size chunks (its size is not trusted to fit in memory). */
async function countLines(path: string): Promise<number> {
  const fd = await openFd(path, READ);
  try {
    const buf = Buffer.alloc(64 * 1024);
    let n = 0;
    for (;;) {
      const bytesRead = await readFd(fd, buf, 0, buf.length, null);
      if (bytesRead === 0) return n;
      for (let i = buf.indexOf(0x0a); i >= 0 && i < bytesRead; i = buf.indexOf(0x0a, i + 1)) n++;
    }
  } finally {
    await closeFd(fd);
  }
}

/** A small file's first bytes (the acked position: a few dozen bytes). */
async function readHead(path: string, max: number): Promise<string> {
  const fd = await openFd(path, READ);
  try {
    const buf = Buffer.alloc(max);
    const bytesRead = await readFd(fd, buf, 0, max, 0);
    return buf.toString("utf8", 0, bytesRead);
  } finally {
    await closeFd(fd);
  }
}

export class Spool {
  private readonly segs: Segment[] = [];
  private readonly records: SpoolRecord[] = [];
  /** index of the first record in `records` (records before it were acked/dropped: compacted lazily) */
  private head = 0;
  private seq = 0;
  private diskBytes = 0;
  private queuedBytes = 0;
  private acked = { seg: 0, off: 0 };
  private ackDirty = false;
  private writes: Array<{ seg: number; data: string }> = [];
  private unlinks: number[] = [];
  private writeScheduled = false;
  private syncTimer: NodeJS.Timeout | null = null;
  private dirty = new Set<number>();
  private handle: { no: number; fd: number } | null = null;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  dropped = 0;
  readonly segMax: number;

  private constructor(
    readonly dir: string,
    private readonly o: SpoolOptions,
  ) {
    // small segments keep "drop the oldest segment" fine-grained and the cap exact
    this.segMax = Math.max(4096, Math.min(1 << 20, Math.floor(o.maxBytes / 8)));
  }

  /** Open (creating) the spool directory and recover what a previous run left undelivered. */
  static async open(dir: string, o: SpoolOptions): Promise<Spool> {
    const s = new Spool(dir, o);
    await mkdirs(dir, 0o700);
    await s.recover();
    return s;
  }

  get depth(): number {
    return this.records.length - this.head;
  }

  /** bytes of undelivered events */
  get bytes(): number {
    return this.queuedBytes;
  }

  /** bytes of the segment files (the capped quantity) */
  get fileBytes(): number {
    return this.diskBytes;
  }

  get oldestAt(): number | null {
    return this.records[this.head]?.at ?? null;
  }

  /** Queue an encoded event. Never blocks, never throws for a full spool (the oldest are dropped). */
  append(body: string, at: number): void {
    if (this.closed) return;
    const bytes = Buffer.byteLength(body) + 1;
    // an event larger than a segment gets a segment of its own; only one past half the cap is refused
    if (bytes > this.o.maxBytes / 2) {
      this.dropped++;
      this.o.onDrop?.(1, "too-large");
      return;
    }
    let cur = this.segs[this.segs.length - 1];
    if (!cur || (cur.size > 0 && cur.size + bytes > this.segMax)) {
      cur = { no: (cur?.no ?? this.acked.seg) + 1, size: 0, live: 0 };
      this.segs.push(cur);
      this.purgeDelivered();
    }
    while (this.diskBytes + bytes > this.o.maxBytes && this.segs.length > 1) this.dropOldestSegment();
    const rec: SpoolRecord = { seq: ++this.seq, body, bytes, seg: cur.no, end: cur.size + bytes, at };
    cur.size += bytes;
    cur.live++;
    this.diskBytes += bytes;
    this.queuedBytes += bytes;
    this.records.push(rec);
    const last = this.writes[this.writes.length - 1];
    if (last && last.seg === cur.no) last.data += `${body}\n`;
    else this.writes.push({ seg: cur.no, data: `${body}\n` });
    this.scheduleWrite();
  }

  /** The oldest undelivered records, at most `n`. */
  peek(n: number): SpoolRecord[] {
    return this.records.slice(this.head, this.head + n);
  }

  /** Records up to and including `seq` were delivered (ones dropped meanwhile are skipped). */
  ack(seq: number): void {
    while (this.head < this.records.length && (this.records[this.head] as SpoolRecord).seq <= seq) {
      const r = this.records[this.head++] as SpoolRecord;
      this.queuedBytes -= r.bytes;
      this.acked = { seg: r.seg, off: r.end };
      const seg = this.segs.find((s) => s.no === r.seg);
      if (seg) seg.live--;
    }
    this.ackDirty = true;
    this.purgeDelivered();
    this.compact();
    this.scheduleSync();
  }

  /** Segments fully delivered go, except the one being appended to. */
  private purgeDelivered(): void {
    while (this.segs.length > 1 && (this.segs[0] as Segment).live === 0) {
      const s = this.segs.shift() as Segment;
      this.diskBytes -= s.size;
      this.unlinks.push(s.no);
    }
  }

  /** Write and sync everything queued; further appends are ignored. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    this.run(true);
    await this.chain;
    const h = this.handle;
    this.handle = null;
    if (h) await closeFd(h.fd).catch(() => {});
  }

  /** Resolves once everything queued so far is written and synced (tests, shutdown). */
  flush(): Promise<void> {
    this.run(true);
    return this.chain;
  }

  private dropOldestSegment(): void {
    const s = this.segs.shift() as Segment;
    let n = 0;
    while (this.head < this.records.length && (this.records[this.head] as SpoolRecord).seg === s.no) {
      this.queuedBytes -= (this.records[this.head++] as SpoolRecord).bytes;
      n++;
    }
    this.diskBytes -= s.size;
    // its lines may not even be written yet
    this.writes = this.writes.filter((w) => w.seg !== s.no);
    this.unlinks.push(s.no);
    this.acked = { seg: s.no + 1, off: 0 };
    this.ackDirty = true;
    this.compact();
    if (n) {
      this.dropped += n;
      this.o.onDrop?.(n, "full");
    }
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records.splice(0, this.head);
      this.head = 0;
    }
  }

  private scheduleWrite(): void {
    if (this.writeScheduled) return;
    this.writeScheduled = true;
    setImmediate(() => {
      this.writeScheduled = false;
      this.run(this.o.syncMs === 0);
      this.scheduleSync();
    });
  }

  private scheduleSync(): void {
    if (this.syncTimer || this.closed) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      this.run(true);
    }, this.o.syncMs);
  }

  /**
   * One more step on the I/O chain: unlinks, queued writes, then (if `sync`) fdatasync and the acked
   * file. A failure goes to onError: the chain never rejects (await `this.chain` to wait for it).
   */
  private run(sync: boolean): void {
    this.chain = this.chain.then(() => this.io(sync)).catch((err: Error) => this.o.onError?.(err));
  }

  private async io(sync: boolean): Promise<void> {
    // dropped or delivered segments go before new lines are written: the files stay under the cap.
    // (Unlinking before the acked file moves on is safe: recovery starts at the oldest segment left.)
    // both taken now: lines appended during the awaits below may have dropped segments not in `unlinks`
    const unlinks = this.unlinks;
    this.unlinks = [];
    const writes = this.writes;
    this.writes = [];
    for (const no of unlinks) {
      if (this.handle?.no === no) {
        this.dirty.delete(no);
        await closeFd(this.handle.fd).catch(() => {});
        this.handle = null;
      }
      await removeFile(join(this.dir, segName(no)));
    }
    for (const w of writes) {
      if (this.handle?.no !== w.seg) {
        // a segment is synced before its handle closes: later syncs only see the current one
        if (this.handle && this.dirty.delete(this.handle.no)) await fdatasyncFd(this.handle.fd);
        if (this.handle) await closeFd(this.handle.fd).catch(() => {});
        this.handle = null;
        this.handle = { no: w.seg, fd: await openFd(join(this.dir, segName(w.seg)), APPEND, 0o600) };
      }
      await writeFd(this.handle.fd, w.data);
      this.dirty.add(w.seg);
    }
    if (!sync) return;
    if (this.dirty.size) {
      if (this.handle && this.dirty.has(this.handle.no)) await fdatasyncFd(this.handle.fd);
      this.dirty.clear();
    }
    if (this.ackDirty) {
      this.ackDirty = false;
      const tmp = join(this.dir, `${ACKED}.tmp`);
      await writeFileText(tmp, `${this.acked.seg} ${this.acked.off}\n`, 0o600);
      await renamePath(tmp, join(this.dir, ACKED));
    }
  }

  private async recover(): Promise<void> {
    try {
      const m = /^(\d{1,12}) (\d{1,15})\n?$/.exec(await readHead(join(this.dir, ACKED), 64));
      if (m) this.acked = { seg: Number(m[1]), off: Number(m[2]) };
    } catch {
      /* none yet, or unreadable after a power loss: start from the oldest segment (redelivers) */
    }
    const nos = (await readdirNames(this.dir))
      .map((f) => SEG_RE.exec(f)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const sizes = new Map<number, number>();
    for (const no of nos) {
      if (no < this.acked.seg) {
        await removeFile(join(this.dir, segName(no)));
        continue;
      }
      const st = await lstatPath(join(this.dir, segName(no)));
      if (st.isFile()) sizes.set(no, st.size); // anything else is not ours: left alone, never read
    }
    // over the cap (it was lowered): the oldest segments go unread
    let total = [...sizes.values()].reduce((a, b) => a + b, 0);
    let over = 0;
    for (const no of [...sizes.keys()]) {
      if (total <= this.o.maxBytes) break;
      total -= sizes.get(no) as number;
      sizes.delete(no);
      over += await countLines(join(this.dir, segName(no)));
      await removeFile(join(this.dir, segName(no)));
    }
    if (over) {
      this.dropped += over;
      this.o.onDrop?.(over, "full");
    }
    let bad = 0;
    for (const [no, size] of sizes) {
      // bounded: what is read here is under the cap
      const fd = await openFd(join(this.dir, segName(no)), READ);
      const buf = await readFdToEnd(fd).finally(() => closeFd(fd));
      // a line cut by a crash is not an event: cut it off so appends start on a line boundary
      const complete = buf.lastIndexOf(0x0a) + 1;
      if (complete < size) await truncatePath(join(this.dir, segName(no)), complete);
      const seg: Segment = { no, size: complete, live: 0 };
      this.segs.push(seg);
      this.diskBytes += complete;
      let pos = no === this.acked.seg && this.acked.off <= complete ? this.acked.off : 0;
      while (pos < complete) {
        const nl = buf.indexOf(0x0a, pos);
        const body = buf.toString("utf8", pos, nl);
        const bytes = nl + 1 - pos;
        pos = nl + 1;
        const at = this.timeOfLine(body);
        if (at === null) {
          bad++;
          continue;
        }
        this.records.push({ seq: ++this.seq, body, bytes, seg: no, end: pos, at });
        this.queuedBytes += bytes;
        seg.live++;
      }
    }
    if (bad) {
      this.dropped += bad;
      this.o.onDrop?.(bad, "corrupt");
    }
    this.purgeDelivered();
  }

  private timeOfLine(body: string): number | null {
    try {
      if (this.o.timeOf) {
        const t = this.o.timeOf(body);
        return Number.isFinite(t) ? t : null;
      }
      JSON.parse(body);
      return Date.now();
    } catch {
      return null;
    }
  }
}
