// Policy routing applier: turns a RoutingDiff into rtnetlink requests, one at a time, and reports
// each real change. "Already there" (EEXIST) and "already gone" (ENOENT/ESRCH) are not changes.
// Also the one file read of the routing area: systemd-networkd's configuration.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { NetlinkError, type RouteSpec, type RtnlRequester, type RuleSpec } from "../../netlink/rtnl.js";
import type { RouteRecord, RuleRecord } from "../../netlink/types.js";
import type { PlannedRoute, PlannedRule, RoutingDiff } from "./plan.js";
import { isOurTable, routeId, ruleId } from "./plan.js";

export type RoutingObject = "rule" | "route";
export type RoutingAction = "add" | "del";

/** One change to make, with its identity ("rule:…"/"route:…") for rate limiting and echo matching. */
export interface Change {
  id: string;
  object: RoutingObject;
  action: RoutingAction;
  rule?: RuleSpec;
  route?: RouteSpec;
  /**
   * The interface it is for, when known (stale objects of a vanished link have only an index);
   * null when the object names none (a tagged rule into a table that is not table_base + ifindex).
   */
  index: number | null;
}

export type ChangeResult = "done" | "noop" | Error;

export const ruleChangeId = (r: PlannedRule | RuleRecord): string => `rule:${ruleId(r)}`;
export const routeChangeId = (r: PlannedRoute | RouteRecord): string => `route:${routeId(r)}`;

export function ruleSpecOf(r: PlannedRule | RuleRecord): RuleSpec {
  const spec: RuleSpec = { family: r.family, priority: r.priority ?? 0, table: r.table, srcLen: r.srcLen, dstLen: r.dstLen, protocol: r.protocol };
  if (r.src !== undefined) spec.src = r.src;
  if (r.dst !== undefined) spec.dst = r.dst;
  const x = r as Partial<RuleRecord>;
  if (x.action !== undefined) spec.action = x.action;
  if (x.tos) spec.tos = x.tos;
  if (x.iifname !== undefined) spec.iifname = x.iifname;
  if (x.oifname !== undefined) spec.oifname = x.oifname;
  if (x.fwmark !== undefined) spec.fwmark = x.fwmark;
  if (x.fwmask !== undefined) spec.fwmask = x.fwmask;
  return spec;
}

/** A planned route to add. */
export function routeAddSpec(r: PlannedRoute): RouteSpec {
  const spec: RouteSpec = { family: r.family, table: r.table, dstLen: r.dstLen, protocol: r.protocol, oif: r.oif };
  if (r.dst !== undefined) spec.dst = r.dst;
  if (r.gateway !== undefined) spec.gateway = r.gateway;
  if (r.prefsrc !== undefined) spec.prefsrc = r.prefsrc;
  if (r.scope !== undefined) spec.scope = r.scope;
  return spec;
}

/** A kernel route to delete: exactly this one (metric included), any scope and type. */
export function routeDelSpec(r: RouteRecord): RouteSpec {
  const spec: RouteSpec = { family: r.family, table: r.table, dstLen: r.dstLen, protocol: r.protocol };
  if (r.dst !== undefined) spec.dst = r.dst;
  if (r.gateway !== undefined) spec.gateway = r.gateway;
  if (r.oif !== undefined) spec.oif = r.oif;
  if (r.prefsrc !== undefined) spec.prefsrc = r.prefsrc;
  if (r.priority !== undefined) spec.priority = r.priority;
  return spec;
}

/** The diff as an ordered list of changes: deletions first (rules, then routes), then routes, then rules. */
export function changesOf(diff: RoutingDiff, tableBase: number): Change[] {
  const out: Change[] = [];
  // the table says whose an object is only when it is one of ours (table_base + ifindex); any
  // other table minus table_base is a number that may well be some other, live link's index
  const ofTable = (table: number): number | null => (isOurTable(tableBase, table) ? table - tableBase : null);
  for (const r of diff.delRules) out.push({ id: ruleChangeId(r), object: "rule", action: "del", rule: ruleSpecOf(r), index: ofTable(r.table) });
  for (const r of diff.delRoutes) out.push({ id: routeChangeId(r), object: "route", action: "del", route: routeDelSpec(r), index: r.oif ?? ofTable(r.table) });
  for (const r of diff.addRoutes) out.push({ id: routeChangeId(r), object: "route", action: "add", route: routeAddSpec(r), index: r.index });
  for (const r of diff.addRules) out.push({ id: ruleChangeId(r), object: "rule", action: "add", rule: ruleSpecOf(r), index: r.index });
  return out;
}

const ALREADY_GONE = new Set(["ENOENT", "ESRCH"]);

/** Make one change. Never throws: a refusal comes back as the Error. */
/** What applying changes needs of the request socket. */
export type RoutingRequester = Pick<RtnlRequester, "addRule" | "delRule" | "addRoute" | "delRoute">;

export async function applyChange(req: RoutingRequester, c: Change): Promise<ChangeResult> {
  try {
    if (c.rule) await (c.action === "add" ? req.addRule(c.rule) : req.delRule(c.rule));
    else if (c.route) await (c.action === "add" ? req.addRoute(c.route) : req.delRoute(c.route));
    return "done";
  } catch (err) {
    if (err instanceof NetlinkError && (c.action === "add" ? err.code === "EEXIST" : ALREADY_GONE.has(err.code))) return "noop";
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** What a change is, as event/log fields (family, table, from/to, dst, gateway...). */
export function changeDetails(c: Change): Record<string, unknown> {
  const s = c.rule ?? c.route!;
  const d: Record<string, unknown> = { family: s.family === 4 ? "inet" : "inet6", table: s.table, protocol: s.protocol };
  if (c.rule) {
    d.priority = c.rule.priority;
    if (c.rule.src !== undefined) d.from = `${c.rule.src}/${c.rule.srcLen}`;
    if (c.rule.dst !== undefined) d.to = `${c.rule.dst}/${c.rule.dstLen}`;
  } else if (c.route) {
    d.dst = c.route.dst === undefined && c.route.dstLen === 0 ? "default" : `${c.route.dst}/${c.route.dstLen}`;
    if (c.route.gateway !== undefined) d.gateway = c.route.gateway;
    if (c.route.prefsrc !== undefined) d.prefsrc = c.route.prefsrc;
    if (c.route.oif !== undefined) d.oif = c.route.oif;
  }
  return d;
}

/** `32765 from 10.88.0.2/32 lookup 203` (for log lines). */
export function ruleText(r: RuleRecord): string {
  const sel = [r.src !== undefined ? `from ${r.src}/${r.srcLen}` : "", r.dst !== undefined ? `to ${r.dst}/${r.dstLen}` : ""].filter(Boolean).join(" ");
  return `${r.priority ?? "-"} ${sel || "all"} lookup ${r.table}`;
}

/** `default via 10.88.0.1 oif 3 table 203` (for log lines). */
export function routeText(r: RouteRecord): string {
  return `${r.dst === undefined ? "default" : `${r.dst}/${r.dstLen}`}${r.gateway ? ` via ${r.gateway}` : ""}${r.oif !== undefined ? ` oif ${r.oif}` : ""} table ${r.table}`;
}

export const NETWORKD_CONF = "/etc/systemd/networkd.conf";
export const NETWORKD_CONF_D = "/etc/systemd/networkd.conf.d";

/** networkd.conf then its drop-ins (*.conf, in name order); missing files are skipped. */
export function readNetworkdConf(): string[] {
  const texts: string[] = [];
  const read = (p: string) => {
    try {
      texts.push(readFileSync(p, "utf8"));
    } catch {
      /* absent or unreadable: default */
    }
  };
  read(NETWORKD_CONF);
  let dropIns: string[] = [];
  try {
    dropIns = readdirSync(NETWORKD_CONF_D)
      .filter((f) => f.endsWith(".conf"))
      .sort();
  } catch {
    /* no drop-in dir */
  }
  for (const f of dropIns) read(join(NETWORKD_CONF_D, f));
  return texts;
}
