// What the API answers about interfaces, routes and rules: JSON views of the live kernel model
// (plus the backend's per-link state). Pure; the numeric kernel values are kept, with names beside
// them where iproute2 prints names.
import * as C from "../netlink/constants.js";
import type { AddressRecord, LinkRecord, RouteRecord, RuleRecord } from "../netlink/types.js";
import type { NetworkModel } from "../state/model.js";
import { linkGateway } from "../events/factory.js";

export const TABLE_NAMES: Readonly<Record<number, string>> = { [C.RT_TABLE_DEFAULT]: "default", [C.RT_TABLE_MAIN]: "main", [C.RT_TABLE_LOCAL]: "local" };
export const SCOPE_NAMES: Readonly<Record<number, string>> = {
  [C.RT_SCOPE_UNIVERSE]: "global",
  [C.RT_SCOPE_SITE]: "site",
  [C.RT_SCOPE_LINK]: "link",
  [C.RT_SCOPE_HOST]: "host",
  [C.RT_SCOPE_NOWHERE]: "nowhere",
};
export const ROUTE_TYPES: Readonly<Record<number, string>> = {
  0: "unspec",
  1: "unicast",
  2: "local",
  3: "broadcast",
  4: "anycast",
  5: "multicast",
  6: "blackhole",
  7: "unreachable",
  8: "prohibit",
  9: "throw",
  10: "nat",
  11: "xresolve",
};
export const RULE_ACTIONS: Readonly<Record<number, string>> = {
  1: "lookup",
  2: "goto",
  3: "nop",
  6: "blackhole",
  7: "unreachable",
  8: "prohibit",
};

const family = (f: 4 | 6): "inet" | "inet6" => (f === 4 ? "inet" : "inet6");
const prefix = (a: string | undefined, len: number, none: string): string => (a === undefined ? none : `${a}/${len}`);

export interface AddressView {
  family: "inet" | "inet6";
  address: string;
  prefixlen: number;
  scope: string;
  peer?: string;
  label?: string;
  tentative: boolean;
  flags: number;
}

export interface InterfaceView {
  index: number;
  name: string;
  kind: string | null;
  mac: string | null;
  mtu: number;
  up: boolean;
  carrier: boolean;
  operstate: string;
  master: string | null;
  flags: number;
  /** whether monitoring.interfaces selects it (events and hooks fire for it) */
  monitored: boolean;
  /** whether routing.policy_rules names it (netevd keeps a routing table and rules for it) */
  policyRouted: boolean;
  addresses: AddressView[];
  gateway: string | null;
  /** what the backend (networkd, NetworkManager, a DHCP lease) reports for it */
  backend: { backend: string; fields: Record<string, string> } | null;
}

export function addressView(a: AddressRecord): AddressView {
  const v: AddressView = {
    family: family(a.family),
    address: a.address,
    prefixlen: a.prefixlen,
    scope: SCOPE_NAMES[a.scope] ?? String(a.scope),
    tentative: a.tentative,
    flags: a.flags,
  };
  if (a.peer !== undefined) v.peer = a.peer;
  if (a.label !== undefined) v.label = a.label;
  return v;
}

export function interfaceView(m: NetworkModel, l: LinkRecord, monitored: boolean, policyRouted = false): InterfaceView {
  const addrs = [...m.addrs.values()].filter((a) => a.index === l.index).sort((a, b) => a.family - b.family);
  const b = m.backend.get(l.index);
  return {
    index: l.index,
    name: l.name,
    kind: l.kind ?? null,
    mac: l.mac ?? null,
    mtu: l.mtu,
    up: l.up,
    carrier: l.carrier,
    operstate: l.operstate,
    master: l.master === undefined ? null : (m.links.get(l.master)?.name ?? String(l.master)),
    flags: l.flags,
    monitored,
    policyRouted,
    addresses: addrs.map(addressView),
    gateway: linkGateway(m, l.index),
    backend: b ? { backend: b.backend, fields: { ...b.fields } } : null,
  };
}

export function interfacesView(m: NetworkModel, selected: (name: string) => boolean, policyRouted: (name: string) => boolean = () => false): InterfaceView[] {
  return [...m.links.values()].sort((a, b) => a.index - b.index).map((l) => interfaceView(m, l, selected(l.name), policyRouted(l.name)));
}

export interface RouteView {
  family: "inet" | "inet6";
  type: string;
  dst: string;
  src?: string;
  gateway?: string;
  dev?: string;
  oif?: number;
  table: number;
  tableName?: string;
  metric?: number;
  prefsrc?: string;
  protocol: number;
  protocolName?: string;
  scope: string;
  tos?: number;
  /** installed by netevd (policy routing): protocol == routing.protocol */
  ours: boolean;
}

export function routeView(m: NetworkModel, r: RouteRecord, ownProtocol: number): RouteView {
  const v: RouteView = {
    family: family(r.family),
    type: ROUTE_TYPES[r.type] ?? String(r.type),
    dst: prefix(r.dst, r.dstLen, "default"),
    table: r.table,
    protocol: r.protocol,
    scope: SCOPE_NAMES[r.scope] ?? String(r.scope),
    ours: r.protocol === ownProtocol,
  };
  if (r.src !== undefined) v.src = prefix(r.src, r.srcLen, "");
  if (r.gateway !== undefined) v.gateway = r.gateway;
  if (r.oif !== undefined) {
    v.oif = r.oif;
    const dev = m.links.get(r.oif)?.name;
    if (dev !== undefined) v.dev = dev;
  }
  if (TABLE_NAMES[r.table]) v.tableName = TABLE_NAMES[r.table];
  if (r.priority !== undefined) v.metric = r.priority;
  if (r.prefsrc !== undefined) v.prefsrc = r.prefsrc;
  if (C.RTPROT_NAMES[r.protocol]) v.protocolName = C.RTPROT_NAMES[r.protocol];
  if (r.tos) v.tos = r.tos;
  return v;
}

/** main first, then policy tables, then local and default (as people read them) */
const tableRank = (t: number): number => (t === C.RT_TABLE_MAIN ? 0 : t === C.RT_TABLE_LOCAL ? 2 : t === C.RT_TABLE_DEFAULT ? 3 : 1);

export function routesView(m: NetworkModel, ownProtocol: number): RouteView[] {
  return [...m.routes.values()].sort((a, b) => a.family - b.family || tableRank(a.table) - tableRank(b.table) || a.table - b.table).map((r) => routeView(m, r, ownProtocol));
}

export interface RuleView {
  family: "inet" | "inet6";
  priority: number | null;
  src: string;
  dst: string;
  table: number;
  tableName?: string;
  action: string;
  iif?: string;
  oif?: string;
  fwmark?: number;
  fwmask?: number;
  tos?: number;
  protocol: number;
  protocolName?: string;
  /** installed by netevd (policy routing): protocol == routing.protocol */
  ours: boolean;
}

export function ruleView(r: RuleRecord, ownProtocol: number): RuleView {
  const v: RuleView = {
    family: family(r.family),
    priority: r.priority ?? null,
    src: prefix(r.src, r.srcLen, "all"),
    dst: prefix(r.dst, r.dstLen, "all"),
    table: r.table,
    action: RULE_ACTIONS[r.action] ?? String(r.action),
    protocol: r.protocol,
    ours: r.protocol === ownProtocol,
  };
  if (TABLE_NAMES[r.table]) v.tableName = TABLE_NAMES[r.table];
  if (r.iifname !== undefined) v.iif = r.iifname;
  if (r.oifname !== undefined) v.oif = r.oifname;
  if (r.fwmark !== undefined) v.fwmark = r.fwmark;
  if (r.fwmask !== undefined) v.fwmask = r.fwmask;
  if (r.tos) v.tos = r.tos;
  if (C.RTPROT_NAMES[r.protocol]) v.protocolName = C.RTPROT_NAMES[r.protocol];
  return v;
}

export function rulesView(m: NetworkModel, ownProtocol: number): RuleView[] {
  return [...m.rules.values()].sort((a, b) => a.family - b.family || (a.priority ?? 0) - (b.priority ?? 0)).map((r) => ruleView(r, ownProtocol));
}
