// Contract events from model state: link snapshots, ids, timestamps, `previous` and `changed`.
// Pure apart from the clock, the id counter (which the EventFactory owns) and 3 random bytes per run.
import { isoTime } from "../time.js";
import type { LinkRecord, RouteRecord } from "../netlink/types.js";
import { RT_TABLE_MAIN } from "../netlink/constants.js";
import type { NetworkModel } from "../state/model.js";
import { addressUsable, isLinkLocal } from "../net/address.js";
import { randomBytes } from "../netlink/native.js";
import type { Backend, HookJob, NetevdEvent } from "./types.js";

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

/**
 * The link's usable addresses with prefix, v4 then v6, link-local excluded, in a stable order.
 * An IPv6 address still in duplicate address detection (or that failed it) is left out: a hook
 * must be able to bind to what it is told about.
 */
export function linkAddresses(m: NetworkModel, index: number): string[] {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const a of m.addrs.values()) {
    if (a.index !== index || isLinkLocal(a.family, a.address) || !addressUsable(a)) continue;
    (a.family === 4 ? v4 : v6).push(`${a.address}/${a.prefixlen}`);
  }
  return [...v4.sort(), ...v6.sort()];
}

/** The gateway of the link's default route in the main table (v4 preferred), if any. */
export function linkGateway(m: NetworkModel, index: number): string | null {
  let v6: string | null = null;
  for (const r of m.routes.values()) {
    if (r.oif !== index || r.dst !== undefined || r.dstLen !== 0 || r.table !== RT_TABLE_MAIN || !r.gateway) continue;
    if (r.family === 4) return r.gateway;
    v6 ??= r.gateway;
  }
  return v6;
}

/** A link's addresses and gateway as the model has them now (what every snapshot of it repeats). */
export interface LinkView {
  addresses: string[];
  gateway: string | null;
}

/**
 * `views`: the links' addresses and gateway already computed against this same model state (one
 * kernel batch's events all show the model as the batch left it). Each is a scan of every address
 * and route; under a flood of address changes on one link, doing it once per event made event
 * derivation quadratic. Snapshots then share the arrays: nothing mutates an event's addresses.
 */
export function snapshotOf(m: NetworkModel, link: LinkRecord, extra?: Record<string, unknown>, dns: string[] = [], views?: Map<number, LinkView>): LinkSnapshot {
  let view = views?.get(link.index);
  if (!view) {
    view = { addresses: linkAddresses(m, link.index), gateway: linkGateway(m, link.index) };
    views?.set(link.index, view);
  }
  return { state: { ...linkState(link), ...extra }, addresses: view.addresses, gateway: view.gateway, dns };
}

function changedKeys(prev: LinkSnapshot | undefined, next: LinkSnapshot): string[] {
  if (!prev) return [];
  const out: string[] = [];
  const keys = new Set([...Object.keys(prev.state), ...Object.keys(next.state)]);
  for (const k of keys) if (JSON.stringify(prev.state[k]) !== JSON.stringify(next.state[k])) out.push(k);
  if (prev.addresses !== next.addresses && prev.addresses.join() !== next.addresses.join()) out.push("addresses");
  if (prev.gateway !== next.gateway) out.push("gateway");
  if (prev.dns.join() !== next.dns.join()) out.push("dns");
  return out;
}

/**
 * The per-run id prefix: the start time (base 36, 8 characters) plus 24 random bits (5), so ids
 * stay unique across restarts (a sink's receiver deduplicates on them) even when two runs start
 * in the same millisecond, and prefixes of later runs still sort after earlier ones.
 */
export function runPrefix(nowMs = Date.now()): string {
  return nowMs.toString(36) + randomBytes(3).readUIntBE(0, 3).toString(36).padStart(5, "0");
}

/**
 * Makes contract events: ids (monotonic within a run, unique across runs), timestamps, and `previous`/`changed`
 * against the last event this link produced, so a script knows what changed without keeping state.
 */
export class EventFactory {
  /** the running backend: every event's `backend` (BACKEND), whatever produced it */
  backend: Backend = "kernel";
  private seq = 0;
  private readonly last = new Map<number, LinkSnapshot>();
  private readonly runId: string;

  constructor(private readonly now: () => Date = () => new Date()) {
    this.runId = runPrefix();
  }

  make(p: {
    event: string;
    link: string | null;
    index: number | null;
    source: Backend;
    snap: LinkSnapshot;
    replay?: boolean;
    changed?: string[];
    stateExtra?: Record<string, unknown>;
  }): NetevdEvent {
    const prev = p.index === null ? undefined : this.last.get(p.index);
    if (p.index !== null) {
      this.last.set(p.index, p.snap);
      this.seeded.delete(p.index);
    }
    const changed = [...new Set([...changedKeys(prev, p.snap), ...(p.changed ?? [])])];
    return {
      schema: "netevd.event.v1",
      id: `${this.runId}-${++this.seq}`,
      ts: isoTime(this.now().getTime()),
      event: p.event,
      link: p.link,
      index: p.index,
      backend: this.backend,
      source: p.source,
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
  /** routes that never trigger routes.d: netevd's own tables and protocol */
  ownRoute(r: RouteRecord): boolean;
  /** monitoring.interfaces */
  selected(name: string): boolean;
  /** backend state to merge into the link's snapshot (e.g. networkd's states) */
  extraState?: (index: number) => Record<string, unknown> | undefined;
}

/** The link a backend fact is about: the kernel's record, or a stand-in from the backend's name for it. */
export function linkFor(m: NetworkModel, index: number, name: string | undefined): LinkRecord | undefined {
  const l = m.links.get(index);
  if (l) return l;
  return name ? { index, name, flags: 0, carrier: false, up: false, mtu: 0, operstate: "unknown", type: 0 } : undefined;
}

/** A manager.d job: the backend manager's state, no link. */
export function managerJob(backend: Backend, state: string, fields: Record<string, string>, changed: string[], f: EventFactory, replay = false): HookJob {
  const snap: LinkSnapshot = { state: { ...fields }, addresses: [], gateway: null, dns: [] };
  const e = f.make({ event: "manager", link: null, index: null, source: backend, snap, changed, replay });
  return { event: e, state, env: {} };
}
