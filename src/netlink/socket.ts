// A NETLINK_ROUTE socket on the event loop (thin wrapper over the addon's handle API).
import os from "node:os";
import { loadNative, type NativeAddon } from "./native.js";

const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(os.constants.errno)) if (!errnoNames.has(num)) errnoNames.set(num, name);

/** "EEXIST" for 17 and so on (this platform's numbering); "E<n>" when unknown. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

/** This platform's number for an errno name ("ENOBUFS" → 105 on Linux x86/arm). */
export function errnoNumber(name: keyof typeof os.constants.errno): number {
  return os.constants.errno[name];
}

export interface NetlinkSocketOptions {
  /** RTNLGRP_* multicast groups to join (none for a request socket) */
  groups?: readonly number[];
  /** SO_RCVBUF(FORCE) in bytes; 0/undefined keeps the kernel default */
  rcvbufBytes?: number;
  /** room per received datagram (default 64 KiB); tests lower it to make the kernel's datagrams arrive truncated */
  recvChunkBytes?: number;
  /**
   * Flood coalescing: under a flood of notifications, pause reading this long (ms) so that each
   * wake-up takes a batch instead of one or two datagrams. 0/undefined: off (request sockets,
   * whose dump answers must flow without pauses).
   */
  floodHoldMs?: number;
  /** each readable burst: one or more datagrams, concatenated */
  onData: (buf: Buffer) => void;
  /** a receive error; ENOBUFS means the kernel dropped messages (the socket stays usable) */
  onError: (errno: number) => void;
}

export class NetlinkSocket {
  private handle: number;
  private readonly native: NativeAddon;
  private portIdCache: number | undefined;

  private constructor(native: NativeAddon, opts: NetlinkSocketOptions) {
    this.native = native;
    const { onData, onError } = opts;
    this.handle = native.open(
      [...(opts.groups ?? [])],
      opts.rcvbufBytes ?? 0,
      (buf, errno) => {
        if (this.handle === 0) return; // closed meanwhile
        if (buf) onData(buf);
        else onError(errno);
      },
      opts.recvChunkBytes,
      opts.floodHoldMs ?? 0,
    );
  }

  /**
   * Open, bind (kernel-assigned port id), join the groups and start receiving. The socket keeps the
   * event loop alive until close() or unref(). Throws an Error with .code (EPERM, EMFILE, ...) on
   * failure, or code ERR_NETEVD_NATIVE_MISSING when the addon was not built.
   */
  static open(opts: NetlinkSocketOptions): NetlinkSocket {
    return new NetlinkSocket(loadNative(), opts);
  }

  get closed(): boolean {
    return this.handle === 0;
  }

  /** Send one request to the kernel. Throws an Error with .code (EBADF when closed). */
  send(buf: Buffer): number {
    return this.native.send(this.handle, buf);
  }

  /** The kernel-assigned netlink port id (nl_pid). */
  get portId(): number {
    this.portIdCache ??= this.native.portId(this.handle);
    return this.portIdCache;
  }

  /** How many times flood coalescing paused reading (0 when closed or without floodHoldMs). */
  get floodHolds(): number {
    return this.handle ? this.native.floodHolds(this.handle) : 0;
  }

  setRcvbuf(bytes: number): void {
    this.native.setRcvbuf(this.handle, bytes);
  }

  /** Discard everything queued on the socket; returns the number of datagrams dropped. */
  drain(): number {
    return this.native.drain(this.handle);
  }

  /**
   * Deliver everything the kernel has queued on this socket now, synchronously, through onData
   * (and onError), before returning. No-op when closed.
   */
  readNow(): void {
    if (this.handle) this.native.readNow(this.handle);
  }

  ref(): void {
    if (this.handle) this.native.ref(this.handle);
  }

  unref(): void {
    if (this.handle) this.native.unref(this.handle);
  }

  /** Idempotent; no callback runs after it returns. */
  close(): void {
    if (!this.handle) return;
    const h = this.handle;
    this.handle = 0;
    this.native.close(h);
  }
}
