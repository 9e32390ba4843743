// What the D-Bus backend sources (systemd-networkd, NetworkManager) share: following their bus name
// (BusNameWatch), calls counted in stats, the name's current owner (signals are taken only from
// it), health as the daemon reports it, and unwrapping dbus-next variants.
import type { SystemBus } from "../dbus/bus.js";
import { logRejection, type Logger } from "../log.js";
import type { Backend } from "../state/model.js";
import { BusNameWatch } from "./presence.js";
import type { BackendSink, BackendSource, SourceHealth } from "./backend.js";

/** dbus-next hands variants over as { signature, value }: the value, or `v` itself. */
export function unwrap(v: unknown): unknown {
  return v !== null && typeof v === "object" && "value" in v && "signature" in v ? (v as { value: unknown }).value : v;
}

export interface BusBackendIdentity {
  /** well-known bus name, e.g. org.freedesktop.network1 */
  name: string;
  /** what people call it, e.g. systemd-networkd */
  label: string;
  /** the events it stands for, in health details ("no networkd events will fire") */
  events: string;
}

/** Tests only: a fake system bus. */
export interface BusSeams {
  connect?: () => Promise<SystemBus>;
}

export interface BusSourceStats {
  signals: number;
  calls: number;
  errors: number;
  resyncs: number;
}

export abstract class BusBackendSource implements BackendSource {
  abstract readonly backend: Backend;
  readonly watch: BusNameWatch;
  protected bus: SystemBus | null = null;
  /** the unique name that owns the well-known name now: signals from anyone else are ignored */
  protected owner: string | null = null;
  /** bumped at every attach and detach: work of an older generation is dropped */
  protected generation = 0;
  protected stopped = false;
  attachedNow = false;
  stats: BusSourceStats = { signals: 0, calls: 0, errors: 0, resyncs: 0 };

  constructor(protected readonly id: BusBackendIdentity, protected readonly log: Logger, protected readonly sink: BackendSink,
    seams: BusSeams = {}) {
    this.watch = new BusNameWatch({
      name: id.name, label: id.label, log, ...seams,
      onBus: (bus) => this.onBus(bus),
      onPresent: (bus) => void this.attach(bus).catch(logRejection(log, `reading ${id.label} state failed`)),
      onAbsent: () => this.detach(),
      onUnavailable: () => this.sink.unavailable(),
    });
  }

  /** A bus connection is up: subscribe to the backend's signals. */
  protected abstract onBus(bus: SystemBus): void;
  /** The name has an owner: read the initial state. */
  protected abstract attach(bus: SystemBus): Promise<void>;
  /** The name lost its owner (or the bus went away). */
  protected abstract detach(): void;

  start(): void {
    this.watch.start();
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
    this.watch.stop();
  }

  /** What to say while the name is there but its state could not be read yet (default: as absent). */
  protected attachingHealth(): SourceHealth | undefined {
    return undefined;
  }

  health(): SourceHealth {
    if (this.attachedNow) return { state: "attached", ok: true };
    const w = this.watch.state;
    if (w === "present") {
      const attaching = this.attachingHealth();
      if (attaching) return attaching;
    }
    return {
      state: w, ok: false,
      detail: w === "no-bus" ? `no system bus: no ${this.id.label} events will fire`
        : `${this.id.label} is not running: no ${this.id.events} events will fire`,
    };
  }

  /** The unique name that owns the backend's name now. */
  protected async nameOwner(bus: SystemBus): Promise<string> {
    const [owner] = await bus.call({
      destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", iface: "org.freedesktop.DBus", member: "GetNameOwner",
      signature: "s", body: [this.id.name],
    });
    return String(owner);
  }

  /** A method call to the backend, counted (calls, errors). */
  protected async call<T = unknown[]>(member: string, path: string, iface: string, signature = "", body: unknown[] = []): Promise<T> {
    if (this.stopped || !this.bus) throw new Error(`${this.id.label} source stopped`);
    this.stats.calls++;
    try {
      return (await this.bus.call({ destination: this.id.name, path, iface, member, signature, body })) as T;
    } catch (err) {
      this.stats.errors++;
      throw err;
    }
  }

  /** A counted call, with its reply's place among the signals received (SystemBus.callSeq). */
  protected async callSeq(member: string, path: string, iface: string, signature = "", body: unknown[] = []): Promise<{ body: unknown[]; seq: number }> {
    if (this.stopped || !this.bus) throw new Error(`${this.id.label} source stopped`);
    this.stats.calls++;
    try {
      return await this.bus.callSeq({ destination: this.id.name, path, iface, member, signature, body });
    } catch (err) {
      this.stats.errors++;
      throw err;
    }
  }
}
