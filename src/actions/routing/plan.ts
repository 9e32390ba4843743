// Policy routing planner: the kernel model + config → the rules and routes that must exist. Pure:
// no I/O; the applier (apply.ts) diffs this plan against the kernel objects tagged with our protocol.
//
// For each interface IF (index N) named in routing.policy_rules, table T = table_base + N:
//   - every non-link-local address A of IF (v4 and v6) gets `from A/32|128 lookup T` (priority_from)
//     and `to A/32|128 lookup T` (priority_to). Tentative v6 addresses are included: a rule for an
//     address still in DAD is harmless and saves a second reconcile when DAD ends.
//   - T holds IF's connected prefixes (dev IF, scope link, prefsrc = an address in the prefix) while
//     IF is administratively up (the kernel refuses routes via a down device), and `default via G
//     dev IF` when a gateway G is known: a main-table default route via IF (any metric, lowest wins),
//     else a gateway a backend reported (lease router, NM/networkd data) that is on-link.
import { isIP } from "node:net";
import type { Config } from "../../config/index.js";
import type { AddressRecord, Family, RouteRecord, RuleRecord } from "../../netlink/types.js";
import type { NetworkModel } from "../../state/model.js";
import type { RouteSpec, RuleSpec } from "../../netlink/encode.js";
import { isLinkLocal } from "../../net/address.js";
// IFA_F_SECONDARY (v4) and IFA_F_TEMPORARY (v6) share the bit
import {
  FR_ACT_TO_TBL, IFA_F_DADFAILED, IFA_F_SECONDARY, RT_SCOPE_LINK, RT_TABLE_DEFAULT, RT_TABLE_LOCAL, RT_TABLE_MAIN, RT_TABLE_UNSPEC, RTN_UNICAST,
} from "../../netlink/constants.js";

export type RoutingConfig = Config["routing"];

export { RT_TABLE_MAIN };

/**
 * Backend fields (model.backend[N].fields) that may carry the link's gateway(s), space-separated,
 * in order of preference: a dhclient lease's router, NetworkManager's IP4/IP6Config gateway.
 */
export const GATEWAY_FIELDS = ["DHCP_GATEWAY", "NMGateway"] as const;

/** A rule netevd wants: what the applier sends (RuleSpec), plus the link it is for. */
export interface PlannedRule extends Pick<RuleSpec, "family" | "priority" | "table" | "src" | "srcLen" | "dst" | "dstLen" | "protocol"> {
  link: string;
  index: number;
}

/** A route netevd wants: what the applier sends (RouteSpec), plus the link it is for. */
export interface PlannedRoute extends Pick<RouteSpec, "family" | "table" | "dst" | "dstLen" | "gateway" | "prefsrc" | "scope" | "protocol"> {
  oif: number;
  link: string;
  index: number;
}

export interface RoutingPlan {
  rules: PlannedRule[];
  routes: PlannedRoute[];
}

export const tableFor = (cfg: RoutingConfig, index: number): number => cfg.table_base + index;


/**
 * Identity of a rule: what makes two rules the same object for the diff. A kernel rule with
 * selectors we never set (iif, fwmark, tos...) gets an identity no planned rule has, so it is stale.
 */
export function ruleId(r: PlannedRule | RuleRecord): string {
  const x = r as Partial<RuleRecord>;
  return [r.family, r.priority ?? "-", `${r.src ?? "*"}/${r.srcLen}`, `${r.dst ?? "*"}/${r.dstLen}`, r.table,
    x.action ?? FR_ACT_TO_TBL, x.tos ?? 0, x.iifname ?? "", x.oifname ?? "", x.fwmark ?? ""].join("|");
}

/** Identity of a route for the diff (the metric is left out: the kernel picks v6's default metric). */
export function routeId(r: PlannedRoute | RouteRecord): string {
  return [r.family, r.table, `${r.dst ?? "*"}/${r.dstLen}`, r.gateway ?? "-", r.oif ?? "-", r.prefsrc ?? "-"].join("|");
}

/** Objects in the model tagged with our protocol: the "actual" side of the diff. */
/**
 * The objects that are netevd's: our protocol id AND our place (a rule at one of our two
 * priorities, a route in one of our tables). Someone else using the same protocol id elsewhere is
 * never touched.
 */
export function taggedObjects(m: NetworkModel, cfg: Pick<RoutingConfig, "protocol" | "priority_from" | "priority_to" | "table_base">): { rules: RuleRecord[]; routes: RouteRecord[] } {
  const rules = [...m.rules.values()].filter((r) => r.protocol === cfg.protocol && (r.priority === cfg.priority_from || r.priority === cfg.priority_to));
  const routes = [...m.routes.values()].filter((r) => r.protocol === cfg.protocol && isOurTable(cfg.table_base, r.table));
  return { rules, routes };
}

/** The kernel's own tables: unspec, default, main, local. */
const KERNEL_TABLES = new Set([RT_TABLE_UNSPEC, RT_TABLE_DEFAULT, RT_TABLE_MAIN, RT_TABLE_LOCAL]);

/** Tables netevd may use: table_base + ifindex, never one of the kernel's. */
export function isOurTable(tableBase: number, table: number): boolean {
  return table > tableBase && !KERNEL_TABLES.has(table);
}

export function planRouting(m: NetworkModel, cfg: RoutingConfig): RoutingPlan {
  const plan: RoutingPlan = { rules: [], routes: [] };
  if (cfg.policy_rules.length === 0) return plan;
  const wanted = new Set(cfg.policy_rules);
  for (const link of m.links.values()) {
    if (!wanted.has(link.name)) continue;
    const index = link.index;
    const table = tableFor(cfg, index);
    if (!isOurTable(cfg.table_base, table)) continue; // table_base + ifindex would be a kernel table
    const base = { table, protocol: cfg.protocol, link: link.name, index };
    const addrs = [...m.addrs.values()]
      .filter((a) => a.index === index && !isLinkLocal(a.family, a.address))
      .sort(byPreference);
    for (const a of addrs) {
      const len = a.family === 4 ? 32 : 128;
      plan.rules.push({ ...base, family: a.family, priority: cfg.priority_from, src: a.address, srcLen: len, dstLen: 0 });
      plan.rules.push({ ...base, family: a.family, priority: cfg.priority_to, dstLen: len, dst: a.address, srcLen: 0 });
    }
    if (!link.up || addrs.length === 0) continue;
    const onLink: Array<{ family: Family; bytes: Uint8Array; len: number }> = [];
    const seen = new Set<string>();
    for (const a of addrs) {
      const prefix = connectedPrefix(a);
      if (!prefix) continue;
      onLink.push({ family: a.family, bytes: prefix.bytes, len: a.prefixlen });
      const key = `${a.family}|${prefix.text}/${a.prefixlen}`;
      if (seen.has(key)) continue; // one route per prefix; addrs are sorted best-first
      seen.add(key);
      const route: PlannedRoute = { ...base, family: a.family, dst: prefix.text, dstLen: a.prefixlen, oif: index, scope: RT_SCOPE_LINK };
      // the kernel refuses a v6 prefsrc that is still tentative (or failed DAD)
      if (a.family === 4 || usableV6Source(a)) route.prefsrc = a.address;
      plan.routes.push(route);
    }
    for (const family of [4, 6] as const) {
      if (!addrs.some((a) => a.family === family)) continue;
      const gw = gatewayFor(m, index, family, onLink);
      if (gw) plan.routes.push({ ...base, family, dstLen: 0, gateway: gw, oif: index });
    }
  }
  return plan;
}

/** Primary (non-secondary/non-temporary), usable addresses first, then by text: stable across restarts. */
function byPreference(a: AddressRecord, b: AddressRecord): number {
  const rank = (x: AddressRecord) => (x.flags & IFA_F_SECONDARY ? 2 : 0) + (x.family === 6 && !usableV6Source(x) ? 1 : 0);
  return a.family - b.family || rank(a) - rank(b) || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0);
}

function usableV6Source(a: AddressRecord): boolean {
  return !a.tentative && (a.flags & IFA_F_DADFAILED) === 0;
}

/** The connected prefix of an address (its peer's for point-to-point), or null for a host-length one. */
function connectedPrefix(a: AddressRecord): { text: string; bytes: Uint8Array } | null {
  const max = a.family === 4 ? 32 : 128;
  if (a.prefixlen >= max && a.peer === undefined) return null;
  const bytes = parseIp(a.peer ?? a.address, a.family);
  if (!bytes) return null;
  const net = maskBytes(bytes, a.prefixlen);
  return { text: formatIp(net), bytes: net };
}

/**
 * The gateway of IF for one family: the main table's default route via IF (lowest metric), else the
 * first on-link address a backend reported. Canonical text, so it compares equal to what the
 * kernel reports back.
 */
export function gatewayFor(m: NetworkModel, index: number, family: Family, onLink: Array<{ family: Family; bytes: Uint8Array; len: number }>): string | undefined {
  let best: RouteRecord | undefined;
  for (const r of m.routes.values()) {
    if (r.family !== family || r.table !== RT_TABLE_MAIN || r.dstLen !== 0 || r.oif !== index || !r.gateway || r.type !== RTN_UNICAST) continue;
    if (!best || (r.priority ?? 0) < (best.priority ?? 0) || ((r.priority ?? 0) === (best.priority ?? 0) && r.gateway < best.gateway!)) best = r;
  }
  if (best?.gateway) return best.gateway;
  const fields = m.backend.get(index)?.fields;
  if (!fields) return undefined;
  for (const name of GATEWAY_FIELDS) {
    for (const text of (fields[name] ?? "").split(" ")) {
      const bytes = parseIp(text, family);
      if (!bytes) continue;
      const linkLocal = family === 6 && bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80;
      if (linkLocal || onLink.some((p) => p.family === family && sameNet(p.bytes, maskBytes(bytes, p.len)))) return formatIp(bytes);
    }
  }
  return undefined;
}

function sameNet(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/* --------------------------------------------------------------------------------------------
 * Address text ↔ bytes, canonical like the kernel reports them (inet_ntop / RFC 5952).
 * ------------------------------------------------------------------------------------------ */

export function parseIp(text: string, family: Family): Uint8Array | null {
  if (typeof text !== "string" || !/^[0-9a-fA-F:.]+$/.test(text) || isIP(text) !== family) return null;
  if (family === 4) return Uint8Array.from(text.split(".").map(Number));
  let s = text.toLowerCase();
  let tail: number[] = [];
  const v4 = s.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const b = v4[2]!.split(".").map(Number);
    tail = [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
    s = v4[1]!.endsWith("::") ? v4[1]! : v4[1]!.slice(0, -1);
  }
  const [head, rest] = s.includes("::") ? s.split("::") as [string, string] : [s, undefined];
  const h = head ? head.split(":").map((x) => parseInt(x, 16)) : [];
  const r = rest !== undefined && rest !== "" ? rest.split(":").map((x) => parseInt(x, 16)) : [];
  const words = rest === undefined ? [...h, ...tail] : [...h, ...new Array<number>(8 - h.length - r.length - tail.length).fill(0), ...r, ...tail];
  if (words.length !== 8) return null;
  const out = new Uint8Array(16);
  words.forEach((w, i) => { out[2 * i] = w >> 8; out[2 * i + 1] = w & 0xff; });
  return out;
}

export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return b.join(".");
  const w = Array.from({ length: 8 }, (_, i) => (b[2 * i]! << 8) | b[2 * i + 1]!);
  // ::ffff:a.b.c.d and ::a.b.c.d, as inet_ntop writes them
  if (w.slice(0, 5).every((x) => x === 0) && (w[5] === 0xffff || (w[5] === 0 && w[6] !== 0))) {
    return `::${w[5] === 0xffff ? "ffff:" : ""}${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestBase = i; bestLen = j - i; }
    i = j;
  }
  const hex = w.map((x) => x.toString(16));
  if (bestBase < 0) return hex.join(":");
  return `${hex.slice(0, bestBase).join(":")}::${hex.slice(bestBase + bestLen).join(":")}`;
}

function maskBytes(b: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) {
    const bits = Math.max(0, Math.min(8, len - 8 * i));
    out[i] = b[i]! & (0xff << (8 - bits)) & 0xff;
  }
  return out;
}

/* --------------------------------------------------------------------------------------------
 * systemd-networkd's ManageForeignRoutingPolicyRules= (it deletes rules it did not create).
 * ------------------------------------------------------------------------------------------ */

/**
 * Whether networkd manages (deletes) foreign routing policy rules, given the text of
 * networkd.conf followed by its drop-ins in order: the last `ManageForeignRoutingPolicyRules=`
 * in a [Network] section wins; the default is yes.
 */
export function networkdManagesForeignRules(texts: string[]): boolean {
  let manage = true;
  for (const text of texts) {
    let section = "";
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
      const sec = line.match(/^\[(.+)\]$/);
      if (sec) { section = sec[1]!.trim(); continue; }
      const kv = line.match(/^ManageForeignRoutingPolicyRules\s*=\s*(.*)$/);
      if (section !== "Network" || !kv) continue;
      const v = kv[1]!.trim().toLowerCase();
      if (["no", "false", "0", "off", "n", "f"].includes(v)) manage = false;
      else if (["yes", "true", "1", "on", "y", "t"].includes(v)) manage = true;
    }
  }
  return manage;
}

/* --------------------------------------------------------------------------------------------
 * Desired vs actual.
 * ------------------------------------------------------------------------------------------ */

export interface RoutingDiff {
  addRules: PlannedRule[];
  addRoutes: PlannedRoute[];
  delRules: RuleRecord[];
  delRoutes: RouteRecord[];
}

/**
 * What to change so that the tagged objects equal the plan. Routes are added connected prefixes
 * first (a default route's gateway must be reachable), rules after routes (a rule never points at
 * a table still being filled).
 */
export function diffPlan(plan: RoutingPlan, actual: { rules: RuleRecord[]; routes: RouteRecord[] }): RoutingDiff {
  const haveRules = new Set(actual.rules.map(ruleId));
  const haveRoutes = new Set(actual.routes.map(routeId));
  const wantRules = new Set(plan.rules.map(ruleId));
  const wantRoutes = new Set(plan.routes.map(routeId));
  const once = <T>(xs: T[], id: (x: T) => string): T[] => {
    const seen = new Set<string>();
    return xs.filter((x) => { const k = id(x); if (seen.has(k)) return false; seen.add(k); return true; });
  };
  return {
    addRules: once(plan.rules.filter((r) => !haveRules.has(ruleId(r))), ruleId),
    addRoutes: once(plan.routes.filter((r) => !haveRoutes.has(routeId(r))), routeId)
      .sort((a, b) => Number(a.gateway !== undefined) - Number(b.gateway !== undefined)),
    delRules: actual.rules.filter((r) => !wantRules.has(ruleId(r))),
    delRoutes: actual.routes.filter((r) => !wantRoutes.has(routeId(r))),
  };
}
