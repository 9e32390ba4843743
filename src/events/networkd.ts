// systemd-networkd states → hook events: OperationalState → its dir, AdministrativeState →
// configuring.d/configured.d/failed.d/linger.d/unmanaged.d, Manager OperationalState → manager.d.
// Carrier is not networkd's to fire: carrier.d/no-carrier.d come from the kernel's carrier change
// at once (src/events/derive.ts); networkd's CarrierState (and OperationalState carrier/no-carrier)
// report the same transition milliseconds later and fire nothing.
import type { LinkRecord } from "../netlink/types.js";
import { ARPHRD_LOOPBACK, IFA_F_DEPRECATED, RT_SCOPE_UNIVERSE } from "../netlink/constants.js";
import type { Backend, BackendFact, ManagerFact, NetworkModel } from "../state/model.js";
import type { HookJob } from "./types.js";
import { ND_ADMIN_STATES, ND_OPER_STATES, NETWORKD_ADMIN_DIRS, NETWORKD_OPER_DIRS } from "../hook-dirs.js";
import { linkFor, managerJob, snapshotOf, type DeriveContext, type EventFactory, type LinkSnapshot } from "./factory.js";

const OPER_DIRS = new Set<string>(NETWORKD_OPER_DIRS.filter((d) => d !== "carrier" && d !== "no-carrier"));
const ADMIN_DIRS = new Set<string>(NETWORKD_ADMIN_DIRS);

/** networkd-dispatcher compatible variables, so its users can move their scripts over. */
export function networkdEnv(snap: LinkSnapshot, name: string, fields: Record<string, string>): Record<string, string> {
  const bare = (fam: 4 | 6) => snap.addresses.map((a) => a.slice(0, a.lastIndexOf("/"))).filter((a) => (fam === 4) === !a.includes(":"));
  const env: Record<string, string> = { IFACE: name, IP_ADDRS: bare(4).join(" "), IP6_ADDRS: bare(6).join(" ") };
  if (fields.OperationalState) env.OperationalState = fields.OperationalState;
  if (fields.AdministrativeState) env.AdministrativeState = fields.AdministrativeState;
  return env;
}

/** networkd property changes → operational dirs, administrative dirs. */
export function networkdJobs(fact: BackendFact, m: NetworkModel, ctx: DeriveContext, f: EventFactory, replay = false): HookJob[] {
  const l = linkFor(m, fact.index, fact.name);
  if (!l || !ctx.selected(l.name)) return [];
  const dirs: string[] = [];
  const oper = fact.changes.OperationalState?.[1];
  if (oper && OPER_DIRS.has(oper)) dirs.push(oper);
  const admin = fact.changes.AdministrativeState?.[1];
  if (admin && ADMIN_DIRS.has(admin)) dirs.push(admin);
  const changed = Object.keys(fact.changes);
  return dirs.map((event) => {
    const snap = snapshotOf(m, l, ctx.extraState?.(l.index));
    const e = f.make({ event, link: l.name, index: l.index, source: "systemd-networkd", snap, changed, replay });
    return { event: e, state: event, env: networkdEnv(snap, l.name, fact.fields) };
  });
}

/** Startup replay for networkd links: the current operational and administrative dirs, once (carrier: the kernel's replay). */
export function networkdReplayJobs(m: NetworkModel, ctx: DeriveContext, f: EventFactory): HookJob[] {
  const out: HookJob[] = [];
  for (const [index, st] of [...m.backend].sort((a, b) => a[0] - b[0])) {
    if (st.backend !== "systemd-networkd") continue;
    const l = m.links.get(index);
    if (l?.type === ARPHRD_LOOPBACK) continue;
    const changes: Record<string, [string | undefined, string]> = {};
    for (const k of ["OperationalState", "AdministrativeState"]) if (st.fields[k]) changes[k] = [undefined, st.fields[k]];
    out.push(...networkdJobs({ fact: "backend-state", backend: st.backend, index, name: st.name, changes, fields: st.fields }, m, ctx, f, true));
  }
  return out;
}

export function networkdManagerJobs(fact: ManagerFact, f: EventFactory): HookJob[] {
  const state = fact.changes.OperationalState?.[1];
  return state ? [managerJob(fact.backend as Backend, state, fact.fields, Object.keys(fact.changes), f)] : [];
}

// ---------------------------------------------------------------------------
// networkd-dispatcher compatibility (compat.networkd_dispatcher)
// ---------------------------------------------------------------------------
//
// networkd-dispatcher runs <state>.d for every AdministrativeState and then every OperationalState a
// link enters (each once: a repeated value is no change), with no arguments and IFACE, STATE, ADDR,
// ESSID, IP_ADDRS, IP6_ADDRS, AdministrativeState, OperationalState and json; at startup
// (--run-startup-triggers) both current states of every link networkd lists, loopback included.

const ND_ADMIN = new Set<string>(ND_ADMIN_STATES);
const ND_OPER = new Set<string>(ND_OPER_STATES);

function ipBytes(a: string): number[] {
  if (!a.includes(":")) return a.split(".").map(Number);
  const [head = "", tail = ""] = a.split("::", 2) as [string, string?];
  const words = (s: string) => (s === "" ? [] : s.split(":"));
  let h = words(head), t = words(tail);
  // an embedded IPv4 tail (::ffff:1.2.3.4) counts as two words
  const v4 = (ws: string[]) => ws.flatMap((w) => (w.includes(".") ? (() => { const b = w.split(".").map(Number); return [((b[0] ?? 0) << 8 | (b[1] ?? 0)).toString(16), ((b[2] ?? 0) << 8 | (b[3] ?? 0)).toString(16)]; })() : [w]));
  h = v4(h); t = v4(t);
  const all = a.includes("::") ? [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t] : h;
  return all.flatMap((w) => { const n = parseInt(w, 16) || 0; return [n >> 8, n & 0xff]; });
}

function compareBytes(x: number[], y: number[]): number {
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
  return x.length - y.length;
}

/**
 * The link's addresses in the order `networkctl status` lists them (systemd's local_addresses():
 * IPv4 before IPv6, then by scope, then by address; deprecated ones left out), without prefix.
 */
export function networkctlAddresses(m: NetworkModel, index: number): string[] {
  const list = [...m.addrs.values()].filter((a) => a.index === index && (a.flags & IFA_F_DEPRECATED) === 0);
  list.sort((a, b) => (a.family - b.family) || ((a.scope ?? RT_SCOPE_UNIVERSE) - (b.scope ?? RT_SCOPE_UNIVERSE)) || compareBytes(ipBytes(a.address), ipBytes(b.address)));
  return list.map((a) => a.address);
}

/**
 * networkd-dispatcher's address variables, with its meaning (parse_address_strings: 127.* and
 * fe80:* left out of the lists; ADDR is the first address networkctl lists, whatever it is).
 */
export function networkdDispatcherAddresses(m: NetworkModel, index: number): { ADDR: string; IP_ADDRS: string; IP6_ADDRS: string } {
  const addrs = networkctlAddresses(m, index);
  return {
    ADDR: addrs[0] ?? "",
    IP_ADDRS: addrs.filter((a) => !a.includes(":") && a.includes(".") && !a.startsWith("127.")).join(" "),
    IP6_ADDRS: addrs.filter((a) => a.includes(":") && !a.startsWith("fe80:")).join(" "),
  };
}

/** networkd-dispatcher's variables. */
export function networkdDispatcherEnv(m: NetworkModel, l: LinkRecord, fields: Record<string, string>): Record<string, string> {
  return {
    IFACE: l.name,
    ...networkdDispatcherAddresses(m, l.index),
    // networkd-dispatcher reads it from iw/iwconfig for wlan links; netevd does not (yet): empty, as it is for every other link
    ESSID: "",
    AdministrativeState: fields.AdministrativeState ?? "",
    OperationalState: fields.OperationalState ?? "",
  };
}

/** The networkd-dispatcher runs for one networkd property change: its admin state, then its oper state. */
export function networkdDispatcherJobs(fact: BackendFact, m: NetworkModel, ctx: DeriveContext, f: EventFactory, replay = false): HookJob[] {
  const l = linkFor(m, fact.index, fact.name);
  if (!l || !ctx.selected(l.name)) return [];
  const states: string[] = [];
  const admin = fact.changes.AdministrativeState?.[1];
  if (admin && ND_ADMIN.has(admin)) states.push(admin);
  const oper = fact.changes.OperationalState?.[1];
  if (oper && ND_OPER.has(oper)) states.push(oper);
  const changed = Object.keys(fact.changes);
  return states.map((event) => {
    const snap = snapshotOf(m, l, ctx.extraState?.(l.index));
    const e = f.make({ event, link: l.name, index: l.index, source: "systemd-networkd", snap, changed, replay });
    // networkd-dispatcher's json is its parse of `networkctl status`; here it is networkd's own
    // Link.Describe() when the daemon can get it, else the event contract
    const env = { ...networkdDispatcherEnv(m, l, fact.fields), json: JSON.stringify(e) };
    return { event: e, state: event, env, compat: "networkd-dispatcher" as const };
  });
}

/** --run-startup-triggers: both current states of every networkd link, loopback included. */
export function networkdDispatcherReplayJobs(m: NetworkModel, ctx: DeriveContext, f: EventFactory): HookJob[] {
  const out: HookJob[] = [];
  for (const [index, st] of [...m.backend].sort((a, b) => a[0] - b[0])) {
    if (st.backend !== "systemd-networkd") continue;
    const changes: Record<string, [string | undefined, string]> = {};
    for (const k of ["AdministrativeState", "OperationalState"]) if (st.fields[k]) changes[k] = [undefined, st.fields[k]];
    out.push(...networkdDispatcherJobs({ fact: "backend-state", backend: st.backend, index, name: st.name, changes, fields: st.fields }, m, ctx, f, true));
  }
  return out;
}
