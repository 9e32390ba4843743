// The network model: links, addresses, routes and rules as the kernel last reported them, and the
// facts that a change to it produces. Pure: plain data in, plain data out, no I/O.
import type { AddressRecord, LinkRecord, RouteRecord, RtMessage, RuleRecord } from "../netlink/types.js";

export interface NetworkModel {
  links: Map<number, LinkRecord>;
  addrs: Map<string, AddressRecord>;
  routes: Map<string, RouteRecord>;
  rules: Map<string, RuleRecord>;
  /** per link: what the backend (networkd, NM, a DHCP lease) says about it, as flat string fields */
  backend: Map<number, BackendLinkState>;
  /** the backend manager's own state (networkd Manager, NM) */
  manager: Record<string, string>;
}

/** A backend's name: "kernel" when there is none (system.backend: none). */
export type Backend = "kernel" | "systemd-networkd" | "NetworkManager" | "dhclient" | "hostnamed";

export interface BackendLinkState {
  backend: string;
  name?: string;
  fields: Record<string, string>;
}

export type Fact =
  | { fact: "link-added"; link: LinkRecord }
  | { fact: "link-removed"; link: LinkRecord }
  | { fact: "link-renamed"; link: LinkRecord; before: LinkRecord; oldName: string }
  | { fact: "carrier-up" | "carrier-down"; link: LinkRecord; before: LinkRecord }
  | { fact: "operstate"; link: LinkRecord; before: LinkRecord; previous: LinkRecord["operstate"] }
  | { fact: "admin-up" | "admin-down"; link: LinkRecord; before: LinkRecord }
  | { fact: "mtu"; link: LinkRecord; before: LinkRecord; previous: number }
  | { fact: "address-added" | "address-removed"; addr: AddressRecord; link?: string }
  | { fact: "address-changed"; addr: AddressRecord; previous: AddressRecord; link?: string }
  | { fact: "route-added" | "route-removed"; route: RouteRecord; link?: string }
  | { fact: "rule-added" | "rule-removed"; rule: RuleRecord }
  | { fact: "backend-state"; backend: string; index: number; name?: string; changes: Record<string, [string | undefined, string]>; fields: Record<string, string> }
  | { fact: "manager-state"; backend: string; changes: Record<string, [string | undefined, string]>; fields: Record<string, string> };

/** A backend reported a change of a link's fields. */
export type BackendFact = Extract<Fact, { fact: "backend-state" }>;
/** A backend reported a change of its manager's fields. */
export type ManagerFact = Extract<Fact, { fact: "manager-state" }>;

export function emptyModel(): NetworkModel {
  return { links: new Map(), addrs: new Map(), routes: new Map(), rules: new Map(), backend: new Map(), manager: {} };
}

// Keys are the kernel's identity of an object: a second RTM_NEWADDR for the same key is an update
// (flags, lifetimes), never a second address. They are built with join(), not a template literal:
// V8 makes a long concatenation a tree of ConsStrings, and a Map lookup with such a key hashes and
// compares it character by character through the tree (under a flood of notifications that was a
// fifth of the reading thread's CPU); join() builds the same text as one flat string.
export const addrKey = (a: AddressRecord): string => [a.index, "|", a.address, "/", a.prefixlen].join("");
export const routeKey = (r: RouteRecord): string =>
  [r.family, r.table, r.type, `${r.dst ?? "*"}/${r.dstLen}`, `${r.src ?? "*"}/${r.srcLen}`, r.tos, r.priority ?? "-", r.oif ?? "-", r.gateway ?? "-"].join("|");
export const ruleKey = (r: RuleRecord): string =>
  [
    r.family,
    r.priority ?? "-",
    `${r.src ?? "*"}/${r.srcLen}`,
    `${r.dst ?? "*"}/${r.dstLen}`,
    r.tos,
    r.table,
    r.action,
    r.iifname ?? "",
    r.oifname ?? "",
    `${r.fwmark ?? ""}/${r.fwmask ?? ""}`,
    r.protocol,
  ].join("|");

export function modelFrom(dump: { links: LinkRecord[]; addrs: AddressRecord[]; routes: RouteRecord[]; rules: RuleRecord[] }): NetworkModel {
  const m = emptyModel();
  for (const l of dump.links) m.links.set(l.index, l);
  for (const a of dump.addrs) m.addrs.set(addrKey(a), a);
  for (const r of dump.routes) m.routes.set(routeKey(r), r);
  for (const r of dump.rules) m.rules.set(ruleKey(r), r);
  return m;
}

/** The link named `name` now (names are unique among live links), if any. */
export function linkByName(m: NetworkModel, name: string): LinkRecord | undefined {
  for (const l of m.links.values()) if (l.name === name) return l;
  return undefined;
}

function changesOf(prev: Record<string, string> | undefined, update: Record<string, string>): Record<string, [string | undefined, string]> {
  const out: Record<string, [string | undefined, string]> = {};
  for (const [k, v] of Object.entries(update)) if (prev?.[k] !== v) out[k] = [prev?.[k], v];
  return out;
}

/**
 * A backend reported properties of a link (networkd OperationalState, NM device state, a lease's
 * fields...). Only real changes are facts, so a backend restart that re-reports the same states
 * fires nothing.
 */
export function applyBackendState(m: NetworkModel, backend: string, index: number, update: Record<string, string>, name?: string): Fact[] {
  const prev = m.backend.get(index);
  const same = prev?.backend === backend;
  const changes = changesOf(same ? prev.fields : undefined, update);
  const fields = { ...(same ? prev.fields : {}), ...update };
  m.backend.set(index, { backend, name: name ?? prev?.name, fields });
  if (Object.keys(changes).length === 0) return [];
  return [{ fact: "backend-state", backend, index, name: name ?? prev?.name, changes, fields }];
}

/** Remove a field set entirely (a lease released, a device removed). No fact: the caller decides. */
export function dropBackendState(m: NetworkModel, index: number, keys?: string[]): void {
  const prev = m.backend.get(index);
  if (!prev) return;
  if (!keys) {
    m.backend.delete(index);
    return;
  }
  for (const k of keys) delete prev.fields[k];
}

export function applyManagerState(m: NetworkModel, backend: string, update: Record<string, string>): Fact[] {
  const changes = changesOf(m.manager, update);
  m.manager = { ...m.manager, ...update };
  if (Object.keys(changes).length === 0) return [];
  return [{ fact: "manager-state", backend, changes, fields: m.manager }];
}

function linkFacts(prev: LinkRecord | undefined, next: LinkRecord | undefined): Fact[] {
  if (!prev && next) return [{ fact: "link-added", link: next }];
  if (prev && !next) return [{ fact: "link-removed", link: prev }];
  if (!prev || !next) return [];
  const out: Fact[] = [];
  const before = prev;
  if (prev.name !== next.name) out.push({ fact: "link-renamed", link: next, before, oldName: prev.name });
  if (prev.up !== next.up) out.push({ fact: next.up ? "admin-up" : "admin-down", link: next, before });
  if (prev.carrier !== next.carrier) out.push({ fact: next.carrier ? "carrier-up" : "carrier-down", link: next, before });
  if (prev.operstate !== next.operstate) out.push({ fact: "operstate", link: next, before, previous: prev.operstate });
  if (prev.mtu !== next.mtu) out.push({ fact: "mtu", link: next, before, previous: prev.mtu });
  return out;
}

function sameAddr(a: AddressRecord, b: AddressRecord): boolean {
  return a.flags === b.flags && a.scope === b.scope && a.label === b.label && a.peer === b.peer;
}

const linkName = (m: NetworkModel, index: number | undefined): string | undefined => (index === undefined ? undefined : m.links.get(index)?.name);

/**
 * Apply one kernel message to the model (mutating it) and return the facts it produced.
 * Duplicates (a RTM_NEWADDR for an address we have with the same flags, a RTM_NEWLINK with
 * nothing we track changed) produce nothing.
 */
export function applyMessage(m: NetworkModel, msg: RtMessage): Fact[] {
  switch (msg.kind) {
    case "link": {
      const l = msg.link;
      const prev = m.links.get(l.index);
      if (msg.op === "del") {
        if (!prev) return [];
        return removeLink(m, prev);
      }
      m.links.set(l.index, l);
      return linkFacts(prev, l);
    }
    case "addr": {
      const a = msg.addr;
      const key = addrKey(a);
      const prev = m.addrs.get(key);
      const link = linkName(m, a.index);
      if (msg.op === "del") {
        if (!prev) return [];
        m.addrs.delete(key);
        return [{ fact: "address-removed", addr: prev, link }];
      }
      m.addrs.set(key, a);
      if (!prev) return [{ fact: "address-added", addr: a, link }];
      if (!sameAddr(prev, a)) return [{ fact: "address-changed", addr: a, previous: prev, link }];
      return [];
    }
    case "route": {
      const r = msg.route;
      const key = routeKey(r);
      const had = m.routes.get(key);
      if (msg.op === "del") {
        if (!had) return [];
        m.routes.delete(key);
        return [{ fact: "route-removed", route: had, link: linkName(m, had.oif) }];
      }
      m.routes.set(key, r);
      return had ? [] : [{ fact: "route-added", route: r, link: linkName(m, r.oif) }];
    }
    case "rule": {
      const r = msg.rule;
      const key = ruleKey(r);
      const had = m.rules.get(key);
      if (msg.op === "del") {
        if (!had) return [];
        m.rules.delete(key);
        return [{ fact: "rule-removed", rule: had }];
      }
      m.rules.set(key, r);
      return had ? [] : [{ fact: "rule-added", rule: r }];
    }
  }
}

/** A link is gone: so are its addresses and routes (the kernel does not always say so). */
function removeLink(m: NetworkModel, link: LinkRecord): Fact[] {
  const out: Fact[] = [];
  for (const [k, a] of m.addrs) {
    if (a.index === link.index) {
      m.addrs.delete(k);
      out.push({ fact: "address-removed", addr: a, link: link.name });
    }
  }
  for (const [k, r] of m.routes) {
    if (r.oif === link.index) {
      m.routes.delete(k);
      out.push({ fact: "route-removed", route: r, link: link.name });
    }
  }
  m.links.delete(link.index);
  out.push({ fact: "link-removed", link });
  return out;
}

/**
 * The facts that turn model `a` into model `b` (used after a re-dump: only real changes come out).
 * Order: new links first, then address/route/rule removals, additions, and removed links last, so
 * facts read as a plausible sequence.
 */
export function diffModels(a: NetworkModel, b: NetworkModel): Fact[] {
  const out: Fact[] = [];
  // a map shared by both models (a partial re-dump) has no differences: skip it
  const links = a.links !== b.links;
  if (links) for (const [i, l] of b.links) out.push(...linkFacts(a.links.get(i), l));
  const nameIn = (index: number | undefined) => linkName(b, index) ?? linkName(a, index);
  if (a.addrs !== b.addrs) {
    for (const [k, x] of a.addrs) if (!b.addrs.has(k)) out.push({ fact: "address-removed", addr: x, link: nameIn(x.index) });
    for (const [k, x] of b.addrs) {
      const p = a.addrs.get(k);
      if (!p) out.push({ fact: "address-added", addr: x, link: nameIn(x.index) });
      else if (!sameAddr(p, x)) out.push({ fact: "address-changed", addr: x, previous: p, link: nameIn(x.index) });
    }
  }
  if (a.routes !== b.routes) {
    for (const [k, x] of a.routes) if (!b.routes.has(k)) out.push({ fact: "route-removed", route: x, link: nameIn(x.oif) });
    for (const [k, x] of b.routes) if (!a.routes.has(k)) out.push({ fact: "route-added", route: x, link: nameIn(x.oif) });
  }
  if (a.rules !== b.rules) {
    for (const [k, x] of a.rules) if (!b.rules.has(k)) out.push({ fact: "rule-removed", rule: x });
    for (const [k, x] of b.rules) if (!a.rules.has(k)) out.push({ fact: "rule-added", rule: x });
  }
  if (links) for (const [i, l] of a.links) if (!b.links.has(i)) out.push({ fact: "link-removed", link: l });
  return out;
}

/** The interface name a fact is about, for monitoring.interfaces filtering; undefined = not link-bound. */
export function factLink(f: Fact): string | undefined {
  switch (f.fact) {
    case "route-added":
    case "route-removed":
    case "address-added":
    case "address-removed":
    case "address-changed":
      return f.link;
    case "rule-added":
    case "rule-removed":
    case "manager-state":
      return undefined;
    case "backend-state":
      return f.name;
    default:
      return f.link.name;
  }
}

/** Structural equality of two models (same objects under the same keys, same field values). */
export function modelsEqual(a: NetworkModel, b: NetworkModel): boolean {
  return diffModels(a, b).length === 0 && a.links.size === b.links.size;
}
