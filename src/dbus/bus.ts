// A thin wrapper over dbus-next: connect to the system bus, call methods, receive signals by match
// rule. Everything else in netevd talks D-Bus through this file, so the library can be replaced.
import dbus from "dbus-next";

/**
 * Told of every method call and failed call (netevd's metrics, through connect.ts). This file imports
 * nothing of netevd: it is bundled apart (scripts/bundle.mjs), and a module it imported would be a
 * second instance there.
 */
export interface CallObserver {
  call(service: string): void;
  error(service: string): void;
}
let observer: CallObserver = { call() {}, error() {} };
export function observeCalls(o: CallObserver): void {
  observer = o;
}

export interface Signal {
  sender: string;
  path: string;
  iface: string;
  member: string;
  body: unknown[];
  /** the order in which this connection received it, among signals and replies (see callSeq) */
  seq?: number;
}

export interface CallSpec {
  destination: string;
  path: string;
  iface: string;
  member: string;
  signature?: string;
  body?: unknown[];
  timeoutMs?: number;
}

/** The system bus address, as dbus-next's systemBus() would take it. */
export function systemBusAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.DBUS_SYSTEM_BUS_ADDRESS || "unix:path=/var/run/dbus/system_bus_socket";
}

/**
 * The same address with each `unix:path=` written as dbus-next's `unix:socket=`. For `path=`,
 * dbus-next opens the socket through usocket, a native addon loaded for the purpose (about 3 MB of
 * RSS, measured), which only passing file descriptors needs; netevd passes none. For `socket=`, it
 * opens the same path with node:net.
 */
export function socketAddress(address: string): string {
  return address
    .split(";")
    .map((a) => {
      const colon = a.indexOf(":");
      if (colon < 0 || a.slice(0, colon).toLowerCase() !== "unix") return a;
      const params = a
        .slice(colon + 1)
        .split(",")
        .map((p) => (p.startsWith("path=") ? `socket=${p.slice(5)}` : p));
      return `${a.slice(0, colon)}:${params.join(",")}`;
    })
    .join(";");
}

export class DbusError extends Error {
  /** the D-Bus error name, e.g. org.freedesktop.resolve1.LinkBusy */
  readonly dbusName: string;
  constructor(dbusName: string, message: string) {
    super(`${dbusName}: ${message}`);
    this.dbusName = dbusName;
  }
}

export class SystemBus {
  private closedCbs: Array<(err?: Error) => void> = [];
  private signalCbs: Array<(s: Signal) => void> = [];
  private closed = false;
  /** rejecters of calls in flight: a closed connection fails them at once, not at their timeout */
  private readonly pending = new Set<() => void>();
  /** messages received so far: orders replies against signals (a reply's continuation runs later) */
  private received = 0;
  private readonly replySeq = new WeakMap<object, number>();

  private constructor(private readonly bus: dbus.MessageBus) {
    bus.on("message", (msg: dbus.Message) => {
      const seq = ++this.received;
      if (msg.type !== dbus.MessageType.SIGNAL) {
        this.replySeq.set(msg, seq);
        return;
      }
      const s: Signal = { sender: msg.sender, path: msg.path, iface: msg.interface, member: msg.member, body: msg.body as unknown[], seq };
      for (const cb of this.signalCbs) {
        try {
          cb(s);
        } catch (err) {
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    });
    bus.on("error", (err: Error) => this.markClosed(err));
    // dbus-next reports a dropped connection only through its connection object and stream
    const conn = (bus as unknown as { _connection?: NodeJS.EventEmitter & { stream?: NodeJS.EventEmitter } })._connection;
    conn?.on("end", () => this.markClosed(new Error("system bus connection closed")));
    conn?.stream?.on("close", () => this.markClosed(new Error("system bus connection closed")));
  }

  /** Connect and complete the Hello handshake, or reject (no bus, permission denied). */
  static connect(timeoutMs = 3000): Promise<SystemBus> {
    return new Promise((resolve, reject) => {
      let bus: dbus.MessageBus;
      try {
        bus = dbus.sessionBus({ busAddress: socketAddress(systemBusAddress()) });
      } catch (err) {
        reject(err);
        return;
      }
      const timer = setTimeout(() => {
        bus.disconnect();
        reject(new Error(`system bus did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      bus.once("connect", () => {
        clearTimeout(timer);
        resolve(new SystemBus(bus));
      });
      bus.once("error", (err: Error) => {
        clearTimeout(timer);
        try {
          bus.disconnect();
        } catch {
          /* already down */
        }
        reject(err);
      });
    });
  }

  get uniqueName(): string | null {
    return (this.bus as unknown as { name: string | null }).name;
  }

  async call(spec: CallSpec): Promise<unknown[]> {
    return (await this.callSeq(spec)).body;
  }

  /**
   * A call, with the place of its reply among the messages received (Signal.seq): a signal with a
   * higher seq is newer than the reply even when its callback ran before the reply's continuation.
   */
  async callSeq(spec: CallSpec): Promise<{ body: unknown[]; seq: number }> {
    const msg = new dbus.Message({
      destination: spec.destination,
      path: spec.path,
      interface: spec.iface,
      member: spec.member,
      signature: spec.signature ?? "",
      body: spec.body ?? [],
    });
    observer.call(spec.destination);
    if (this.closed) throw new DbusError("org.freedesktop.DBus.Error.Disconnected", "system bus connection closed");
    let timer: NodeJS.Timeout | undefined;
    let abort: (() => void) | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new DbusError("org.freedesktop.DBus.Error.Timeout", `${spec.iface}.${spec.member} timed out`)), spec.timeoutMs ?? 10_000);
      abort = () => rej(new DbusError("org.freedesktop.DBus.Error.Disconnected", "system bus connection closed"));
    });
    this.pending.add(abort!);
    try {
      const reply = await Promise.race([this.bus.call(msg), timeout]);
      return { body: (reply?.body as unknown[]) ?? [], seq: (reply && this.replySeq.get(reply)) ?? this.received };
    } catch (err) {
      observer.error(spec.destination);
      const e = err as { type?: string; text?: string; message?: string };
      if (e instanceof DbusError) throw e;
      throw new DbusError(e.type ?? "org.freedesktop.DBus.Error.Failed", e.text ?? e.message ?? String(err));
    } finally {
      clearTimeout(timer);
      this.pending.delete(abort!);
    }
  }

  /** Add a match rule on the bus daemon (signals are then delivered to onSignal callbacks). */
  async addMatch(rule: string): Promise<void> {
    await this.call({ destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", iface: "org.freedesktop.DBus", member: "AddMatch", signature: "s", body: [rule] });
  }

  async nameHasOwner(name: string): Promise<boolean> {
    const [has] = await this.call({
      destination: "org.freedesktop.DBus",
      path: "/org/freedesktop/DBus",
      iface: "org.freedesktop.DBus",
      member: "NameHasOwner",
      signature: "s",
      body: [name],
    });
    return has === true;
  }

  onSignal(cb: (s: Signal) => void): void {
    this.signalCbs.push(cb);
  }

  onClosed(cb: (err?: Error) => void): void {
    this.closedCbs.push(cb);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  disconnect(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.bus.disconnect();
    } catch {
      /* already down */
    }
    this.failPending();
  }

  private failPending(): void {
    for (const abort of [...this.pending]) abort();
    this.pending.clear();
  }

  private markClosed(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.bus.disconnect();
    } catch {
      /* already down */
    }
    this.failPending();
    for (const cb of this.closedCbs) cb(err);
  }
}
