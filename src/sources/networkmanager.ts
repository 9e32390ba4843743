// NetworkManager over the system bus: each device's StateChanged(new, old, reason) becomes backend
// state in the model (one fact per transition, with the signal's own arguments), the manager's
// StateChanged becomes manager state. Interface and ifindex come from the Device object, never from
// a name lookup. Attaches when org.freedesktop.NetworkManager appears and re-reads every device
// when it (re)appears; devices whose state did not change produce no facts (the model diffs).
//
// Ordering: a device's work (a transition, a snapshot from GetAll) runs on one queue per device in
// the order its D-Bus message was received, so a slow property read for one transition never lets
// a later transition overtake it, and a snapshot never rewinds state that a signal already moved.
import { readFileText } from "../fs-async.js";
import { endianness } from "node:os";
import type { SystemBus, Signal } from "../dbus/bus.js";
import { logRejection, type Logger } from "../log.js";
import { formatAddress } from "../netlink/iptext.js";
import { validIfname, validIp } from "../net/validate.js";
import { deviceStateName, managerStateName, nmNumber, transitionFields } from "./networkmanager-states.js";
import type { BackendSink, SourceHealth } from "./backend.js";
import { BusBackendSource, unwrap, type BusSeams } from "./bus-backend.js";
import { NmObjectCache, type Props } from "./networkmanager-cache.js";

export const NM_NAME = "org.freedesktop.NetworkManager";
const NM_PATH = "/org/freedesktop/NetworkManager";
const NM_IFACE = "org.freedesktop.NetworkManager";
const DEVICE_IFACE = "org.freedesktop.NetworkManager.Device";
const IP4_IFACE = "org.freedesktop.NetworkManager.IP4Config";
const IP6_IFACE = "org.freedesktop.NetworkManager.IP6Config";
const PROPS_IFACE = "org.freedesktop.DBus.Properties";
const ACTIVE_IFACE = "org.freedesktop.NetworkManager.Connection.Active";
const SETTINGS_CONN_IFACE = "org.freedesktop.NetworkManager.Settings.Connection";
const DHCP4_IFACE = "org.freedesktop.NetworkManager.DHCP4Config";
const DHCP6_IFACE = "org.freedesktop.NetworkManager.DHCP6Config";

/** Device states in which the device has (or is getting) IP configuration worth reading. */
const IP_STATES = new Set([70, 80, 90, 100]);
const NM_ACTIVATED = 100;
/** Connection settings kept across activations (NetworkManager's profiles in use lately). */
const MAX_RECENT_SETTINGS = 32;
/** Re-reads after NetworkManager took its name but could not answer yet. */
const RETRY_MS = [100, 250, 500, 1000, 2000, 5000];
/** The IP fields of a device without IP configuration. */
const NO_IP: Readonly<Record<string, string>> = { NMAddresses: "", NMGateway: "", NMDns: "", NMDispatcherEnv: "", NMDhcp4: "", NMDhcp6: "" };

const DEVICE_PATH = /^\/org\/freedesktop\/NetworkManager\/Devices\/[0-9]{1,10}$/;
const CONFIG_PATH = /^\/org\/freedesktop\/NetworkManager\/IP[46]Config\/[0-9]{1,10}$/;
const ACTIVE_PATH = /^\/org\/freedesktop\/NetworkManager\/ActiveConnection\/[0-9]{1,10}$/;
const SETTINGS_PATH = /^\/org\/freedesktop\/NetworkManager\/Settings\/[0-9]{1,10}$/;
const DHCP_PATH = /^\/org\/freedesktop\/NetworkManager\/DHCP[46]Config\/[0-9]{1,10}$/;

/** An object path of the given shape, or undefined ("/" = none, and junk). */
export function objectPath(p: unknown, shape: RegExp): string | undefined {
  return typeof p === "string" && shape.test(p) ? p : undefined;
}

/** `/org/freedesktop/NetworkManager/Devices/3` is a device object path; anything else is not followed. */
export function isDevicePath(p: unknown): p is string {
  return typeof p === "string" && DEVICE_PATH.test(p);
}

/** A Device's `Ip4Config`/`Ip6Config` value: the config object path, or undefined for "/" (none) and junk. */
export function configPath(p: unknown): string | undefined {
  return typeof p === "string" && CONFIG_PATH.test(p) ? p : undefined;
}

/**
 * What a Device object says about its interface: `Interface` (a valid name) and `HwAddress`.
 * NetworkManager's D-Bus API has no ifindex (1.42 exports none), so the index comes from the kernel
 * for that name, checked against the MAC (see kernelIndex).
 */
export function deviceIdentity(props: Record<string, unknown>): { iface: string; hwaddr?: string } | undefined {
  const iface = unwrap(props.Interface);
  if (typeof iface !== "string" || !validIfname(iface)) return undefined;
  const hw = unwrap(props.HwAddress);
  return typeof hw === "string" && MAC.test(hw) ? { iface, hwaddr: hw.toLowerCase() } : { iface };
}

const MAC = /^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5,19}$/;

/**
 * The ifindex in /sys/class/net/<iface>/ifindex when it is one, and when the link's MAC there is the
 * one NetworkManager reports (so a name that now belongs to another link is not taken for it).
 */
export function indexFromSysfs(ifindexText: string, addressText: string | undefined, hwaddr: string | undefined): number | undefined {
  const m = /^([1-9][0-9]{0,9})\n?$/.exec(ifindexText);
  const index = m ? Number(m[1]) : NaN;
  if (!Number.isInteger(index) || index > 0x7fffffff) return undefined;
  const kernelMac = addressText?.trim().toLowerCase();
  if (hwaddr && kernelMac && MAC.test(kernelMac) && kernelMac !== hwaddr) return undefined;
  return index;
}

async function kernelIndex(iface: string, hwaddr: string | undefined): Promise<number | undefined> {
  if (!validIfname(iface)) return undefined; // the name becomes a path component: only a valid one
  const dir = `/sys/class/net/${iface}`;
  try {
    const [ifindex, address] = await Promise.all([readFileText(`${dir}/ifindex`), readFileText(`${dir}/address`).catch(() => undefined)]);
    return indexFromSysfs(ifindex, address, hwaddr);
  } catch {
    return undefined; // no such link (any more)
  }
}

/** `AddressData` (aa{sv}: address, prefix) → "address/prefix" entries; invalid entries are dropped. */
export function addressData(v: unknown, family: 4 | 6): string[] {
  const out: string[] = [];
  const arr = unwrap(v);
  if (!Array.isArray(arr)) return out;
  for (const entry of arr as unknown[]) {
    if (!entry || typeof entry !== "object") continue;
    const a = unwrap((entry as Record<string, unknown>).address);
    const p = unwrap((entry as Record<string, unknown>).prefix);
    if (typeof a !== "string" || !validIp(a) || a.includes(":") !== (family === 6)) continue;
    if (typeof p !== "number" || !Number.isInteger(p) || p < 0 || p > (family === 4 ? 32 : 128)) continue;
    out.push(`${a}/${p}`);
  }
  return out;
}

/** IPv4 nameservers: `NameserverData` (aa{sv}: address) in NM ≥ 1.14, else `Nameservers` (au, network byte order in host-order words). */
export function ip4Nameservers(props: Record<string, unknown>, littleEndian = endianness() === "LE"): string[] {
  const data = unwrap(props.NameserverData);
  if (Array.isArray(data)) {
    const out: string[] = [];
    for (const entry of data as unknown[]) {
      const a = entry && typeof entry === "object" ? unwrap((entry as Record<string, unknown>).address) : undefined;
      if (typeof a === "string" && validIp(a) && !a.includes(":")) out.push(a);
    }
    return out;
  }
  const words = unwrap(props.Nameservers);
  if (!Array.isArray(words)) return [];
  const out: string[] = [];
  for (const w of words as unknown[]) {
    if (typeof w !== "number" || !Number.isInteger(w) || w < 0 || w > 0xffffffff) continue;
    const b = Buffer.alloc(4);
    if (littleEndian) b.writeUInt32LE(w);
    else b.writeUInt32BE(w);
    out.push(formatAddress(b));
  }
  return out;
}

/** IPv6 nameservers: `Nameservers` (aay, 16 bytes each). */
export function ip6Nameservers(props: Record<string, unknown>): string[] {
  const list = unwrap(props.Nameservers);
  if (!Array.isArray(list)) return [];
  const out: string[] = [];
  for (const raw of list as unknown[]) {
    const bytes = Buffer.isBuffer(raw) ? raw : Array.isArray(raw) && raw.every((x) => Number.isInteger(x) && x >= 0 && x <= 255) ? Buffer.from(raw as number[]) : undefined;
    if (bytes?.length === 16) out.push(formatAddress(bytes));
  }
  return out;
}

/** A config's `Gateway` (s, "" = none), when it is an address of the config's family. */
export function gatewayOf(props: Record<string, unknown>, family: 4 | 6): string | undefined {
  const g = unwrap(props.Gateway);
  return typeof g === "string" && validIp(g) && g.includes(":") === (family === 6) ? g : undefined;
}

/** The model fields for a device's IP4Config/IP6Config properties (either may be missing). */
export function ipFields(ip4: Record<string, unknown> | undefined, ip6: Record<string, unknown> | undefined): Record<string, string> {
  const addresses = [...(ip4 ? addressData(ip4.AddressData, 4) : []), ...(ip6 ? addressData(ip6.AddressData, 6) : [])];
  const gateway = (ip4 && gatewayOf(ip4, 4)) ?? (ip6 && gatewayOf(ip6, 6)) ?? "";
  const dns = [...new Set([...(ip4 ? ip4Nameservers(ip4) : []), ...(ip6 ? ip6Nameservers(ip6) : [])])];
  return { NMAddresses: addresses.join(" "), NMGateway: gateway, NMDns: dns.join(" ") };
}

// ---------------------------------------------------------------------------
// NetworkManager-dispatcher's variables, read from NetworkManager and validated here, so that an
// NMD script ported by copying it finds what it reads.
// ---------------------------------------------------------------------------

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const DHCP_OPTION = /^[a-z0-9_]{1,64}$/;
/** At most this many addresses and DHCP options per family: bounded whatever NetworkManager says. */
const MAX_ADDRESSES = 64;
const MAX_OPTIONS = 128;
const MAX_VALUE = 1024;
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$/;

function plainText(v: unknown, max = MAX_VALUE): string | undefined {
  // eslint-disable-next-line no-control-regex
  return typeof v === "string" && v.length <= max && !/[\u0000-\u001f\u007f-\u009f]/.test(v) ? v : undefined;
}

function domainList(v: unknown): string[] {
  const arr = unwrap(v);
  if (!Array.isArray(arr)) return [];
  return (arr as unknown[]).filter(
    (d): d is string =>
      typeof d === "string" &&
      d.length <= 253 &&
      d
        .split(".")
        .filter(Boolean)
        .every((l) => LABEL.test(l)),
  );
}

export interface NmdParts {
  device: Record<string, unknown>;
  ip4?: Record<string, unknown>;
  ip6?: Record<string, unknown>;
  active?: Record<string, unknown>;
  settings?: Record<string, unknown>;
  dhcp4?: Record<string, unknown>;
  dhcp6?: Record<string, unknown>;
}

/**
 * NetworkManager-dispatcher's variables for a device with IP configuration: CONNECTION_ID/UUID/
 * FILENAME, DEVICE_IP_IFACE, IPn_NUM_ADDRESSES, IPn_ADDRESS_<i> ("addr/prefix gateway"),
 * IPn_GATEWAY, IPn_NAMESERVERS, IPn_DOMAINS, DHCPn_<OPTION>. A value that fails validation is left out.
 */
export function nmdVariables(p: NmdParts): Record<string, string> {
  const env: Record<string, string> = {};
  const id = plainText(unwrap(p.active?.Id), 255);
  if (id !== undefined) env.CONNECTION_ID = id;
  const uuid = unwrap(p.active?.Uuid);
  if (typeof uuid === "string" && UUID.test(uuid)) env.CONNECTION_UUID = uuid.toLowerCase();
  const file = plainText(unwrap(p.settings?.Filename), 4095);
  if (file !== undefined && file.startsWith("/")) env.CONNECTION_FILENAME = file;
  const ipIface = unwrap(p.device.IpInterface);
  if (typeof ipIface === "string" && validIfname(ipIface)) env.DEVICE_IP_IFACE = ipIface;
  for (const [fam, cfg] of [
    [4, p.ip4],
    [6, p.ip6],
  ] as const) {
    if (!cfg) continue;
    const gw = gatewayOf(cfg, fam) ?? "";
    const addrs = addressData(cfg.AddressData, fam).slice(0, MAX_ADDRESSES);
    env[`IP${fam}_NUM_ADDRESSES`] = String(addrs.length);
    addrs.forEach((a, i) => {
      env[`IP${fam}_ADDRESS_${i}`] = `${a} ${gw || (fam === 4 ? "0.0.0.0" : "::")}`;
    });
    if (gw) env[`IP${fam}_GATEWAY`] = gw;
    const ns = fam === 4 ? ip4Nameservers(cfg) : ip6Nameservers(cfg);
    if (ns.length) env[`IP${fam}_NAMESERVERS`] = ns.join(" ");
    const domains = domainList(cfg.Domains);
    if (domains.length) env[`IP${fam}_DOMAINS`] = domains.join(" ");
  }
  for (const [fam, cfg] of [
    [4, p.dhcp4],
    [6, p.dhcp6],
  ] as const) {
    const opts = unwrap(cfg?.Options);
    if (!opts || typeof opts !== "object" || Array.isArray(opts)) continue;
    let n = 0;
    for (const [k, raw] of Object.entries(opts as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (n >= MAX_OPTIONS || !DHCP_OPTION.test(k)) continue;
      const v = plainText(unwrap(raw));
      if (v === undefined) continue;
      env[`DHCP${fam}_${k.toUpperCase()}`] = v;
      n++;
    }
  }
  return env;
}

/**
 * A lease's options as one comparable string, without the expiry (it moves at every renewal): a
 * change of it is a dhcp4-change/dhcp6-change when the device stays activated.
 */
export function leaseKey(nmd: Record<string, string>, prefix: "DHCP4_" | "DHCP6_"): string {
  const keys = Object.keys(nmd)
    .filter((k) => k.startsWith(prefix) && k !== `${prefix}EXPIRY`)
    .sort();
  return keys.length ? JSON.stringify(keys.map((k) => [k, nmd[k]])) : "";
}

/** NM_CONNECTIVITY_* by number, as NetworkManager-dispatcher names them in CONNECTIVITY_STATE. */
export const NM_CONNECTIVITY: Readonly<Record<number, string>> = { 0: "UNKNOWN", 1: "NONE", 2: "PORTAL", 3: "LIMITED", 4: "FULL" };

interface Device {
  path: string;
  index?: number;
  iface?: string;
  /** this device's work, in the order its messages arrived */
  queue: Promise<void>;
  /** StateChanged signals received for it */
  signals: number;
  /** work queued and not done yet: none, and a transition can be reported in the signal's own callback */
  queued: number;
  /** the state of the latest StateChanged received (or of the last read): IP fields follow NM only in IP states */
  state?: number;
}

/** The objects a device's IP fields are built from, as its properties (and its active connection's) name them. */
interface IpRefs {
  ip4?: string;
  ip6?: string;
  dhcp4?: string;
  dhcp6?: string;
  active?: string;
  settings?: string;
}

/** The object paths in `r`. */
function refPaths(r: IpRefs): string[] {
  return [r.ip4, r.ip6, r.dhcp4, r.dhcp6, r.active, r.settings].filter((p): p is string => p !== undefined);
}

/** Device properties that name another object: a change of one starts reading that object. */
const REF_PROPS = new Set(["Ip4Config", "Ip6Config", "Dhcp4Config", "Dhcp6Config", "ActiveConnection"]);
/** Device properties in NetworkManager-dispatcher's variables. */
const IP_PROPS = new Set([...REF_PROPS, "IpInterface"]);
/** A DHCP config has one property: once a signal brought it, its read need not be waited for. */
const DHCP_COMPLETE = ["Options"] as const;

export class NetworkManagerSource extends BusBackendSource {
  readonly backend = "NetworkManager" as const;
  private devices = new Map<string, Device>();
  /**
   * Devices removed lately, by object path: NM may send a device's last StateChanged (→ unmanaged)
   * after its DeviceRemoved, when the object can no longer be read. Bounded.
   */
  private readonly removed = new Map<string, { index: number; iface: string }>();
  /** the device state last reported per ifindex (kept across NM restarts, so a resync reports only changes) */
  private readonly lastState = new Map<number, number>();
  /** devices and the objects their IP fields come from, kept current from PropertiesChanged */
  private readonly cache = new NmObjectCache((path, iface) => this.readProps(path, iface), 512, DEVICE_IFACE);
  /**
   * Connection settings lately named by an active connection, kept (and followed by their signals)
   * after the activation: the next one then reads only its active connection. Bounded.
   */
  private readonly recentSettings = new Set<string>();
  private managerSignals = 0;
  private attachFailures = 0;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(log: Logger, sink: BackendSink, seams?: BusSeams) {
    super({ name: NM_NAME, label: "NetworkManager", events: "NetworkManager" }, log, sink, seams);
  }

  override stop(): void {
    this.clearRetry();
    super.stop();
  }

  protected override attachingHealth(): SourceHealth {
    return { state: "attaching", ok: false, detail: "NetworkManager is on the bus but its devices could not be read yet" };
  }

  protected onBus(bus: SystemBus): void {
    bus.onSignal((s) => this.onSignal(s));
    const rules = [
      `type='signal',sender='${NM_NAME}',interface='${DEVICE_IFACE}',member='StateChanged'`,
      ...["StateChanged", "DeviceAdded", "DeviceRemoved"].map((m) => `type='signal',sender='${NM_NAME}',path='${NM_PATH}',interface='${NM_IFACE}',member='${m}'`),
      // devices and their IP and DHCP configs as they change (the cache: no reads at a state change);
      // the manager's Connectivity
      ...[DEVICE_IFACE, IP4_IFACE, IP6_IFACE, DHCP4_IFACE, DHCP6_IFACE, SETTINGS_CONN_IFACE].map(
        (i) => `type='signal',sender='${NM_NAME}',interface='${PROPS_IFACE}',member='PropertiesChanged',arg0='${i}'`,
      ),
      `type='signal',sender='${NM_NAME}',path='${NM_PATH}',interface='${PROPS_IFACE}',member='PropertiesChanged',arg0='${NM_IFACE}'`,
    ];
    void Promise.all(rules.map((r) => bus.addMatch(r))).catch((err: Error) => this.log.error("cannot subscribe to NetworkManager signals", { err: err.message }));
  }

  private async readProps(path: string, iface: string): Promise<{ props: Props; seq: number }> {
    const { body, seq } = await this.callSeq("GetAll", path, PROPS_IFACE, "s", [iface]);
    const props = body[0];
    return { props: props && typeof props === "object" && !Array.isArray(props) ? (props as Props) : {}, seq };
  }

  /** NetworkManager is there: read the manager and every device, then follow signals. */
  protected async attach(bus: SystemBus, retryOf?: number): Promise<void> {
    this.clearRetry();
    const gen = retryOf ?? ++this.generation;
    this.bus = bus;
    // a new NetworkManager instance: object paths of the old one mean nothing now (a retry keeps
    // what the new one's signals have told us already)
    if (retryOf === undefined) {
      this.devices = new Map();
      this.cache.clear();
      this.recentSettings.clear();
    }
    try {
      const owner = await this.nameOwner(bus);
      if (gen !== this.generation) return;
      this.owner = owner;
      const [paths] = await this.call<[unknown[]]>("GetDevices", NM_PATH, NM_IFACE);
      const seen = this.managerSignals;
      const [mstate] = await this.call<[unknown]>("Get", NM_PATH, PROPS_IFACE, "ss", [NM_IFACE, "State"]);
      const [conn] = await this.call<[unknown]>("Get", NM_PATH, PROPS_IFACE, "ss", [NM_IFACE, "Connectivity"]).catch(() => [undefined]);
      if (gen !== this.generation) return;
      // as for devices: a StateChanged during the read is at least as new as the reply
      if (this.managerSignals === seen) this.reportManager(unwrap(mstate));
      this.reportConnectivity(unwrap(conn));
      const devicePaths = (Array.isArray(paths) ? paths : []).filter(isDevicePath);
      await Promise.all(devicePaths.map((p) => this.readDevice(p, gen)));
      if (gen !== this.generation) return;
      // devices the previous NetworkManager had and this one does not
      const present = new Set([...this.devices.values()].map((d) => d.index).filter((i) => i !== undefined));
      for (const index of [...this.lastState.keys()]) if (!present.has(index)) this.gone(index);
      this.stats.resyncs++;
      this.attachFailures = 0;
      this.attachedNow = true;
      this.sink.attached(true);
      this.log.info("NetworkManager attached", { devices: present.size, owner: this.owner });
    } catch (err) {
      if (gen !== this.generation) return;
      // NetworkManager takes its bus name before it exports its objects: read again shortly
      const delay = RETRY_MS[Math.min(this.attachFailures++, RETRY_MS.length - 1)]!;
      const log = this.attachFailures === 1 ? this.log.warn.bind(this.log) : this.log.debug.bind(this.log);
      log("reading NetworkManager state failed; retrying", { err: (err as Error).message, retryMs: delay });
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (gen === this.generation) void this.attach(bus, gen).catch(logRejection(this.log, "reading NetworkManager state failed"));
      }, delay);
    }
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  protected detach(): void {
    this.clearRetry();
    this.generation++;
    this.owner = null;
    this.devices = new Map();
    this.cache.clear();
    this.recentSettings.clear();
    if (this.attachedNow) {
      this.attachedNow = false;
      this.sink.attached(false);
    }
  }

  private device(path: string): Device {
    let d = this.devices.get(path);
    if (!d) {
      d = { path, queue: Promise.resolve(), signals: 0, queued: 0 };
      this.devices.set(path, d);
    }
    return d;
  }

  /**
   * Run `work` on the device's queue, after everything that arrived before it. A failure is logged:
   * the queue never rejects (await `d.queue` to wait for it).
   */
  private enqueue(d: Device, gen: number, what: string, work: () => Promise<void> | void): void {
    d.queued++;
    d.queue = d.queue.then(async () => {
      try {
        if (gen === this.generation) await work();
      } catch (err) {
        this.log.warn("NetworkManager device update failed", { what, path: d.path, err: (err as Error).message });
      } finally {
        d.queued--;
      }
    });
  }

  /** Read a device's properties now and report them in the order the reply arrived. */
  private async readDevice(path: string, gen: number): Promise<void> {
    const d = this.device(path);
    const seen = d.signals;
    const err = await this.cache.refresh(path, DEVICE_IFACE);
    const props = this.cache.get(path, DEVICE_IFACE);
    if (!props) {
      this.log.warn("cannot read a NetworkManager device", { path, err: err instanceof Error ? err.message : undefined });
      return;
    }
    if (gen !== this.generation) return;
    this.follow(d);
    // A StateChanged received while the read was out may be older or newer than the reply (it can be
    // handled before the reply's continuation runs): then the signals tell the story and the
    // snapshot's state is not used (wait for them, so an attach knows the device when it is done).
    // Without one, the reply is the newest state.
    if (d.signals !== seen) {
      await d.queue;
      return;
    }
    const state = nmNumber(unwrap(props.State));
    if (state !== undefined) d.state = state;
    this.enqueue(d, gen, "snapshot", async () => {
      if (!(await this.identify(d, props))) return;
      if (state === undefined) return;
      const last = this.lastState.get(d.index!);
      const fields: Record<string, string> = { NMDeviceState: String(state), NMDeviceStateName: deviceStateName(state) };
      if (last !== state) {
        // a state we did not see a signal for: a transition from the last one we knew
        const sr = unwrap(props.StateReason);
        const reason = Array.isArray(sr) ? nmNumber(unwrap(sr[1])) : undefined;
        Object.assign(fields, transitionFields(state, last, reason));
      }
      Object.assign(fields, IP_STATES.has(state) ? await this.ipWhenReady(d) : NO_IP);
      if (gen === this.generation) this.report(d, state, fields);
    });
    await d.queue;
  }

  /** The device's interface and ifindex from its properties; false when it has no usable identity. */
  private async identify(d: Device, props: Props): Promise<boolean> {
    const id = deviceIdentity(props);
    const index = id ? await kernelIndex(id.iface, id.hwaddr) : undefined;
    if (!id || index === undefined) {
      if (d.index === undefined) this.log.debug("NetworkManager device without a kernel link ignored", { path: d.path, iface: id?.iface });
      return d.index !== undefined;
    }
    if (d.index !== undefined && d.index !== index) this.gone(d.index); // re-created with a new ifindex
    d.index = index;
    d.iface = id.iface;
    return true;
  }

  /** The objects the device's IP fields come from (paths as its cached properties name them). */
  private refs(d: Device): IpRefs {
    const dev = this.cache.get(d.path, DEVICE_IFACE);
    if (!dev) return {};
    const active = objectPath(unwrap(dev.ActiveConnection), ACTIVE_PATH);
    const conn = active ? this.cache.get(active, ACTIVE_IFACE) : undefined;
    return {
      ip4: configPath(unwrap(dev.Ip4Config)),
      ip6: configPath(unwrap(dev.Ip6Config)),
      dhcp4: objectPath(unwrap(dev.Dhcp4Config), DHCP_PATH),
      dhcp6: objectPath(unwrap(dev.Dhcp6Config), DHCP_PATH),
      active,
      settings: conn ? objectPath(unwrap(conn.Connection), SETTINGS_PATH) : undefined,
    };
  }

  /**
   * Start reading the objects the device names that are not read yet (NetworkManager announces a
   * new DHCP config or active connection early in an activation: its read is in long before the
   * device is activated), and forget those that no device names any more.
   */
  private follow(d: Device): void {
    const r = this.refs(d);
    const gen = this.generation;
    const track = (p: string | undefined, iface: string) => {
      if (!p || this.cache.get(p, iface) || this.cache.pending(p)) return;
      void this.cache
        .track(p, iface)
        .then(() => {
          if (gen !== this.generation || !this.cache.get(p, iface)) return;
          this.follow(d); // an active connection names its settings
          this.ipChanged(d);
        })
        .catch(logRejection(this.log, "following a NetworkManager object failed", { path: p }));
    };
    track(r.ip4, IP4_IFACE);
    track(r.ip6, IP6_IFACE);
    track(r.dhcp4, DHCP4_IFACE);
    track(r.dhcp6, DHCP6_IFACE);
    track(r.active, ACTIVE_IFACE);
    track(r.settings, SETTINGS_CONN_IFACE);
    if (r.settings) {
      this.recentSettings.delete(r.settings);
      this.recentSettings.add(r.settings);
      if (this.recentSettings.size > MAX_RECENT_SETTINGS) this.recentSettings.delete(this.recentSettings.values().next().value!);
    }
    this.prune();
  }

  /** Objects that no device names any more are forgotten (a settings object is read again at its next activation). */
  private prune(): void {
    const keep = new Set<string>(this.recentSettings);
    for (const d of this.devices.values()) {
      keep.add(d.path);
      for (const p of refPaths(this.refs(d))) keep.add(p);
    }
    this.cache.retain(keep);
  }

  /**
   * The device's IP fields from the cache: NetworkManager-dispatcher's variables as NM had announced
   * them. Undefined while an object they need is still being read, unless `partial` (then it is
   * left out, like an unreadable one).
   */
  private ipNow(d: Device, partial = false): Record<string, string> | undefined {
    const device = this.cache.get(d.path, DEVICE_IFACE);
    if (!device) return undefined;
    const r = this.refs(d);
    const parts: NmdParts = { device };
    const need: Array<[keyof IpRefs & keyof NmdParts, string, (readonly string[])?]> = [
      ["ip4", IP4_IFACE],
      ["ip6", IP6_IFACE],
      ["dhcp4", DHCP4_IFACE, DHCP_COMPLETE],
      ["dhcp6", DHCP6_IFACE, DHCP_COMPLETE],
      ["active", ACTIVE_IFACE],
      ["settings", SETTINGS_CONN_IFACE],
    ];
    for (const [k, iface, complete] of need) {
      const p = r[k];
      if (!p) continue;
      const props = this.cache.get(p, iface, complete);
      if (props) parts[k] = props;
      else if (!partial && (!this.cache.has(p) || this.cache.pending(p))) return undefined;
    }
    // the active connection is read, its settings not yet asked for
    if (!partial && parts.active && !r.settings && objectPath(unwrap(parts.active.Connection), SETTINGS_PATH)) return undefined;
    const nmd = nmdVariables(parts);
    return { ...ipFields(parts.ip4, parts.ip6), NMDispatcherEnv: JSON.stringify(nmd), NMDhcp4: leaseKey(nmd, "DHCP4_"), NMDhcp6: leaseKey(nmd, "DHCP6_") };
  }

  /** The device's IP fields once the reads they need are in (when the signals did not bring them before the state change). */
  private async ipWhenReady(d: Device): Promise<Record<string, string>> {
    for (let i = 0; i < 4; i++) {
      this.follow(d);
      const ip = this.ipNow(d);
      if (ip) return ip;
      const paths = [d.path, ...refPaths(this.refs(d))];
      await Promise.all(paths.map((p) => this.cache.ready(p)));
    }
    return this.ipNow(d) ?? { ...NO_IP };
  }

  /**
   * NetworkManager changed an object a device's IP fields come from: in an IP state, the model
   * follows (DNS pushes and routing see NM's final gateway and servers; a lease's options changing
   * while activated is dhcp4-change/dhcp6-change). In the device's order, after its pending work.
   */
  private ipChanged(d: Device): void {
    if (d.index === undefined || d.state === undefined || !IP_STATES.has(d.state)) return;
    const ip = this.ipNow(d);
    if (!ip) return; // a read is out: its end comes back here
    const state = d.state;
    this.enqueue(d, this.generation, "IP configuration changed", () => {
      if (d.index !== undefined && d.state === state) this.sink.linkState(d.index, d.iface, ip);
    });
  }

  private report(d: Device, state: number, fields: Record<string, string>): void {
    this.lastState.set(d.index!, state);
    this.sink.linkState(d.index!, d.iface, fields);
  }

  private gone(index: number): void {
    this.lastState.delete(index);
    this.sink.linkGone(index);
  }

  private reportConnectivity(v: unknown): void {
    const c = nmNumber(v);
    if (c !== undefined) this.sink.managerState({ NMConnectivity: String(c), NMConnectivityName: NM_CONNECTIVITY[c] ?? "UNKNOWN" });
  }

  private reportManager(v: unknown): void {
    const state = nmNumber(v);
    if (state !== undefined) this.sink.managerState({ NMState: String(state), NMStateName: managerStateName(state) });
  }

  /** A PropertiesChanged of a device or of an object a device's IP fields come from. */
  private onPropertiesChanged(s: Signal, iface: string): void {
    const seq = s.seq ?? Number.MAX_SAFE_INTEGER;
    if (!this.cache.changed(s.path, iface, s.body[1], s.body[2], seq)) return;
    this.stats.signals++;
    if (iface === DEVICE_IFACE) {
      const d = this.devices.get(s.path);
      const changed = s.body[1] && typeof s.body[1] === "object" ? Object.keys(s.body[1]) : [];
      if (!d || !changed.some((k) => IP_PROPS.has(k))) return;
      if (changed.some((k) => REF_PROPS.has(k))) this.follow(d);
      this.ipChanged(d);
      return;
    }
    for (const d of this.devices.values()) {
      const r = this.refs(d);
      if (r.ip4 === s.path || r.ip6 === s.path || r.dhcp4 === s.path || r.dhcp6 === s.path || r.settings === s.path) this.ipChanged(d);
    }
  }

  private onSignal(s: Signal): void {
    if (s.sender === "org.freedesktop.DBus" && s.member === "NameOwnerChanged" && s.body[0] === NM_NAME) {
      // the new owner's signals may come before attach() has asked for it
      this.owner = typeof s.body[2] === "string" && s.body[2] !== "" ? s.body[2] : null;
      return;
    }
    if (!this.owner || s.sender !== this.owner) return;
    const gen = this.generation;
    if (s.iface === DEVICE_IFACE && s.member === "StateChanged") {
      if (!isDevicePath(s.path)) return;
      const [n, o, r] = s.body.map((x) => nmNumber(unwrap(x)));
      if (n === undefined) return;
      this.stats.signals++;
      const late = this.devices.has(s.path) ? undefined : this.removed.get(s.path);
      if (late) {
        // the transition of a device already removed: report it under its last identity, then forget it
        this.sink.linkState(late.index, late.iface, { ...transitionFields(n, o, r), ...NO_IP });
        this.sink.linkGone(late.index);
        return;
      }
      const d = this.device(s.path);
      d.signals++;
      d.state = n;
      // NetworkManager announces a device's IP and DHCP data (PropertiesChanged) before the state
      // change that follows from it: the event is built from what it had said up to this signal, at
      // once, with no round trip while NM is busy activating. Only activated waits for a read still
      // out (the active connection's, early in an activation: CONNECTION_*); the states before it
      // go with what is there, so they never hold activated.d up behind them.
      const ip = d.index !== undefined && IP_STATES.has(n) ? this.ipNow(d, n !== NM_ACTIVATED) : undefined;
      if (d.queued === 0 && d.index !== undefined && (ip !== undefined || !IP_STATES.has(n))) {
        // nothing of this device's is pending: report it now, not after the rest of what the bus
        // delivered with it (the manager's state, other objects' properties)
        try {
          this.report(d, n, { ...transitionFields(n, o, r), ...(ip ?? NO_IP) });
        } catch (err) {
          this.log.warn("NetworkManager device update failed", { what: "StateChanged", path: d.path, err: (err as Error).message });
        }
        return;
      }
      this.enqueue(d, gen, "StateChanged", async () => {
        if (d.index === undefined) {
          // an unknown device: its interface first
          await this.cache.refresh(d.path, DEVICE_IFACE);
          const props = this.cache.get(d.path, DEVICE_IFACE);
          if (!props || !(await this.identify(d, props))) return;
          this.follow(d);
        }
        const fields = { ...transitionFields(n, o, r), ...(IP_STATES.has(n) ? (ip ?? (await this.ipWhenReady(d))) : NO_IP) };
        if (gen === this.generation) this.report(d, n, fields);
      });
    } else if (s.iface === PROPS_IFACE && s.member === "PropertiesChanged") {
      const iface = s.body[0];
      if (iface === DEVICE_IFACE && isDevicePath(s.path)) this.onPropertiesChanged(s, iface);
      else if ((iface === IP4_IFACE || iface === IP6_IFACE) && configPath(s.path)) this.onPropertiesChanged(s, iface);
      else if ((iface === DHCP4_IFACE || iface === DHCP6_IFACE) && objectPath(s.path, DHCP_PATH)) this.onPropertiesChanged(s, iface);
      else if (iface === SETTINGS_CONN_IFACE && objectPath(s.path, SETTINGS_PATH)) this.onPropertiesChanged(s, iface);
      else if (iface === NM_IFACE && s.path === NM_PATH) {
        const changed = s.body[1] && typeof s.body[1] === "object" ? (s.body[1] as Record<string, unknown>) : {};
        if ("Connectivity" in changed) {
          this.stats.signals++;
          this.reportConnectivity(unwrap(changed.Connectivity));
        }
      }
    } else if (s.iface === NM_IFACE && s.path === NM_PATH) {
      this.stats.signals++;
      if (s.member === "StateChanged") {
        this.managerSignals++;
        this.reportManager(unwrap(s.body[0]));
      } else if (s.member === "DeviceAdded" && isDevicePath(s.body[0])) {
        void this.readDevice(s.body[0], gen).catch(logRejection(this.log, "cannot read a NetworkManager device", { path: s.body[0] }));
      } else if (s.member === "DeviceRemoved" && isDevicePath(s.body[0])) {
        const d = this.devices.get(s.body[0]);
        if (!d) return;
        this.enqueue(d, gen, "DeviceRemoved", () => {
          this.devices.delete(d.path);
          this.cache.forget(d.path);
          this.prune();
          if (d.index === undefined) return;
          this.gone(d.index);
          if (d.iface !== undefined) {
            this.removed.set(d.path, { index: d.index, iface: d.iface });
            if (this.removed.size > 32) this.removed.delete(this.removed.keys().next().value!);
          }
        });
      }
    }
  }
}
