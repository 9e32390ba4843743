// rtnetlink clients: RtnlRequester (dumps and route/rule changes on a private socket) and
// RtnlMonitor (multicast notifications). Both run on the event loop through the native addon.
import os from "node:os";
import util from "node:util";
import * as C from "./constants.js";
import { decodeMessages } from "./decode.js";
import { describeRoute, describeRule, encodeDumpRequest, encodeRoute, encodeRule, type DumpFamily, type DumpKind, type RouteSpec, type RuleSpec } from "./encode.js";
import { LE } from "./wire.js";
import { errnoName, NetlinkSocket } from "./socket.js";
import type { AddressRecord, LinkRecord, RouteRecord, RtMessage, RuleRecord } from "./types.js";

export type { DumpFamily, DumpKind, RouteSpec, RuleSpec } from "./encode.js";

const E = os.constants.errno;

/** A request the kernel refused (or that failed on the way): errno and its name, and what was asked. */
export class NetlinkError extends Error {
  /** positive errno (17 for EEXIST) */
  readonly errno: number;
  /** "EEXIST", "ENOENT", "EPERM", ... */
  readonly code: string;
  /** what was asked, e.g. "add route 10.0.0.0/24 via 10.1.1.1 table 300 proto 110" */
  readonly request: string;
  /** the kernel's extended-ACK message, when it gave one */
  readonly extAck?: string;

  constructor(errno: number, request: string, extAck?: string) {
    const code = errnoName(errno);
    const text = util.getSystemErrorMap().get(-errno)?.[1];
    super(`${request}: ${code}${text ? ` (${text})` : ""}${extAck ? `: ${extAck}` : ""}`);
    this.name = "NetlinkError";
    this.errno = errno;
    this.code = code;
    this.request = request;
    if (extAck) this.extAck = extAck;
  }
}

/** Rejection of requests still pending (or issued) after close(). */
export class NetlinkClosedError extends Error {
  readonly code = "ERR_NETLINK_CLOSED";
  constructor(request: string) {
    super(`${request}: the netlink socket was closed`);
    this.name = "NetlinkClosedError";
  }
}

export interface DumpResult {
  links: LinkRecord[];
  addrs: AddressRecord[];
  routes: RouteRecord[];
  rules: RuleRecord[];
}

export interface RtnlRequesterOptions {
  /** reject a request the kernel has not answered after this long (default 30 s; it always answers) */
  timeoutMs?: number;
  /** receive buffer for responses (default: kernel default; dumps are flow-controlled anyway) */
  rcvbufBytes?: number;
}

const DUMP_INTR_RETRIES = 3;

interface Job {
  dump: boolean;
  desc: string;
  /** the request with seq 0; the seq is written in at each send */
  req: Buffer;
  seq: number;
  items: RtMessage[];
  interrupted: boolean;
  attempts: number;
  timer?: NodeJS.Timeout;
  resolve: (items: RtMessage[]) => void;
  reject: (err: Error) => void;
}

const DUMP_NAMES: Record<DumpKind, string> = { link: "links", addr: "addresses", route: "routes", rule: "rules" };

/**
 * One request socket, no multicast groups. Requests run one at a time in call order (the kernel
 * allows one dump per socket at a time, and serializing keeps ACK matching trivial), each matched
 * by its sequence number, which increases by one per request sent. The socket holds the event loop
 * only while a request is pending, so a CLI exits naturally when it is done.
 */
export interface RtnlRequesterStats {
  /** requests sent to the kernel, dump retries included */
  sent: number;
  /** dumps re-run because the kernel flagged them NLM_F_DUMP_INTR */
  dumpRetries: number;
  /** requests that ended with an error (kernel errno, timeout, socket error) */
  failed: number;
}

export class RtnlRequester {
  readonly stats: RtnlRequesterStats = { sent: 0, dumpRetries: 0, failed: 0 };
  private readonly sock: NetlinkSocket;
  private readonly timeoutMs: number;
  private seq = 0;
  private readonly queue: Job[] = [];
  private current: Job | null = null;
  private closed = false;

  private constructor(opts: RtnlRequesterOptions) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.sock = NetlinkSocket.open({
      groups: [],
      rcvbufBytes: opts.rcvbufBytes ?? 0,
      onData: (buf) => this.onData(buf),
      onError: (errno) => this.onSocketError(errno),
    });
    this.sock.unref();
  }

  /** Open the request socket. Throws an Error with .code on failure (or ERR_NETEVD_NATIVE_MISSING). */
  static open(opts: RtnlRequesterOptions = {}): RtnlRequester {
    return new RtnlRequester(opts);
  }

  /** The socket's netlink port id: notifications caused by our requests carry it as nlmsg_pid. */
  get portId(): number {
    return this.sock.portId;
  }

  /**
   * Dump all objects of a kind (family 0 = both IPv4 and IPv6 for addr/route/rule). Resolves with
   * the decoded records (op "new"); entries that are not links/addresses/routes/rules of IPv4/IPv6
   * are left out. An interrupted dump (NLM_F_DUMP_INTR: the table changed under it) is retried up
   * to 3 times, then rejected with NetlinkError EINTR.
   */
  dump(kind: DumpKind, family: DumpFamily = 0): Promise<RtMessage[]> {
    const desc = `dump ${family ? `IPv${family} ` : ""}${DUMP_NAMES[kind] ?? kind}`;
    let req: Buffer;
    try {
      req = encodeDumpRequest(kind, family, 0);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.enqueue(true, desc, req);
  }

  /** Links, addresses, routes of all tables and rules, IPv4 and IPv6. */
  async dumpAll(): Promise<DumpResult> {
    const [links, addrs, routes, rules] = await Promise.all([this.dump("link"), this.dump("addr"), this.dump("route"), this.dump("rule")]);
    return {
      links: links.flatMap((m) => (m.kind === "link" ? [m.link] : [])),
      addrs: addrs.flatMap((m) => (m.kind === "addr" ? [m.addr] : [])),
      routes: routes.flatMap((m) => (m.kind === "route" ? [m.route] : [])),
      rules: rules.flatMap((m) => (m.kind === "rule" ? [m.rule] : [])),
    };
  }

  /** RTM_NEWROUTE (create; EEXIST if it exists unless spec.replace). Invalid specs reject with TypeError/RangeError. */
  addRoute(spec: RouteSpec): Promise<void> {
    return this.ackRequest(
      () => encodeRoute("new", spec, 0),
      () => describeRoute("new", spec),
    );
  }

  /** RTM_DELROUTE (ENOENT if no such route). */
  delRoute(spec: RouteSpec): Promise<void> {
    return this.ackRequest(
      () => encodeRoute("del", spec, 0),
      () => describeRoute("del", spec),
    );
  }

  /** RTM_NEWRULE (EEXIST if an identical rule exists). */
  addRule(spec: RuleSpec): Promise<void> {
    return this.ackRequest(
      () => encodeRule("new", spec, 0),
      () => describeRule("new", spec),
    );
  }

  /** RTM_DELRULE (ENOENT if no such rule). */
  delRule(spec: RuleSpec): Promise<void> {
    return this.ackRequest(
      () => encodeRule("del", spec, 0),
      () => describeRule("del", spec),
    );
  }

  /**
   * Any request that the kernel answers with an ACK. `msg` is a complete netlink message; its flags
   * should include NLM_F_REQUEST|NLM_F_ACK and its seq is overwritten.
   */
  request(msg: Buffer, description: string): Promise<void> {
    return this.ackRequest(
      () => Buffer.from(msg),
      () => description,
    );
  }

  /** Close the socket; pending and queued requests reject with NetlinkClosedError. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
    const jobs = this.current ? [this.current, ...this.queue] : [...this.queue];
    this.current = null;
    this.queue.length = 0;
    for (const j of jobs) {
      if (j.timer) clearTimeout(j.timer);
      j.reject(new NetlinkClosedError(j.desc));
    }
  }

  private ackRequest(encode: () => Buffer, describe: () => string): Promise<void> {
    let req: Buffer;
    let desc: string;
    try {
      req = encode();
      desc = describe();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.enqueue(false, desc, req).then(() => undefined);
  }

  private enqueue(dump: boolean, desc: string, req: Buffer): Promise<RtMessage[]> {
    if (this.closed) return Promise.reject(new NetlinkClosedError(desc));
    return new Promise<RtMessage[]>((resolve, reject) => {
      this.queue.push({ dump, desc, req, seq: 0, items: [], interrupted: false, attempts: 0, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.current || this.closed) return;
    const job = this.queue.shift();
    if (!job) {
      this.sock.unref();
      return;
    }
    this.current = job;
    this.sock.ref();
    this.send(job);
  }

  private send(job: Job): void {
    this.seq = this.seq >= 0xffffffff ? 1 : this.seq + 1;
    job.seq = this.seq;
    job.items = [];
    job.interrupted = false;
    job.attempts++;
    this.stats.sent++;
    // nlmsg_seq, host byte order
    new DataView(job.req.buffer, job.req.byteOffset, job.req.byteLength).setUint32(8, job.seq, LE);
    try {
      this.sock.send(job.req);
    } catch (err) {
      const e = err as Error & { errno?: number };
      this.finish(job, e.errno ? new NetlinkError(e.errno, job.desc) : e);
      return;
    }
    if (job.timer) clearTimeout(job.timer);
    job.timer = setTimeout(() => {
      if (this.current === job) this.finish(job, new NetlinkError(E.ETIMEDOUT, `${job.desc} (no answer in ${this.timeoutMs} ms)`));
    }, this.timeoutMs);
  }

  private finish(job: Job, result: Error | RtMessage[]): void {
    if (job.timer) clearTimeout(job.timer);
    job.timer = undefined;
    if (this.current === job) this.current = null;
    if (result instanceof Error) {
      this.stats.failed++;
      job.reject(result);
    } else job.resolve(result);
    this.pump();
  }

  private onData(buf: Buffer): void {
    const job = this.current;
    if (!job) return; // a late answer to a request that timed out
    for (const d of decodeMessages(buf)) {
      if (d.type === "invalid") {
        // We cannot know what it belonged to; if it was ours, the answer is incomplete.
        this.finish(job, new NetlinkError(E.EPROTO, `${job.desc} (malformed answer: ${d.reason})`));
        return;
      }
      if (d.seq !== job.seq) continue; // stale: an earlier attempt or a timed-out request
      if (d.flags & C.NLM_F_DUMP_INTR) job.interrupted = true;
      switch (d.type) {
        case "msg":
          if (job.dump) job.items.push(d.msg);
          break;
        case "ignored":
          break;
        case "done":
          if (!job.dump) break;
          if (d.dumpErrno) {
            this.finish(job, new NetlinkError(d.dumpErrno, job.desc, d.extAckMsg));
          } else if (job.interrupted) {
            if (job.attempts > DUMP_INTR_RETRIES) {
              this.finish(job, new NetlinkError(E.EINTR, `${job.desc} (interrupted ${job.attempts} times by concurrent changes)`));
            } else {
              this.stats.dumpRetries++;
              this.send(job); // retry with a new seq: the rest of this buffer is stale now
            }
          } else {
            this.finish(job, job.items);
          }
          return;
        case "error":
          if (d.error === 0) {
            if (!job.dump) {
              this.finish(job, []);
              return;
            }
          } else {
            this.finish(job, new NetlinkError(d.error, job.desc, d.extAckMsg));
            return;
          }
          break;
      }
    }
  }

  private onSocketError(errno: number): void {
    // Lost or unreadable answers: the pending request cannot complete reliably.
    const job = this.current;
    if (job) this.finish(job, new NetlinkError(errno, `${job.desc} (receiving the answer failed)`));
  }
}

export interface RtnlMonitorOptions {
  /** SO_RCVBUF(FORCE); default 4 MiB */
  rcvbufBytes?: number;
  /** RTNLGRP_* numbers; default link, IPv4/IPv6 addresses, routes and rules */
  groups?: readonly number[];
  /** one call per kernel batch (one readable burst), messages in kernel order; not called for empty batches */
  onMessages: (msgs: RtMessage[]) => void;
  /**
   * Notifications were lost: the kernel dropped them (ENOBUFS) or one arrived truncated (EMSGSIZE,
   * MSG_TRUNC). The caller must re-read the state.
   */
  onOverflow: (cause: "ENOBUFS" | "EMSGSIZE") => void;
  /** room per datagram (tests only: a small value makes real datagrams arrive truncated) */
  recvChunkBytes?: number;
  /** flood coalescing pause in ms (default 1; 0 reads every wake-up at once): see NetlinkSocketOptions */
  floodHoldMs?: number;
  /** other receive errors, and exceptions thrown by onMessages/onOverflow (rethrown when absent) */
  onError?: (err: Error) => void;
}

export interface RtnlMonitorStats {
  /** decoded RtMessages delivered */
  messages: number;
  /** kernel batches received (including ones with nothing to deliver) */
  batches: number;
  /** malformed netlink messages skipped */
  decodeErrors: number;
  /** ENOBUFS events */
  overflows: number;
  /** truncated datagrams (EMSGSIZE), each followed by onOverflow like an ENOBUFS */
  truncated: number;
  /** datagrams discarded after an overflow (older than the loss; the resync covers them) */
  discarded: number;
  /** well-formed messages that are not RtMessages (e.g. AF_BRIDGE link messages), skipped */
  ignored: number;
}

export const DEFAULT_MONITOR_RCVBUF = 4 * 1024 * 1024;
/**
 * Under a flood, each wake-up of the event loop found one or two notifications, and waking up cost
 * ten times decoding them. A 1 ms pause then lets a wake-up take ten or more in one batch; a
 * notification after a quiet moment (a carrier change) is read at once, as ever.
 */
export const DEFAULT_FLOOD_HOLD_MS = 1;

/** The multicast socket. It keeps the event loop alive until close() (or unref()). */
export class RtnlMonitor {
  readonly stats: RtnlMonitorStats = { messages: 0, batches: 0, decodeErrors: 0, overflows: 0, truncated: 0, ignored: 0, discarded: 0 };
  private readonly sock: NetlinkSocket;
  private readonly opts: RtnlMonitorOptions;

  /** Throws an Error with .code (EPERM, ...) or ERR_NETEVD_NATIVE_MISSING when the socket cannot be opened. */
  constructor(opts: RtnlMonitorOptions) {
    this.opts = opts;
    this.sock = NetlinkSocket.open({
      groups: opts.groups ?? C.DEFAULT_MONITOR_GROUPS,
      rcvbufBytes: opts.rcvbufBytes ?? DEFAULT_MONITOR_RCVBUF,
      ...(opts.recvChunkBytes !== undefined && { recvChunkBytes: opts.recvChunkBytes }),
      floodHoldMs: opts.floodHoldMs ?? DEFAULT_FLOOD_HOLD_MS,
      onData: (buf) => this.onData(buf),
      onError: (errno) => this.onSocketError(errno),
    });
  }

  get closed(): boolean {
    return this.sock.closed;
  }

  get portId(): number {
    return this.sock.portId;
  }

  setRcvbuf(bytes: number): void {
    this.sock.setRcvbuf(bytes);
  }

  /** How many times flood coalescing paused reading (a flood was seen). */
  get floodHolds(): number {
    return this.sock.floodHolds;
  }

  ref(): void {
    this.sock.ref();
  }

  unref(): void {
    this.sock.unref();
  }

  /**
   * Deliver the notifications the kernel has already queued, now, through onMessages (and
   * onOverflow), before returning: what happened in the kernel before some other news is applied
   * before that news, whichever socket the event loop would have read first.
   */
  readNow(): void {
    this.sock.readNow();
  }

  /** Idempotent; no callback runs after it returns. */
  close(): void {
    this.sock.close();
  }

  private onData(buf: Buffer): void {
    const msgs: RtMessage[] = [];
    for (const d of decodeMessages(buf)) {
      if (d.type === "msg") msgs.push(d.msg);
      else if (d.type === "invalid") this.stats.decodeErrors++;
      else this.stats.ignored++;
    }
    this.stats.batches++;
    this.stats.messages += msgs.length;
    if (msgs.length) this.guard(() => this.opts.onMessages(msgs));
  }

  private onSocketError(errno: number): void {
    if (errno === E.ENOBUFS) {
      this.stats.overflows++;
      // What is still queued is older than the loss (its successors may be the dropped ones):
      // discard it, so that everything received from now on is newer than the loss. The caller
      // re-reads the state, which covers what was discarded.
      this.stats.discarded += this.sock.drain();
      this.guard(() => this.opts.onOverflow("ENOBUFS"));
    } else if (errno === E.EMSGSIZE) {
      // a notification too large for the receive room was cut off and skipped: the model may now
      // miss a change, exactly as after an overflow (what is queued is fine: no drain)
      this.stats.truncated++;
      this.guard(() => this.opts.onOverflow("EMSGSIZE"));
    } else {
      const err = new NetlinkError(errno, "receive rtnetlink notifications");
      if (this.opts.onError) this.guard(() => this.opts.onError?.(err));
      // without onError a receive error is dropped: the socket stays usable
    }
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (!this.opts.onError) throw err; // becomes an uncaughtException, like any event callback's
      try {
        this.opts.onError(err instanceof Error ? err : new Error(String(err)));
      } catch (err2) {
        queueMicrotask(() => {
          throw err2;
        });
      }
    }
  }
}
