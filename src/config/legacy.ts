// Configs people already have: the keys of the Rust netevd's template (api.bind_address, api.port,
// api.tls, metrics.port, audit, filters) are mapped onto today's keys, or accepted with a warning
// that says why they are ignored, or (when ignoring them would run scripts a rule was there to stop,
// or serve plain HTTP where TLS was asked for) refused. Pure: plain data in, edits and messages out.
// The same edits feed validation (applied to the plain data) and `netevd validate --migrate`
// (applied to the YAML document, so comments elsewhere survive).

import { isIPv6 } from "node:net";
import { globMatch } from "./glob.js";
import type { ConfigProblem } from "./types.js";

export type LegacyEdit =
  | { op: "delete"; path: string[] }
  | { op: "set"; path: string[]; value: unknown }
  /** append to a list, creating it when absent; duplicates are not added twice */
  | { op: "append"; path: string[]; values: string[] };

export interface LegacyResult {
  edits: LegacyEdit[];
  /** accepted, but ignored or mapped: said at startup and by `validate` */
  warnings: ConfigProblem[];
  /** cannot be honoured: the config is refused */
  problems: ConfigProblem[];
}

const DEFAULT_API_HOST = "127.0.0.1";
const DEFAULT_API_PORT = 9090;

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** "host:port" for api.listen (IPv6 in brackets). */
export function joinListen(host: string, port: number | string): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The host and port of an api.listen value, without validating them (that is parseListen's job). */
export function splitListen(listen: string): { host: string; port: string } {
  if (listen.startsWith("[")) {
    const end = listen.indexOf("]");
    return { host: listen.slice(1, end), port: listen.slice(end + 2) };
  }
  const i = listen.lastIndexOf(":");
  return i < 0 ? { host: listen, port: String(DEFAULT_API_PORT) } : { host: listen.slice(0, i), port: listen.slice(i + 1) };
}

// ---------------------------------------------------------------------------
// filters (the Rust netevd's event filters)
// ---------------------------------------------------------------------------
//
// Their meaning there: the first filter that matches an event decides (execute: run the scripts,
// ignore: don't, log: log and go on); when none matches, the scripts run. So `ignore` with only an
// interface (name or `*` pattern) is exactly monitoring.exclude, an `execute` filter changes
// nothing unless it shields events from a later `ignore`, and `log` is what netevd does anyway.

const MATCH_KEYS = ["interface", "interface_pattern", "event_type", "ip_family", "backend", "condition"] as const;
const STAR_PATTERN = /^[A-Za-z0-9_.:@*-]{1,64}$/;

interface IfaceSet {
  name?: string;
  pattern?: string;
}

function describeFilter(f: Record<string, unknown>): string {
  const m = isMap(f.match_rule) ? f.match_rule : {};
  const parts = MATCH_KEYS.filter((k) => m[k] !== undefined).map((k) => `${k}: ${JSON.stringify(m[k])}`);
  return `{${parts.join(", ")}} action: ${String(f.action)}`;
}

/** Whether two star-only patterns can match a common name; conservative (true unless provably disjoint). */
function patternsMayOverlap(a: string, b: string): boolean {
  const pre = (p: string) => p.slice(0, p.indexOf("*") < 0 ? p.length : p.indexOf("*"));
  const suf = (p: string) => (p.includes("*") ? p.slice(p.lastIndexOf("*") + 1) : p);
  const pa = pre(a), pb = pre(b), sa = suf(a), sb = suf(b);
  if (!pa.startsWith(pb) && !pb.startsWith(pa)) return false;
  if (!sa.endsWith(sb) && !sb.endsWith(sa)) return false;
  return true;
}

function setsMayOverlap(a: IfaceSet, b: IfaceSet): boolean {
  if (a.name !== undefined && b.name !== undefined) return a.name === b.name;
  if (a.name !== undefined) return b.pattern === undefined || globMatch(b.pattern, a.name);
  if (b.name !== undefined) return a.pattern === undefined || globMatch(a.pattern, b.name);
  if (a.pattern === undefined || b.pattern === undefined) return true;
  return patternsMayOverlap(a.pattern, b.pattern);
}

function convertFilters(raw: unknown, out: LegacyResult): void {
  const at = (i: number, sub = "") => `filters[${i}]${sub}`;
  if (raw === null || raw === undefined) {
    out.edits.push({ op: "delete", path: ["filters"] });
    return;
  }
  if (!Array.isArray(raw)) {
    out.problems.push({ path: "filters", message: "expected a list of filters (the Rust netevd's format)" });
    out.edits.push({ op: "delete", path: ["filters"] });
    return;
  }
  const parsed: Array<{ i: number; action: string; set: IfaceSet; extra: string[]; desc: string }> = [];
  const excludes: string[] = [];
  raw.forEach((f, i) => {
    if (!isMap(f) || !isMap(f.match_rule)) {
      out.problems.push({ path: at(i), message: "expected a mapping with match_rule: and action: (the Rust netevd's filter format)" });
      return;
    }
    const m = f.match_rule;
    for (const k of Object.keys(m)) {
      if (!(MATCH_KEYS as readonly string[]).includes(k)) out.problems.push({ path: at(i, `.match_rule.${k}`), message: `unknown filter match key ${JSON.stringify(k)}` });
    }
    for (const k of Object.keys(f)) {
      if (!["match_rule", "action", "scripts"].includes(k)) out.problems.push({ path: at(i, `.${k}`), message: `unknown filter key ${JSON.stringify(k)}` });
    }
    const action = f.action;
    if (action !== "execute" && action !== "ignore" && action !== "log") {
      out.problems.push({ path: at(i, ".action"), message: `expected execute, ignore or log, got ${JSON.stringify(action)}` });
      return;
    }
    const set: IfaceSet = {};
    if (m.interface !== undefined) {
      if (typeof m.interface !== "string" || !/^[A-Za-z0-9_.:@-]{1,15}$/.test(m.interface)) {
        out.problems.push({ path: at(i, ".match_rule.interface"), message: `expected an interface name, got ${JSON.stringify(m.interface)}` });
        return;
      }
      set.name = m.interface;
    }
    if (m.interface_pattern !== undefined) {
      if (typeof m.interface_pattern !== "string" || !STAR_PATTERN.test(m.interface_pattern)) {
        out.problems.push({
          path: at(i, ".match_rule.interface_pattern"),
          message: `expected an interface pattern of A-Z a-z 0-9 _ . : @ - and * (the only wildcard the Rust netevd knows), got ${JSON.stringify(m.interface_pattern)}`,
        });
        return;
      }
      set.pattern = m.interface_pattern;
    }
    const extra = (["event_type", "ip_family", "backend", "condition"] as const).filter((k) => m[k] !== undefined);
    const scripts = f.scripts;
    if (scripts !== undefined && scripts !== null && !(Array.isArray(scripts) && scripts.length === 0)) {
      out.problems.push({
        path: at(i, ".scripts"),
        message: `filter ${describeFilter(f)} lists scripts to run: netevd runs the scripts of the event's directory (<event>.d); move them there and remove this filter`,
      });
      return;
    }
    parsed.push({ i, action, set, extra, desc: describeFilter(f) });
  });

  for (const [k, p] of parsed.entries()) {
    if (p.action === "log") {
      out.warnings.push({ path: at(p.i), message: `filter ${p.desc} is ignored: netevd logs every event and hook run anyway` });
      continue;
    }
    if (p.action === "ignore") {
      if (p.extra.length > 0) {
        out.problems.push({
          path: at(p.i),
          message: `filter ${p.desc} cannot be honoured: netevd can only exclude whole interfaces (monitoring.exclude), not events by ${p.extra.join(", ")}; dropping it would run the scripts it stops`,
        });
        continue;
      }
      if (p.set.name === undefined && p.set.pattern === undefined) {
        out.problems.push({ path: at(p.i), message: `filter ${p.desc} ignores every event: remove it, or set monitoring.interfaces` });
        continue;
      }
      if (p.set.name !== undefined && p.set.pattern !== undefined && !globMatch(p.set.pattern, p.set.name)) {
        out.warnings.push({ path: at(p.i), message: `filter ${p.desc} can never match (the name does not match the pattern); ignored` });
        continue;
      }
      const shield = parsed.slice(0, k).find((e) => e.action === "execute" && setsMayOverlap(e.set, p.set));
      if (shield) {
        out.problems.push({
          path: at(shield.i),
          message: `filter ${shield.desc} cannot be honoured: it comes first and so runs the scripts of some events that filters[${p.i}] (${p.desc}) would stop${shield.extra.length ? `, depending on ${shield.extra.join(", ")}` : ""}; netevd has no per-event rules, only monitoring.exclude: exclude the interfaces you mean and remove both filters`,
        });
        continue;
      }
      excludes.push(p.set.name ?? (p.set.pattern as string));
      continue;
    }
    // execute: the default; it matters only by shielding a later ignore (reported there)
    const later = parsed.slice(k + 1).some((e) => e.action === "ignore" && e.extra.length === 0 && setsMayOverlap(p.set, e.set));
    if (!later) {
      const cond = p.extra.length
        ? ` (its ${p.extra.join(", ")} stopped nothing in the Rust netevd either: an execute filter that does not match falls through to the default, which runs the scripts)`
        : "";
      out.warnings.push({ path: at(p.i), message: `filter ${p.desc} is ignored: running the scripts is the default${cond}` });
    }
  }
  out.edits.push({ op: "delete", path: ["filters"] });
  if (out.problems.some((p) => p.path.startsWith("filters"))) return;
  if (excludes.length) {
    out.edits.push({ op: "append", path: ["monitoring", "exclude"], values: excludes });
    out.warnings.push({ path: "filters", message: `mapped to monitoring.exclude: ${excludes.join(", ")}` });
  }
}

// ---------------------------------------------------------------------------

/** The edits, warnings and problems for the legacy keys of plain config data (as parsed from YAML). */
export function legacyEdits(input: unknown): LegacyResult {
  const out: LegacyResult = { edits: [], warnings: [], problems: [] };
  if (!isMap(input)) return out;

  const api = input.api;
  if (isMap(api)) {
    const hasAddr = Object.hasOwn(api, "bind_address");
    const hasPort = Object.hasOwn(api, "port");
    if (hasAddr || hasPort) {
      const addr = api.bind_address;
      const port = api.port;
      if (Object.hasOwn(api, "listen")) {
        out.problems.push({ path: hasAddr ? "api.bind_address" : "api.port", message: "api.bind_address/api.port and api.listen are both set: keep api.listen" });
      } else if (hasAddr && typeof addr !== "string") {
        out.problems.push({ path: "api.bind_address", message: "expected a string (an IP address)" });
      } else if (hasPort && !(typeof port === "number" && Number.isInteger(port)) && !(typeof port === "string" && /^[0-9]{1,5}$/.test(port))) {
        out.problems.push({ path: "api.port", message: "expected an integer (a TCP port)" });
      } else {
        const listen = joinListen(hasAddr ? (addr as string) : DEFAULT_API_HOST, hasPort ? (port as number | string) : DEFAULT_API_PORT);
        if (hasAddr) out.edits.push({ op: "delete", path: ["api", "bind_address"] });
        if (hasPort) out.edits.push({ op: "delete", path: ["api", "port"] });
        out.edits.push({ op: "set", path: ["api", "listen"], value: listen });
        out.warnings.push({ path: hasAddr ? "api.bind_address" : "api.port", message: `mapped to api.listen: ${JSON.stringify(listen)}` });
      }
    }
    if (Object.hasOwn(api, "tls")) {
      const tls = api.tls;
      if (isMap(tls) && tls.enabled === true) {
        out.problems.push({
          path: "api.tls",
          message: "netevd does not serve TLS: it would answer in plain HTTP where TLS was asked for; keep the API on loopback or the unix socket, or put a TLS-terminating proxy in front, and set tls.enabled: false",
        });
      } else {
        out.edits.push({ op: "delete", path: ["api", "tls"] });
        out.warnings.push({ path: "api.tls", message: "ignored: TLS is not enabled here, and netevd serves plain HTTP (loopback by default) and a unix socket" });
      }
    }
  }

  const metrics = input.metrics;
  if (isMap(metrics) && Object.hasOwn(metrics, "port")) {
    out.edits.push({ op: "delete", path: ["metrics", "port"] });
    out.warnings.push({ path: "metrics.port", message: "ignored: netevd serves metrics at /metrics on the API listener (api.listen), not on a port of their own" });
  }

  if (Object.hasOwn(input, "audit")) {
    const audit = input.audit;
    const on = isMap(audit) && audit.enabled === true;
    out.edits.push({ op: "delete", path: ["audit"] });
    out.warnings.push({
      path: "audit",
      message: `ignored${on ? " although enabled" : ""}: netevd writes no audit file; every event, hook run and API change is a log record on stdout (journald) and in the event history (events.history_size)`,
    });
  }

  if (Object.hasOwn(input, "filters")) convertFilters(input.filters, out);
  return out;
}

/** Apply edits to plain data (a mutable clone of the parsed YAML). */
export function applyLegacyEdits(input: unknown, edits: readonly LegacyEdit[]): unknown {
  if (!isMap(input) || edits.length === 0) return input;
  for (const e of edits) {
    let cur: Record<string, unknown> = input;
    const parents = e.path.slice(0, -1);
    const last = e.path[e.path.length - 1] as string;
    let missing = false;
    for (const k of parents) {
      if (!isMap(cur[k])) {
        if (e.op === "delete") { missing = true; break; }
        cur[k] = Object.create(null) as Record<string, unknown>;
      }
      cur = cur[k] as Record<string, unknown>;
    }
    if (missing) continue;
    if (e.op === "delete") delete cur[last];
    else if (e.op === "set") cur[last] = e.value;
    else {
      const list = Array.isArray(cur[last]) ? (cur[last] as unknown[]) : [];
      for (const v of e.values) if (!list.includes(v)) list.push(v);
      cur[last] = list;
    }
  }
  return input;
}
