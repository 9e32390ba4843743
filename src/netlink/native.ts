// Loads the netevd_native addon (build/Release/netevd_native.node, built by `node-gyp rebuild`)
// lazily, on first use, so modules that merely import the netlink client still load (and unit
// tests run) on machines where the addon was not built.
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { getSystemErrorName } from "node:util";
import { packageRoot } from "../package-root.js";

/** The raw addon exports. Handles are small positive integers, never reused. */
export interface NativeAddon {
  /**
   * A bound NETLINK_ROUTE socket joined to `groups` (RTNLGRP_* numbers), polled on the event loop.
   * onData gets every readable burst as one Buffer (datagrams concatenated), or (null, errno) on a
   * receive error; ENOBUFS (messages lost) keeps the socket usable. Throws an Error with .code.
   * rcvbufBytes <= 0 keeps the kernel default. A datagram larger than the receive room (64 KiB, or
   * recvChunk, which only tests lower) is dropped and reported as EMSGSIZE. floodHoldMs > 0 (at
   * most 100): under a flood (several wake-ups in a row, each finding data within 0.25 ms of the
   * last read) the poll pauses that long, so that the next read takes a whole batch; 0: never.
   */
  open(groups: number[], rcvbufBytes: number, onData: (buf: Buffer | null, errno: number) => void, recvChunk?: number, floodHoldMs?: number): number;
  /** how many times flood coalescing paused the poll */
  floodHolds(handle: number): number;
  /** sendto the kernel; returns the bytes sent; throws Error with .code (e.g. EBADF after close) */
  send(handle: number, buf: Buffer): number;
  /** the kernel-assigned nl_pid */
  portId(handle: number): number;
  /** idempotent */
  close(handle: number): void;
  setRcvbuf(handle: number, bytes: number): void;
  /** read and discard everything queued; returns the number of datagrams discarded */
  drain(handle: number): number;
  /**
   * read everything queued now and deliver it through the socket's onData before returning (at
   * most 64 batches); an exception thrown by onData propagates. Returns the batches delivered.
   */
  readNow(handle: number): number;
  /** the open socket keeps the event loop alive (default) */
  ref(handle: number): void;
  /** the open socket does not keep the event loop alive */
  unref(handle: number): void;
  /**
   * A handle (close/ref/unref) on /proc/sys/kernel/hostname, polled for the kernel's change
   * notification: onChange(null, 0) after each sethostname() (ours or another UTS namespace's: the
   * kernel's count is global), several quick ones possibly as one; onChange(null, errno) once when
   * the watch broke (it is stopped then). No timer: nothing runs while the name stays.
   */
  watchHostname(onChange: (_: null, errno: number) => void): number;
  /** prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL) */
  ambientClearAll(): void;
  /** prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap) */
  ambientRaise(cap: number): void;
  /** effective capability set of the calling thread as 16 hex digits, e.g. "0000000000001000" */
  capEffective(): string;
  /** glibc malloc_trim(0): the C heap's free memory back to the kernel; whether any was released */
  mallocTrim(): boolean;
  /** V8's Isolate::LowMemoryNotification(): memory-reducing full GCs, now */
  lowMemoryNotification(): void;
  /** V8::SetFlagsFromString, as node:v8's setFlagsFromString */
  setV8Flags(flags: string): void;
  /** n (1..256) bytes from getrandom(2); throws a RangeError outside that range */
  getRandom(n: number): Buffer;
  /** send to socketPath (default: the C environment's NOTIFY_SOCKET); false when there is none */
  sdNotify(message: string, socketPath?: string): boolean;
  /** execve(2); returns only by throwing */
  execve(file: string, argv: string[], envp: string[]): never;
  /** AF_UNIX SOCK_STREAM pair, both ends close-on-exec */
  socketpair(): [number, number];
  setCloexec(fd: number, on: boolean): void;
  /** SO_PEERCRED of a unix socket */
  peerCred(fd: number): { pid: number; uid: number; gid: number };
  /** prctl(PR_SET_NO_NEW_PRIVS, 1) */
  setNoNewPrivs(): void;
}

const ADDON_FILE = "netevd_native.node";
let cached: NativeAddon | undefined;

/** Where the addon is looked for: build/{Release,Debug} of the package that contains this file. */
export function addonCandidates(): string[] {
  const root = packageRoot();
  return root ? [path.join(root, "build", "Release", ADDON_FILE), path.join(root, "build", "Debug", ADDON_FILE)] : [];
}

/** A program built next to the addon (build/Release/<name>); throws when it is not built. */
export function nativeExecutable(name: string): string {
  for (const file of addonCandidates()) {
    const exe = path.join(path.dirname(file), name);
    if (existsSync(exe)) return exe;
  }
  throw new Error(`${name} not found next to the native addon; build it with \`npx node-gyp rebuild\``);
}

/** The addon, loaded on first call. Throws an Error with code "ERR_NETEVD_NATIVE_MISSING" if not built. */
export function loadNative(): NativeAddon {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const candidates = addonCandidates();
  for (const file of candidates) {
    if (existsSync(file)) {
      cached = require(file) as NativeAddon;
      return cached;
    }
  }
  const err = new Error(`netevd native addon not found (looked in ${candidates.join(", ") || "no package root"}); build it with \`npx node-gyp rebuild\``) as Error & {
    code: string;
  };
  err.code = "ERR_NETEVD_NATIVE_MISSING";
  throw err;
}

/** Whether the addon can be loaded (for tests and diagnostics). */
export function nativeAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}

/** Clear the ambient capability set (so hook scripts started later do not inherit capabilities). */
export function ambientRaise(cap: number): void {
  loadNative().ambientRaise(cap);
}

export function ambientClearAll(): void {
  loadNative().ambientClearAll();
}

/** The calling thread's effective capability set, 16 hex digits ("0000000000001000" = CAP_NET_ADMIN). */
export function capEffective(): string {
  return loadNative().capEffective();
}

/** Whether capability number `cap` (e.g. 12 = CAP_NET_ADMIN) is in the effective set. */
export function hasCapability(cap: number): boolean {
  return ((BigInt("0x" + capEffective()) >> BigInt(cap)) & 1n) === 1n;
}

/**
 * sd_notify(3): send `message` (e.g. "READY=1\nSTATUS=...") to $NOTIFY_SOCKET as process.env has it
 * (paths and "@abstract" names). Returns false when the variable is unset (not under systemd).
 */
export function sdNotify(message: string): boolean {
  const sock = process.env.NOTIFY_SOCKET;
  if (!sock) return false;
  return loadNative().sdNotify(message, sock);
}

/**
 * `n` (1..256) random bytes from the kernel's CSPRNG: getrandom(2) through the addon, or
 * /dev/urandom where the addon is not built (unit tests). What node:crypto's randomBytes gives,
 * without loading node:crypto (OpenSSL: about 1 MB of RSS) for a few bytes.
 */
export function randomBytes(n: number): Buffer {
  let native: NativeAddon | undefined;
  try {
    native = loadNative();
  } catch {
    /* not built: read the kernel's device instead */
  }
  if (native) return native.getRandom(n);
  const buf = Buffer.alloc(n);
  const fd = openSync("/dev/urandom", "r");
  try {
    let got = 0;
    while (got < n) got += readSync(fd, buf, got, n - got, null);
  } finally {
    closeSync(fd);
  }
  return buf;
}

/** V8::SetFlagsFromString (what node:v8's setFlagsFromString does, without loading node:v8). */
export function setV8Flags(flags: string): void {
  loadNative().setV8Flags(flags);
}

/** One datagram to the unix socket at `path` (journald's native protocol); throws on a send failure. */
export function sendDatagram(path: string, message: string): boolean {
  return loadNative().sdNotify(message, path);
}

/** Error with .code ("EBADF") and .errno from an errno the addon reported. */
function errnoError(errno: number, what: string): Error & { code: string; errno: number } {
  const code = getSystemErrorName(-errno);
  const err = new Error(`${what}: ${code}`) as Error & { code: string; errno: number };
  err.code = code;
  err.errno = errno;
  return err;
}

/**
 * Follow the kernel's host name: onChange() after each change (read the name then: os.hostname()),
 * onError once if the watch broke. Throws (Error with .code) when /proc/sys/kernel/hostname cannot
 * be opened. Costs no timer and no wake-up while the name stays.
 */
export function watchKernelHostname(onChange: () => void, onError: (err: Error & { code: string }) => void): { close(): void } {
  const native = loadNative();
  const handle = native.watchHostname((_buf, errno) => {
    if (errno === 0) onChange();
    else onError(errnoError(errno, "watching /proc/sys/kernel/hostname"));
  });
  return { close: () => native.close(handle) };
}
