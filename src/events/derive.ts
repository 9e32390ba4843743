// From model facts to hook events (contract netevd.event.v1). Pure apart from the clock and the id
// counter, which the EventFactory owns; no I/O.
import type { LinkRecord, RouteRecord } from "../netlink/types.js";
import type { Fact, NetworkModel } from "../state/model.js";
import { routeView } from "../state/describe.js";
import type { Backend, HookJob, NetevdEvent } from "./types.js";
import { NETWORKD_ADMIN_DIRS, NETWORKD_OPER_DIRS } from "./dirs.js";

/** What an event says about a link: its state fields plus addresses, gateway and DNS. */
export interface LinkSnapshot {
  state: Record<string, unknown>;
  addresses: string[];
  gateway: string | null;
  dns: string[];
}

export function linkState(l: LinkRecord): Record<string, unknown> {
  const s: Record<string, unknown> = { carrier: l.carrier, operstate: l.operstate, up: l.up, mtu: l.mtu };
  if (l.mac !== undefined) s.mac = l.mac;
  if (l.kind !== undefined) s.kind = l.kind;
  return s;
}

const isLinkLocal = (family: 4 | 6, address: string): boolean =>
  family === 4 ? address.startsWith("169.254.") : /^fe[89ab][0-9a-f]:/i.test(address);

/** The link's addresses with prefix, v4 then v6, link-local excluded, in a stable order. */
export function linkAddresses(m: NetworkModel, index: number): string[] {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const a of m.addrs.values()) {
    if (a.index !== index || isLinkLocal(a.family, a.address)) continue;
    (a.family === 4 ? v4 : v6).push(`${a.address}/${a.prefixlen}`);
  }
  return [...v4.sort(), ...v6.sort()];
}

/** The gateway of the link's default route in the main table (v4 preferred), if any. */
export function linkGateway(m: NetworkModel, index: number): string | null {
  let v6: string | null = null;
  for (const r of m.routes.values()) {
    if (r.oif !== index || r.dst !== undefined || r.dstLen !== 0 || r.table !== 254 || !r.gateway) continue;
    if (r.family === 4) return r.gateway;
    v6 ??= r.gateway;
  }
  return v6;
}

export function snapshotOf(m: NetworkModel, link: LinkRecord, extra?: Record<string, unknown>, dns: string[] = []): LinkSnapshot {
  return {
    state: { ...linkState(link), ...extra },
    addresses: linkAddresses(m, link.index),
    gateway: linkGateway(m, link.index),
    dns,
  };
}

function changedKeys(prev: LinkSnapshot | undefined, next: LinkSnapshot): string[] {
  if (!prev) return [];
  const out: string[] = [];
  const keys = new Set([...Object.keys(prev.state), ...Object.keys(next.state)]);
  for (const k of keys) if (JSON.stringify(prev.state[k]) !== JSON.stringify(next.state[k])) out.push(k);
  if (prev.addresses.join() !== next.addresses.join()) out.push("addresses");
  if (prev.gateway !== next.gateway) out.push("gateway");
  if (prev.dns.join() !== next.dns.join()) out.push("dns");
  return out;
}

/**
 * Makes contract events: ids (monotonic within a run), timestamps, and `previous`/`changed`
 * against the last event this link produced, so a script knows what changed without keeping state.
 */
export class EventFactory {
  private seq = 0;
  private readonly last = new Map<number, LinkSnapshot>();
  private readonly runId: string;

  constructor(private readonly now: () => Date = () => new Date()) {
    this.runId = Date.now().toString(36);
  }

  /** The sequence number in an id made by this factory, or NaN. */
  static seqOf(id: string): number {
    const i = id.lastIndexOf("-");
    return i < 0 ? NaN : Number(id.slice(i + 1));
  }

  make(p: {
    event: string; link: string | null; index: number | null; backend: Backend; snap: LinkSnapshot;
    replay?: boolean; changed?: string[]; stateExtra?: Record<string, unknown>;
  }): NetevdEvent {
    const prev = p.index === null ? undefined : this.last.get(p.index);
    if (p.index !== null) { this.last.set(p.index, p.snap); this.seeded.delete(p.index); }
    const changed = [...new Set([...changedKeys(prev, p.snap), ...(p.changed ?? [])])];
    return {
      schema: "netevd.event.v1",
      id: `${this.runId}-${++this.seq}`,
      ts: this.now().toISOString(),
      event: p.event,
      link: p.link,
      index: p.index,
      backend: p.backend,
      state: { ...p.snap.state, ...p.stateExtra },
      previous: prev ? { ...prev.state, addresses: prev.addresses, gateway: prev.gateway, dns: prev.dns } : null,
      changed,
      addresses: p.snap.addresses,
      gateway: p.snap.gateway,
      dns: p.snap.dns,
      replay: p.replay ?? false,
    };
  }

  /** A link is gone: forget what it last looked like (its index may be reused). */
  forget(index: number): void {
    this.last.delete(index);
    this.seeded.delete(index);
  }

  private readonly seeded = new Set<number>();

  /**
   * What each link looks like before any event (after the initial sync, and again once the backend's
   * state is known), so the first event of a link has a `previous` too. Links that already had an
   * event keep their last snapshot.
   */
  seed(m: NetworkModel, extra?: (index: number) => Record<string, unknown> | undefined): void {
    for (const l of m.links.values()) {
      if (this.last.has(l.index) && !this.seeded.has(l.index)) continue;
      this.last.set(l.index, snapshotOf(m, l, extra?.(l.index)));
      this.seeded.add(l.index);
    }
  }
}

export interface DeriveContext {
  // (kernel facts and backend facts both come through jobsFromFacts: one path for all sources)
  /** whether kernel carrier facts fire carrier.d / no-carrier.d for this link (not when networkd reports carrier) */
  kernelCarrier(index: number): boolean;
  /** routes that never trigger routes.d: netevd's own tables and protocol */
  ownRoute(r: RouteRecord): boolean;
  /** monitoring.interfaces */
  selected(name: string): boolean;
  /** backend state to merge into the link's snapshot (e.g. networkd's states) */
  extraState?(index: number): Record<string, unknown> | undefined;
}

const job = (event: NetevdEvent): HookJob => ({ event, state: event.event, env: {} });

/** Hook jobs for the kernel-level dirs, from one batch of facts applied to `m`. */
export function jobsFromFacts(facts: Fact[], m: NetworkModel, ctx: DeriveContext, f: EventFactory): HookJob[] {
  const out: HookJob[] = [];
  const routeLinks = new Map<number, RouteRecord>();
  const linkNow = (l: LinkRecord): LinkRecord => m.links.get(l.index) ?? l;
  const emit = (event: string, l: LinkRecord, stateExtra?: Record<string, unknown>, changed?: string[]) => {
    if (!ctx.selected(l.name)) return;
    const snap = snapshotOf(m, l, ctx.extraState?.(l.index));
    out.push(job(f.make({ event, link: l.name, index: l.index, backend: "kernel", snap, stateExtra, changed })));
  };
  for (const fact of facts) {
    switch (fact.fact) {
      case "link-added": emit("link-added", linkNow(fact.link)); break;
      case "link-removed": {
        const l = fact.link;
        if (ctx.selected(l.name)) {
          const snap: LinkSnapshot = { state: linkState(l), addresses: [], gateway: null, dns: [] };
          out.push(job(f.make({ event: "link-removed", link: l.name, index: l.index, backend: "kernel", snap, changed: ["removed"] })));
        }
        f.forget(l.index);
        break;
      }
      case "carrier-up": case "carrier-down":
        if (ctx.kernelCarrier(fact.link.index)) emit(fact.fact === "carrier-up" ? "carrier" : "no-carrier", linkNow(fact.link));
        break;
      case "mtu": emit("mtu", linkNow(fact.link)); break;
      case "address-added": case "address-removed": {
        const l = m.links.get(fact.addr.index);
        if (l) emit(fact.fact, l, { address: `${fact.addr.address}/${fact.addr.prefixlen}`, family: fact.addr.family === 4 ? "inet" : "inet6" }, ["addresses"]);
        break;
      }
      case "route-added": case "route-removed":
        if (fact.route.oif !== undefined && !ctx.ownRoute(fact.route)) routeLinks.set(fact.route.oif, fact.route);
        break;
      case "backend-state":
        if (fact.backend === "systemd-networkd") out.push(...networkdJobs(fact, m, ctx, f));
        break;
      case "manager-state":
        if (fact.backend === "systemd-networkd" && fact.changes.OperationalState) {
          out.push(managerJob(fact.backend, fact.fields.OperationalState!, fact.fields, Object.keys(fact.changes), f));
        }
        break;
      default: break;
    }
  }
  for (const [index, r] of routeLinks) {
    const l = m.links.get(index);
    if (l) emit("routes", l, { route: routeView(r) }, ["routes"]);
  }
  return out;
}

/** Startup replay: each monitored link's current carrier state, once. */
export function replayJobs(m: NetworkModel, ctx: DeriveContext, f: EventFactory): HookJob[] {
  const out: HookJob[] = [];
  for (const l of [...m.links.values()].sort((a, b) => a.index - b.index)) {
    // loopback (ARPHRD_LOOPBACK) never changes carrier: replaying it would only be noise
    if (l.type === 772 || !ctx.selected(l.name) || !ctx.kernelCarrier(l.index)) continue;
    const snap = snapshotOf(m, l, ctx.extraState?.(l.index));
    out.push(job(f.make({ event: l.carrier ? "carrier" : "no-carrier", link: l.name, index: l.index, backend: "kernel", snap, replay: true })));
  }
  return out;
}

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

function linkFor(m: NetworkModel, index: number, name: string | undefined): LinkRecord | undefined {
  const l = m.links.get(index);
  if (l) return l;
  return name ? { index, name, flags: 0, carrier: false, up: false, mtu: 0, operstate: "unknown", type: 0 } : undefined;
}

/** networkd property changes → carrier.d/no-carrier.d (CarrierState), operational dirs, administrative dirs. */
export function networkdJobs(
  fact: { index: number; name?: string; changes: Record<string, [string | undefined, string]>; fields: Record<string, string> },
  m: NetworkModel, ctx: DeriveContext, f: EventFactory, replay = false,
): HookJob[] {
  const l = linkFor(m, fact.index, fact.name);
  if (!l || !ctx.selected(l.name)) return [];
  const dirs: string[] = [];
  const carrier = fact.changes.CarrierState?.[1];
  if (carrier === "carrier" || carrier === "no-carrier") dirs.push(carrier);
  const oper = fact.changes.OperationalState?.[1];
  if (oper && OPER_DIRS.has(oper)) dirs.push(oper);
  const admin = fact.changes.AdministrativeState?.[1];
  if (admin && ADMIN_DIRS.has(admin)) dirs.push(admin);
  const changed = Object.keys(fact.changes);
  return dirs.map((event) => {
    const snap = snapshotOf(m, l, ctx.extraState?.(l.index));
    const e = f.make({ event, link: l.name, index: l.index, backend: "systemd-networkd", snap, changed, replay });
    return { event: e, state: event, env: networkdEnv(snap, l.name, fact.fields) };
  });
}

export function managerJob(backend: Backend, state: string, fields: Record<string, string>, changed: string[], f: EventFactory, replay = false): HookJob {
  const snap: LinkSnapshot = { state: { ...fields }, addresses: [], gateway: null, dns: [] };
  const e = f.make({ event: "manager", link: null, index: null, backend, snap, changed, replay });
  return { event: e, state, env: {} };
}

/** Startup replay for networkd links: the current carrier, operational and administrative dirs, once. */
export function networkdReplayJobs(m: NetworkModel, ctx: DeriveContext, f: EventFactory): HookJob[] {
  const out: HookJob[] = [];
  for (const [index, st] of [...m.backend].sort((a, b) => a[0] - b[0])) {
    if (st.backend !== "systemd-networkd") continue;
    const l = m.links.get(index);
    if (l?.type === 772) continue;
    const changes: Record<string, [string | undefined, string]> = {};
    for (const k of ["CarrierState", "OperationalState", "AdministrativeState"]) if (st.fields[k]) changes[k] = [undefined, st.fields[k]!];
    out.push(...networkdJobs({ index, name: st.name, changes, fields: st.fields }, m, ctx, f, true));
  }
  return out;
}
