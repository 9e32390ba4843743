// systemd-networkd over the system bus: link and manager properties become backend state in the
// model (applyBackendState), from which events are derived like every other source's.
// Attaches when org.freedesktop.network1 appears, re-reads everything when it (re)appears, and
// reports only real changes, so a networkd restart fires nothing for unchanged links.
import type { SystemBus, Signal } from "../dbus/bus.js";
import type { Logger } from "../log.js";
import type { BackendSink } from "./backend.js";
import { BusBackendSource, unwrap, type BusSeams } from "./bus-backend.js";
import { DescribeQueue, type DescribeDelivery } from "./networkd-describe.js";

export const NETWORKD_NAME = "org.freedesktop.network1";
const MANAGER_PATH = "/org/freedesktop/network1";
const LINK_IFACE = "org.freedesktop.network1.Link";
const MANAGER_IFACE = "org.freedesktop.network1.Manager";
const PROPS_IFACE = "org.freedesktop.DBus.Properties";

/** The link properties netevd follows. */
export const LINK_PROPS = [
  "OperationalState", "AdministrativeState", "CarrierState", "AddressState", "IPv4AddressState", "IPv6AddressState", "OnlineState",
] as const;
const MANAGER_PROPS = ["OperationalState", "CarrierState", "AddressState", "IPv4AddressState", "IPv6AddressState", "OnlineState"] as const;

// networkd state values are short lowercase words; anything else is not a state we act on
const STATE_VALUE = /^[a-z][a-z0-9-]{0,31}$/;

/** `/org/freedesktop/network1/link/_32` → 2 (sd-bus label escaping: `_XX` is a hex byte). */
export function linkIndexFromPath(path: string): number | undefined {
  const prefix = `${MANAGER_PATH}/link/`;
  if (!path.startsWith(prefix)) return undefined;
  const label = path.slice(prefix.length);
  if (!/^(?:_[0-9a-f]{2}|[A-Za-z0-9])+$/.test(label)) return undefined;
  const decoded = label.replace(/_([0-9a-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  if (!/^[1-9][0-9]{0,9}$/.test(decoded)) return undefined;
  return Number(decoded);
}

/** 2 → `/org/freedesktop/network1/link/_32` (only the leading digit needs escaping: `_3` + "2") */
export function linkPath(index: number): string {
  return `${MANAGER_PATH}/link/_3${index}`;
}

function pickStates(props: Record<string, unknown>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = unwrap(props[n]);
    if (typeof v === "string" && STATE_VALUE.test(v)) out[n] = v;
  }
  return out;
}

export class NetworkdSource extends BusBackendSource {
  readonly backend = "systemd-networkd" as const;
  readonly links = new Set<number>();
  /** the last Link.Describe() per link: $JSON of kernel carrier events, which do not wait for networkd */
  private readonly described = new Map<number, string>();
  private readonly describes = new DescribeQueue((index) => this.describe(index), this.log, () => this.stopped);

  constructor(log: Logger, sink: BackendSink, seams?: BusSeams) {
    super({ name: NETWORKD_NAME, label: "systemd-networkd", events: "networkd" }, log, sink, seams);
  }

  protected onBus(bus: SystemBus): void {
    bus.onSignal((s) => this.onSignal(s));
    void bus.addMatch(`type='signal',sender='${NETWORKD_NAME}',interface='${PROPS_IFACE}',member='PropertiesChanged',path_namespace='${MANAGER_PATH}'`)
      .catch((err: Error) => this.log.error("cannot subscribe to networkd signals", { err: err.message }));
  }

  /** networkd is there: read every link and the manager, then follow signals. */
  protected async attach(bus: SystemBus): Promise<void> {
    const gen = ++this.generation;
    this.bus = bus;
    try {
      this.owner = await this.nameOwner(bus);
      const [links] = await this.call<[Array<[number, string, string]>]>("ListLinks", MANAGER_PATH, MANAGER_IFACE);
      const seen = new Set<number>();
      for (const [index, name, path] of links) {
        if (gen !== this.generation) return;
        if (!Number.isInteger(index) || index <= 0) continue;
        seen.add(index);
        this.links.add(index);
        const [props] = await this.call<[Record<string, unknown>]>("GetAll", String(path), PROPS_IFACE, "s", [LINK_IFACE]);
        this.sink.linkState(index, typeof name === "string" ? name : undefined, pickStates(props, LINK_PROPS));
      }
      for (const i of [...this.links]) if (!seen.has(i)) this.linkRemoved(i);
      const [mprops] = await this.call<[Record<string, unknown>]>("GetAll", MANAGER_PATH, PROPS_IFACE, "s", [MANAGER_IFACE]);
      if (gen !== this.generation) return; // networkd left again while we were reading
      this.sink.managerState(pickStates(mprops, MANAGER_PROPS));
      this.stats.resyncs++;
      this.attachedNow = true;
      this.sink.attached(true);
      this.log.info("systemd-networkd attached", { links: seen.size, owner: this.owner });
    } catch (err) {
      this.log.error("reading systemd-networkd state failed; retrying when it reappears", { err: (err as Error).message });
    }
  }

  protected detach(): void {
    this.generation++;
    this.owner = null;
    this.described.clear();
    if (this.attachedNow) {
      this.attachedNow = false;
      this.sink.attached(false);
    }
  }

  private onSignal(s: Signal): void {
    if (s.member !== "PropertiesChanged" || s.iface !== PROPS_IFACE || !this.owner || s.sender !== this.owner) return;
    const [iface, changed] = s.body as [string, Record<string, unknown>];
    if (!changed || typeof changed !== "object") return;
    this.stats.signals++;
    if (iface === LINK_IFACE) {
      const index = linkIndexFromPath(s.path);
      if (index === undefined) {
        this.log.warn("networkd signal for an unexpected object path ignored", { path: s.path.slice(0, 120) });
        return;
      }
      this.links.add(index);
      const states = pickStates(changed, LINK_PROPS);
      if (Object.keys(states).length) this.sink.linkState(index, undefined, states);
    } else if (iface === MANAGER_IFACE && s.path === MANAGER_PATH) {
      const states = pickStates(changed, MANAGER_PROPS);
      if (Object.keys(states).length) this.sink.managerState(states);
    }
  }

  /** `Link.Describe()`: networkd's own JSON for the link, verbatim; remembered for lastDescribe(). */
  async describe(index: number): Promise<string | undefined> {
    // (also while attaching: the initial state's links are described for lastDescribe())
    if (!this.bus || !this.owner) return undefined;
    const gen = this.generation;
    const [json] = await this.call<[string]>("Describe", linkPath(index), LINK_IFACE);
    if (typeof json !== "string") return undefined;
    // a link networkd no longer lists, or an answer from before a detach, is not remembered
    if (gen === this.generation && this.links.has(index)) this.described.set(index, json);
    return json;
  }

  /** The kernel removed the link: forget it (its index may come back as another link). */
  linkRemoved(index: number): void {
    this.links.delete(index);
    this.described.delete(index);
  }

  lastDescribe(index: number): string | undefined {
    return this.described.get(index);
  }

  describeInOrder(index: number, deliver: DescribeDelivery): void {
    this.describes.inOrder(index, deliver);
  }

  refreshDescribe(index: number): void {
    this.describes.refresh(index);
  }
}
