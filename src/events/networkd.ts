// systemd-networkd states → hook events: OperationalState → its dir, AdministrativeState →
// configuring.d/configured.d/failed.d/linger.d/unmanaged.d, Manager OperationalState → manager.d.
// Carrier is not networkd's to fire: carrier.d/no-carrier.d come from the kernel's carrier change
// at once (src/events/derive.ts); networkd's CarrierState (and OperationalState carrier/no-carrier)
// report the same transition milliseconds later and fire nothing.
import type { LinkRecord } from "../netlink/types.js";
import type { NetworkModel } from "../state/model.js";
import type { Backend, HookJob } from "./types.js";
import { NETWORKD_ADMIN_DIRS, NETWORKD_OPER_DIRS } from "./dirs.js";
import { snapshotOf, type DeriveContext, type EventFactory, type LinkSnapshot } from "./factory.js";
import type { BackendFact, ManagerFact } from "./backends.js";

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

export function linkFor(m: NetworkModel, index: number, name: string | undefined): LinkRecord | undefined {
  const l = m.links.get(index);
  if (l) return l;
  return name ? { index, name, flags: 0, carrier: false, up: false, mtu: 0, operstate: "unknown", type: 0 } : undefined;
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

export function managerJob(backend: Backend, state: string, fields: Record<string, string>, changed: string[], f: EventFactory, replay = false): HookJob {
  const snap: LinkSnapshot = { state: { ...fields }, addresses: [], gateway: null, dns: [] };
  const e = f.make({ event: "manager", link: null, index: null, source: backend, snap, changed, replay });
  return { event: e, state, env: {} };
}

/** Startup replay for networkd links: the current operational and administrative dirs, once (carrier: the kernel's replay). */
export function networkdReplayJobs(m: NetworkModel, ctx: DeriveContext, f: EventFactory): HookJob[] {
  const out: HookJob[] = [];
  for (const [index, st] of [...m.backend].sort((a, b) => a[0] - b[0])) {
    if (st.backend !== "systemd-networkd") continue;
    const l = m.links.get(index);
    if (l?.type === 772) continue;
    const changes: Record<string, [string | undefined, string]> = {};
    for (const k of ["OperationalState", "AdministrativeState"]) if (st.fields[k]) changes[k] = [undefined, st.fields[k]!];
    out.push(...networkdJobs({ backend: st.backend, index, name: st.name, changes, fields: st.fields }, m, ctx, f, true));
  }
  return out;
}

export function networkdManagerJobs(fact: ManagerFact, f: EventFactory): HookJob[] {
  const state = fact.changes.OperationalState?.[1];
  return state ? [managerJob(fact.backend as Backend, state, fact.fields, Object.keys(fact.changes), f)] : [];
}
