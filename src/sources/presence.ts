// Follows whether a backend's well-known name is on the system bus. It says plainly when the bus or
// the backend is missing, reconnects with backoff when the bus goes away, and reports the moment
// the name appears (NameOwnerChanged) so a backend source can attach then.
// dbus-next is loaded on first use: a kernel-only or dhclient-only daemon never pays its memory
import { connectSystemBus } from "../dbus/connect.js";
import type { SystemBus } from "../dbus/bus.js";
import { logRejection, type Logger } from "../log.js";

export type PresenceState = "connecting" | "no-bus" | "absent" | "present" | "stopped";

export interface PresenceOptions {
  /** well-known bus name, e.g. org.freedesktop.network1 */
  name: string;
  /** what people call it, e.g. systemd-networkd */
  label: string;
  log: Logger;
  onPresent?: (bus: SystemBus) => void;
  onAbsent?: () => void;
  onBus?: (bus: SystemBus) => void;
  /** the name is known to be unreachable for now (absent, or no bus) */
  onUnavailable?: () => void;
  /** opens a system bus connection (default: SystemBus.connect, loaded on first use); tests pass a fake */
  connect?: () => Promise<SystemBus>;
}

const BACKOFF_MS = [250, 500, 1000, 2000, 5000, 10_000, 30_000];

export class BusNameWatch {
  state: PresenceState = "connecting";
  bus: SystemBus | null = null;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly o: PresenceOptions) {}

  start(): void {
    void this.connect().catch(logRejection(this.o.log, "system bus connection failed", { backend: this.o.label }));
  }

  stop(): void {
    this.stopped = true;
    this.state = "stopped";
    if (this.timer) clearTimeout(this.timer);
    this.bus?.disconnect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let bus: SystemBus;
    try {
      bus = await (this.o.connect ?? connectSystemBus)();
    } catch (err) {
      if (this.state !== "no-bus") {
        this.o.log.warn(`no system bus: ${this.o.label} events will not fire until it is reachable`, {
          backend: this.o.label,
          presence: "no-bus",
          err: (err as Error).message,
          address: process.env.DBUS_SYSTEM_BUS_ADDRESS ?? "unix:path=/var/run/dbus/system_bus_socket",
        });
      }
      this.state = "no-bus";
      this.o.onUnavailable?.();
      this.retry();
      return;
    }
    if (this.stopped) {
      bus.disconnect();
      return;
    }
    this.attempt = 0;
    this.bus = bus;
    bus.onClosed((err) => {
      if (this.stopped) return;
      this.o.log.warn("system bus connection lost; reconnecting", { backend: this.o.label, err: err?.message });
      this.bus = null;
      const was = this.state;
      this.state = "connecting";
      if (was === "present") this.o.onAbsent?.();
      this.retry();
    });
    bus.onSignal((s) => {
      if (s.sender !== "org.freedesktop.DBus" || s.member !== "NameOwnerChanged" || s.body[0] !== this.o.name) return;
      const newOwner = typeof s.body[2] === "string" ? s.body[2] : "";
      this.setPresent(bus, newOwner !== "");
    });
    try {
      await bus.addMatch(`type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='${this.o.name}'`);
      this.o.onBus?.(bus);
      this.setPresent(bus, await bus.nameHasOwner(this.o.name), true);
    } catch (err) {
      this.o.log.warn("system bus call failed; reconnecting", { backend: this.o.label, err: (err as Error).message });
      bus.disconnect();
      this.bus = null;
      this.retry();
    }
  }

  private setPresent(bus: SystemBus, present: boolean, initial = false): void {
    const next: PresenceState = present ? "present" : "absent";
    if (next === this.state) return;
    this.state = next;
    if (present) {
      this.o.log.info(`${this.o.label} is on the system bus`, { backend: this.o.label, name: this.o.name, presence: "present" });
      this.o.onPresent?.(bus);
    } else {
      this.o.log.warn(
        initial
          ? `${this.o.label} is not running: no ${this.o.label} events will fire until it appears (kernel events still do)`
          : `${this.o.label} left the system bus: no ${this.o.label} events until it returns (kernel events still do)`,
        { backend: this.o.label, name: this.o.name, presence: "absent" },
      );
      this.o.onAbsent?.();
      this.o.onUnavailable?.();
    }
  }

  private retry(): void {
    if (this.stopped || this.timer) return;
    const delay = BACKOFF_MS[Math.min(this.attempt++, BACKOFF_MS.length - 1)]!;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect().catch(logRejection(this.o.log, "system bus connection failed", { backend: this.o.label }));
    }, delay);
  }
}
