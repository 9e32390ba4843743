// The host name, as systemd-hostnamed changes it: its PropertiesChanged signals (every backend).
// hostnamed is bus-activated and exits when idle, so it is not watched for presence: the match rule
// names its path, interface and arg0, and a signal counts only when its sender owns hostnamed's
// well-known name at that moment (asked of the bus), so no other client can fake one. The value itself is read from the kernel (os.hostname(),
// the same UTS namespace as ours) and hostnamed's StaticHostname, validated as RFC 1123 names.
import { connectSystemBus } from "../dbus/connect.js";
import { hostname } from "node:os";
import type { SystemBus, Signal } from "../dbus/bus.js";
import { logRejection, type Logger } from "../log.js";
import { validHostname } from "../net/validate.js";
import { unwrap } from "./bus-backend.js";

const NAME = "org.freedesktop.hostname1";
const PATH = "/org/freedesktop/hostname1";
const BACKOFF_MS = [1000, 2000, 5000, 10_000, 30_000];

export interface HostnameChange {
  hostname: string;
  previous: string | null;
  /** hostnamed's static host name, when it said (and it is a valid name) */
  staticHostname?: string;
}

/** What a hostname1 PropertiesChanged body says about the names; undefined when it is not about them. */
export function hostnamedChange(body: unknown[]): { staticHostname?: string } | undefined {
  if (body[0] !== NAME) return undefined;
  const changed = body[1] && typeof body[1] === "object" ? (body[1] as Record<string, unknown>) : {};
  const invalidated = Array.isArray(body[2]) ? (body[2] as unknown[]) : [];
  const keys = ["Hostname", "StaticHostname", "PrettyHostname"];
  if (!keys.some((k) => k in changed || invalidated.includes(k))) return undefined;
  const st = unwrap(changed.StaticHostname);
  return typeof st === "string" && validHostname(st) ? { staticHostname: st } : {};
}

export class HostnamedSource {
  private bus: SystemBus | null = null;
  private last: string;
  private lastStatic: string | undefined;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** signals are handled in the order they came, each after its sender check */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly log: Logger,
    private readonly onChange: (c: HostnameChange) => void,
    private readonly read: () => string = hostname,
  ) {
    this.last = this.read();
  }

  /** Resolves once the signals are subscribed to (or the first attempt failed: retries go on). */
  start(): Promise<void> {
    return this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.bus?.disconnect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    try {
      const bus = await connectSystemBus();
      if (this.stopped) {
        bus.disconnect();
        return;
      }
      this.bus = bus;
      bus.onSignal((s) => this.onSignal(s));
      bus.onClosed(() => {
        this.bus = null;
        this.retry();
      });
      await bus.addMatch(`type='signal',path='${PATH}',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',arg0='${NAME}'`);
      this.attempt = 0;
      this.log.debug("following systemd-hostnamed", { source: "hostnamed" });
    } catch (err) {
      if (this.attempt === 0) this.log.warn("cannot follow systemd-hostnamed (no system bus?): hostname.d will not fire until it can", { err: (err as Error).message });
      this.bus?.disconnect();
      this.bus = null;
      this.retry();
    }
  }

  private retry(): void {
    if (this.stopped || this.timer) return;
    const delay = BACKOFF_MS[Math.min(this.attempt++, BACKOFF_MS.length - 1)]!;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect().catch(logRejection(this.log, "following systemd-hostnamed failed"));
    }, delay);
  }

  private onSignal(s: Signal): void {
    if (s.path !== PATH || s.member !== "PropertiesChanged") return;
    const c = hostnamedChange(s.body);
    if (!c || !this.bus) return;
    const bus = this.bus;
    this.chain = this.chain.then(async () => {
      try {
        const [owner] = await bus.call({
          destination: "org.freedesktop.DBus",
          path: "/org/freedesktop/DBus",
          iface: "org.freedesktop.DBus",
          member: "GetNameOwner",
          signature: "s",
          body: [NAME],
        });
        if (owner !== s.sender) return; // not from hostnamed
      } catch {
        return; // hostnamed already gone: its change, if any, is read at the next one
      }
      this.apply(c);
    });
  }

  private apply(c: { staticHostname?: string }): void {
    const now = this.read();
    if (!validHostname(now)) {
      this.log.warn("host name is not a valid RFC 1123 name; hostname.d not fired", { source: "hostnamed" });
      return;
    }
    const staticChanged = c.staticHostname !== undefined && c.staticHostname !== this.lastStatic;
    if (now === this.last && !staticChanged) return;
    const previous = this.last;
    this.last = now;
    if (c.staticHostname !== undefined) this.lastStatic = c.staticHostname;
    this.onChange({ hostname: now, previous, ...(c.staticHostname !== undefined && { staticHostname: c.staticHostname }) });
  }
}
