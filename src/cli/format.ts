// Tables and lines for people (`--json` prints the API's answer instead). Pure.
import type { InterfaceView, RouteView, RuleView } from "../api/views.js";
import type { ScriptSetView, ScriptsView } from "../api/scripts.js";
import type { HookRunResult, NetevdEvent } from "../events/types.js";
import type { HookFailureView } from "../api/routes.js";
import { NO_COLOUR, type Paint } from "./colour.js";
import { displayTime } from "./since.js";

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

const yes = (b: boolean): string => (b ? "yes" : "no");
const dash = (s: string | number | null | undefined): string => (s === null || s === undefined || s === "" ? "-" : String(s));

/** The backend's headline state of a link: networkd's operational/admin state, NM's device state... */
function backendSummary(b: InterfaceView["backend"]): string {
  if (!b) return "-";
  const f = b.fields;
  const main = f.OperationalState ?? f.operational_state ?? f.state ?? f.State ?? Object.values(f)[0];
  const admin = f.AdministrativeState ?? f.administrative_state;
  return [main, admin].filter(Boolean).join("/") || b.backend;
}

export function formatInterfaces(list: InterfaceView[]): string {
  return table(
    ["IDX", "NAME", "OPERSTATE", "CARRIER", "MTU", "MAC", "ADDRESSES", "BACKEND"],
    list.map((l) => [
      String(l.index), l.name, l.operstate, yes(l.carrier), String(l.mtu), dash(l.mac),
      l.addresses.map((a) => `${a.address}/${a.prefixlen}`).join(",") || "-", backendSummary(l.backend),
    ]),
  );
}

export function formatInterface(l: InterfaceView): string {
  const rows: Array<[string, string]> = [
    ["name", l.name], ["index", String(l.index)], ["kind", dash(l.kind)], ["mac", dash(l.mac)], ["mtu", String(l.mtu)],
    ["admin", l.up ? "up" : "down"], ["carrier", yes(l.carrier)], ["operstate", l.operstate], ["master", dash(l.master)],
    ["monitored", yes(l.monitored)], ["gateway", dash(l.gateway)],
  ];
  let out = rows.map(([k, v]) => `${(k + ":").padEnd(11)}${v}`).join("\n") + "\n";
  out += "addresses:\n";
  out += l.addresses.length
    ? l.addresses.map((a) => `  ${a.family.padEnd(6)}${a.address}/${a.prefixlen}  scope ${a.scope}${a.tentative ? "  tentative" : ""}${a.peer ? `  peer ${a.peer}` : ""}`).join("\n") + "\n"
    : "  (none)\n";
  if (l.backend) {
    out += `backend (${l.backend.backend}):\n`;
    const keys = Object.keys(l.backend.fields).sort();
    out += keys.length ? keys.map((k) => `  ${k}: ${l.backend!.fields[k]}`).join("\n") + "\n" : "  (no fields)\n";
  }
  return out;
}

const table_ = (t: number, name?: string): string => name ?? String(t);
const proto = (n: number, name?: string): string => name ?? String(n);

export function formatRoutes(list: RouteView[]): string {
  return table(
    ["FAMILY", "DST", "GATEWAY", "DEV", "TABLE", "PROTO", "METRIC", "TYPE", "OURS"],
    list.map((r) => [
      r.family, r.dst, dash(r.gateway), dash(r.dev), table_(r.table, r.tableName), proto(r.protocol, r.protocolName),
      dash(r.metric), r.type, r.ours ? "yes" : "",
    ]),
  );
}

export function formatRules(list: RuleView[]): string {
  return table(
    ["FAMILY", "PRIO", "FROM", "TO", "IIF", "OIF", "FWMARK", "ACTION", "TABLE", "PROTO", "OURS"],
    list.map((r) => [
      r.family, dash(r.priority), r.src, r.dst, dash(r.iif), dash(r.oif),
      r.fwmark === undefined ? "-" : `0x${r.fwmark.toString(16)}${r.fwmask !== undefined ? `/0x${r.fwmask.toString(16)}` : ""}`,
      r.action, r.action === "lookup" ? table_(r.table, r.tableName) : "-", proto(r.protocol, r.protocolName), r.ours ? "yes" : "",
    ]),
  );
}

function scriptRows(v: ScriptSetView, rows: string[][]): void {
  for (const d of v.dirs) {
    const dir = `${d.event}.d`;
    if (d.problem) rows.push([dir, "(directory)", "", `skipped: ${d.problem}`]);
    for (const s of d.scripts) {
      let status = s.target ? `runs (-> ${s.target})` : "runs";
      if (s.overrides?.length) status += `; overrides ${s.overrides.join(", ")}`;
      rows.push([dir, s.name, s.origin, status]);
    }
    for (const m of d.masked) rows.push([dir, m.name, m.origin, m.masks.length ? `masked (-> /dev/null): ${m.masks.join(", ")} does not run` : "masked (-> /dev/null), nothing to mask"]);
    for (const s of d.skipped) rows.push([dir, s.name, s.path.slice(0, s.path.length - dir.length - s.name.length - 2), `skipped: ${s.reason}`]);
  }
  for (const u of v.unknownDirs) rows.push([u.name, "(directory)", u.path.slice(0, u.path.length - u.name.length - 1), `ignored: ${u.reason}`]);
  for (const p of v.problems) rows.push(["", "(directory)", p.dir, p.problem]);
}

export function formatScripts(v: ScriptsView): string {
  const rows: string[][] = [];
  scriptRows(v, rows);
  const dirs = v.scriptsDirs ?? [v.scriptsDir];
  let out = `scripts dirs: ${dirs.join(":")} (earlier wins by file name)${v.problem ? ` (${v.problem})` : ""}\n`;
  out += rows.length ? table(["DIR", "SCRIPT", "FROM", "STATUS"], rows) : "no hook scripts\n";
  if (v.networkdDispatcher) {
    const nd: string[][] = [];
    scriptRows(v.networkdDispatcher, nd);
    out += `\nnetworkd-dispatcher scripts (compat.networkd_dispatcher), dirs: ${v.networkdDispatcher.scriptsDirs.join(":")}\n`;
    out += nd.length ? table(["DIR", "SCRIPT", "FROM", "STATUS"], nd) : "no networkd-dispatcher scripts\n";
  }
  return out;
}

const LOSS_EVENTS = new Set(["no-carrier", "link-removed", "address-removed", "off", "failed", "unavailable", "disconnected", "deactivating"]);
const GAIN_EVENTS = new Set(["carrier", "routable", "configured", "activated", "link-added", "address-added"]);

/** One line per event: time (local unless utc), id, event, link, source (kernel or the backend; older daemons: backend), what changed, addresses. */
export function formatEvent(e: NetevdEvent & { hooks?: HookRunResult[] }, o: { utc?: boolean; paint?: Paint } = {}): string {
  const p = o.paint ?? NO_COLOUR;
  const name = e.event.padEnd(15);
  const parts = [p.dim(displayTime(e.ts, o.utc)), p.dim(e.id), LOSS_EVENTS.has(e.event) ? p.red(name) : GAIN_EVENTS.has(e.event) ? p.green(name) : name, dash(e.link).padEnd(10), e.source ?? e.backend];
  if (e.replay) parts.push("replay");
  if (e.changed.length) parts.push(`changed=${e.changed.join(",")}`);
  if (e.addresses.length) parts.push(`addresses=${e.addresses.join(",")}`);
  let line = parts.join("  ") + "\n";
  for (const h of e.hooks ?? []) {
    const result = h.ok ? "ok" : h.timedOut ? "timeout" : h.error ? `error: ${h.error}` : h.signal ? `killed by ${h.signal}` : `exit ${h.exitCode}`;
    line += `    hook ${h.script}: ${h.ok ? p.green(result) : p.red(result)} (${h.durationMs.toFixed(1)} ms)\n`;
    if (!h.ok) for (const l of h.stderrTail.slice(-3)) line += p.dim(`      ${l}\n`);
  }
  return line;
}

/** A hook result as `events --follow` prints it when it arrives: under its event, indented. */
export function formatHookResult(h: HookRunResult, o: { paint?: Paint } = {}): string {
  const p = o.paint ?? NO_COLOUR;
  const result = h.ok ? "ok" : h.timedOut ? "timeout" : h.error ? `error: ${h.error}` : h.signal ? `killed by ${h.signal}` : `exit ${h.exitCode}`;
  let line = `    hook ${h.event}.d/${h.script} (${h.eventId}): ${h.ok ? p.green(result) : p.red(result)} (${h.durationMs.toFixed(1)} ms)\n`;
  if (!h.ok) for (const l of h.stderrTail.slice(-3)) line += p.dim(`      ${l}\n`);
  return line;
}

interface StatusView {
  version: string; pid: number; startedAt: string; readyAt: string | null; uptimeSec: number; backend: string;
  health: { status: string; sources: Record<string, { state: string; ok: boolean; detail?: string }> };
  counts: Record<string, number>;
  events: { inHistory: number; historySize: number; lastId: string | null; lastAt: string | null };
  hooks: { started?: number; coalesced?: number; scriptsDir?: string; recentFailures?: HookFailureView[]; [key: string]: unknown };
  reload?: { at: string; ok: boolean; problems?: string[] } | null;
  api: { listen: string | null; socket: string | null };
  rssBytes?: number;
}

export function formatStatus(s: StatusView, p: Paint = NO_COLOUR): string {
  const lines: Array<[string, string]> = [
    ["status", s.health.status === "ok" ? p.green(s.health.status) : p.red(s.health.status)],
    ["version", s.version],
    ["pid", String(s.pid)],
    ["uptime", formatDuration(s.uptimeSec)],
    ["backend", s.backend],
  ];
  for (const [name, h] of Object.entries(s.health.sources)) {
    const text = `${h.state}${h.ok ? "" : " (not ok)"}${h.detail ? `: ${h.detail}` : ""}`;
    lines.push([`  ${name}`, h.ok ? text : p.red(text)]);
  }
  lines.push(["interfaces", String(s.counts.interfaces ?? 0)], ["addresses", String(s.counts.addresses ?? 0)],
    ["routes", String(s.counts.routes ?? 0)], ["rules", String(s.counts.rules ?? 0)],
    ["events", `${s.events.inHistory} in history (max ${s.events.historySize})${s.events.lastAt ? `, last ${s.events.lastAt}` : ""}`],
    ["hooks", `${s.hooks.started ?? 0} hook dir runs, ${s.hooks.coalesced ?? 0} coalesced; scripts in ${s.hooks.scriptsDir ?? "?"}`],
    ["reload", s.reload === undefined || s.reload === null ? "none since start" : s.reload.ok ? `ok at ${displayTime(s.reload.at)}` : p.red(`rejected at ${displayTime(s.reload.at)}: ${(s.reload.problems ?? [])[0] ?? ""}`)],
    ["api", [s.api.listen, s.api.socket].filter(Boolean).join(", ") || "-"]);
  if (s.rssBytes !== undefined) lines.push(["memory", `${(s.rssBytes / 1048576).toFixed(1)} MB RSS`]);
  const w = Math.max(...lines.map(([k]) => k.length)) + 2;
  let text = lines.map(([k, v]) => `${(k + ":").padEnd(w)}${v}`).join("\n") + "\n";
  const failures = s.hooks.recentFailures ?? [];
  text += failures.length ? p.red(`failed hooks in the last hour (${failures.length}${failures.length >= 20 ? "+" : ""}):`) + "\n" : "failed hooks in the last hour: none\n";
  for (const f of failures) {
    text += `  ${displayTime(f.startedAt).slice(0, 19)}  ${dash(f.link).padEnd(10)} ${`${f.event}.d/${f.script}`}: ${p.red(f.result)}\n`;
    if (f.lastStderr) text += `      ${p.dim(f.lastStderr)}\n`;
  }
  return text;
}

export function formatDuration(sec: number): string {
  const d = Math.floor(sec / 86400), h = Math.floor((sec % 86400) / 3600), m = Math.floor((sec % 3600) / 60), s = sec % 60;
  return [d ? `${d}d` : "", d || h ? `${h}h` : "", d || h || m ? `${m}min` : "", `${s}s`].filter(Boolean).join(" ");
}
