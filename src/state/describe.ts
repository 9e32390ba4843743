// Flat, log- and API-friendly views of model objects and facts. Pure.
import type { AddressRecord, LinkRecord, RouteRecord, RuleRecord } from "../netlink/types.js";
import type { Fact } from "./model.js";

export function linkView(l: LinkRecord): Record<string, unknown> {
  return {
    index: l.index,
    name: l.name,
    carrier: l.carrier,
    up: l.up,
    operstate: l.operstate,
    mtu: l.mtu,
    mac: l.mac,
    kind: l.kind,
    master: l.master,
  };
}

export function addrView(a: AddressRecord): Record<string, unknown> {
  return {
    family: a.family === 4 ? "inet" : "inet6",
    address: `${a.address}/${a.prefixlen}`,
    index: a.index,
    scope: a.scope,
    flags: a.flags,
    tentative: a.tentative,
    label: a.label,
    peer: a.peer,
  };
}

export function routeView(r: RouteRecord): Record<string, unknown> {
  return {
    family: r.family === 4 ? "inet" : "inet6",
    dst: r.dst === undefined ? "default" : `${r.dst}/${r.dstLen}`,
    gateway: r.gateway,
    oif: r.oif,
    table: r.table,
    priority: r.priority,
    prefsrc: r.prefsrc,
    protocol: r.protocol,
    scope: r.scope,
    type: r.type,
  };
}

export function ruleView(r: RuleRecord): Record<string, unknown> {
  return {
    family: r.family === 4 ? "inet" : "inet6",
    priority: r.priority,
    src: r.src === undefined ? "all" : `${r.src}/${r.srcLen}`,
    dst: r.dst === undefined ? "all" : `${r.dst}/${r.dstLen}`,
    table: r.table,
    protocol: r.protocol,
    action: r.action,
    iif: r.iifname,
    oif: r.oifname,
    fwmark: r.fwmark,
  };
}

/** The fields a fact is reported with (log records, later the API). */
export function factFields(f: Fact): Record<string, unknown> {
  switch (f.fact) {
    case "link-added":
    case "link-removed":
    case "carrier-up":
    case "carrier-down":
    case "admin-up":
    case "admin-down":
      return { fact: f.fact, link: f.link.name, index: f.link.index, ...pick(linkView(f.link), "carrier", "operstate", "mtu", "mac", "kind") };
    case "link-renamed":
      return { fact: f.fact, link: f.link.name, index: f.link.index, oldName: f.oldName };
    case "operstate":
      return { fact: f.fact, link: f.link.name, index: f.link.index, operstate: f.link.operstate, previous: f.previous };
    case "mtu":
      return { fact: f.fact, link: f.link.name, index: f.link.index, mtu: f.link.mtu, previous: f.previous };
    case "address-added":
    case "address-removed":
      return { fact: f.fact, link: f.link, ...addrView(f.addr) };
    case "address-changed":
      return { fact: f.fact, link: f.link, ...addrView(f.addr), previousFlags: f.previous.flags };
    case "route-added":
    case "route-removed":
      return { fact: f.fact, link: f.link, ...routeView(f.route) };
    case "rule-added":
    case "rule-removed":
      return { fact: f.fact, ...ruleView(f.rule) };
    case "backend-state":
      return { fact: f.fact, backend: f.backend, link: f.name, index: f.index, changes: f.changes };
    case "manager-state":
      return { fact: f.fact, backend: f.backend, changes: f.changes };
  }
}

function pick(o: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
