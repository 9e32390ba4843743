// Every metric of netevd, defined once and incremented where the thing happens. Served by the API
// (/metrics) and optionally a metrics-only listener (metrics.listen), in the Prometheus text format.
//
// Labels are bounded by construction: no label carries an interface name, an address or a script
// name (a host with container veths would grow them without bound; per-link detail is on the API).
// Every label value comes from a fixed list (hook dirs, sources, results), and each combination is
// pre-initialised to 0 so that rate() and increase() work from the first scrape.
import { readdirSync, readFileSync } from "node:fs";
import { Counter, Gauge, Histogram, Registry } from "./prometheus.js";
import { logStats } from "./log.js";
import { HOOK_EVENTS } from "./hook-dirs.js";
import { nodeV8 } from "./lazy-builtins.js";

export const registry = new Registry();

// ---- the standard process_* and nodejs_* metrics ----------------------------------------------
// The names, types and help texts of prom-client's default metrics (what dashboards and alerts for
// Node services expect), computed when scraped: nothing runs in an idle daemon. Left out: the
// event-loop-delay histogram (a monitorEventLoopDelay timer waking the process 100 times a second;
// nodejs_eventloop_lag_seconds is measured per scrape instead), the GC observer (called back on
// every collection: 126 instead of 54-65 idle context switches in 25 s in bench/idle.ts), and the
// nodejs_active_*_total gauges (a gauge named like a counter fails `promtool check metrics`).

function procStatusKb(text: string, key: string): number | undefined {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

const startTime = Math.round(Date.now() / 1000 - process.uptime());
const cpu = { user: 0, system: 0 };
const readCpu = () => {
  const u = process.cpuUsage();
  cpu.user = u.user / 1e6;
  cpu.system = u.system / 1e6;
};
registry.register(
  new Counter("process_cpu_user_seconds_total", "Total user CPU time spent in seconds.", [], (c) => {
    readCpu();
    c.reset();
    c.inc(cpu.user);
  }),
);
registry.register(
  new Counter("process_cpu_system_seconds_total", "Total system CPU time spent in seconds.", [], (c) => {
    c.reset();
    c.inc(cpu.system);
  }),
);
registry.register(
  new Counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", [], (c) => {
    c.reset();
    c.inc(cpu.user + cpu.system);
  }),
);
registry.register(new Gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", [], (g) => g.set(startTime)));
let procStatus = "";
registry.register(
  new Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", [], (g) => {
    try {
      procStatus = readFileSync("/proc/self/status", "utf8");
    } catch {
      procStatus = "";
    }
    g.set(procStatusKb(procStatus, "VmRSS") ?? process.memoryUsage.rss());
  }),
);
registry.register(
  new Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", [], (g) => {
    const v = procStatusKb(procStatus, "VmSize");
    if (v !== undefined) g.set(v);
  }),
);
registry.register(
  new Gauge("process_heap_bytes", "Process heap size in bytes.", [], (g) => {
    const v = procStatusKb(procStatus, "VmData");
    if (v !== undefined) g.set(v);
  }),
);
registry.register(
  new Gauge("process_open_fds", "Number of open file descriptors.", [], (g) => {
    try {
      g.set(readdirSync("/proc/self/fd").length);
    } catch {
      /* not Linux procfs */
    }
  }),
);
registry.register(
  new Gauge("process_max_fds", "Maximum number of open file descriptors.", [], (g) => {
    try {
      const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
      if (m) g.set(Number(m[1]));
    } catch {
      /* not Linux procfs */
    }
  }),
);
registry.register(new Gauge("nodejs_heap_size_total_bytes", "Process heap size from Node.js in bytes.", [], (g) => g.set(process.memoryUsage().heapTotal)));
registry.register(new Gauge("nodejs_heap_size_used_bytes", "Process heap size used from Node.js in bytes.", [], (g) => g.set(process.memoryUsage().heapUsed)));
registry.register(new Gauge("nodejs_external_memory_bytes", "Node.js external memory size in bytes.", [], (g) => g.set(process.memoryUsage().external)));
// the heap spaces are node:v8's alone: it is loaded with the first scrape, not at start-up
const heapSpaces = () =>
  nodeV8()
    .getHeapSpaceStatistics()
    .map((s) => ({ space: s.space_name.replace(/_space$/, ""), s }));
registry.register(
  new Gauge("nodejs_heap_space_size_total_bytes", "Process heap space size total from Node.js in bytes.", ["space"], (g) => {
    for (const { space, s } of heapSpaces()) g.set({ space }, s.space_size);
  }),
);
registry.register(
  new Gauge("nodejs_heap_space_size_used_bytes", "Process heap space size used from Node.js in bytes.", ["space"], (g) => {
    for (const { space, s } of heapSpaces()) g.set({ space }, s.space_used_size);
  }),
);
registry.register(
  new Gauge("nodejs_heap_space_size_available_bytes", "Process heap space size available from Node.js in bytes.", ["space"], (g) => {
    for (const { space, s } of heapSpaces()) g.set({ space }, s.space_available_size);
  }),
);
const [major = "0", minor = "0", patch = "0"] = process.versions.node.split(".");
registry.register(
  new Gauge("nodejs_version_info", "Node.js version info.", ["version", "major", "minor", "patch"], (g) => g.set({ version: process.version, major, minor, patch }, 1)),
);
registry.register(
  new Gauge("nodejs_active_resources", "Number of active resources that are currently keeping the event loop alive, grouped by async resource type.", ["type"], (g) => {
    g.reset();
    const counts = new Map<string, number>();
    for (const t of process.getActiveResourcesInfo()) counts.set(t, (counts.get(t) ?? 0) + 1);
    for (const [type, n] of counts) g.set({ type }, n);
  }),
);
let lagSeconds = 0;
registry.register(new Gauge("nodejs_eventloop_lag_seconds", "Lag of event loop in seconds.", [], (g) => g.set(lagSeconds)));

/** The exposition text; the event loop lag is measured first (how long a setImmediate waits). */
export async function scrapeMetrics(): Promise<string> {
  const start = process.hrtime.bigint();
  await new Promise<void>((r) => setImmediate(r));
  lagSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  return registry.metrics();
}

registry.register(
  new Counter("netevd_log_records_dropped_total", "Log records dropped because the log sink (stdout: a pipe, journald) was backed up", [], (c) => {
    c.reset();
    c.inc(logStats.dropped);
  }),
);

// ---- netevd's own ------------------------------------------------------------------------------
const counter = (name: string, help: string, labelNames: string[] = []) => registry.register(new Counter(name, help, labelNames));
const gauge = (name: string, help: string, labelNames: string[] = []) => registry.register(new Gauge(name, help, labelNames));

/** The values the bounded labels take (each combination starts at 0). */
export const LABEL_VALUES = {
  source: ["kernel", "systemd-networkd", "NetworkManager", "dhclient"],
  hookDir: HOOK_EVENTS.map((e) => `${e}.d`),
  hookResult: ["ok", "failed", "timeout", "error"],
  dbusService: ["org.freedesktop.DBus", "org.freedesktop.network1", "org.freedesktop.NetworkManager", "org.freedesktop.resolve1", "org.freedesktop.hostname1"],
  routingObject: ["rule", "route"],
  routingAction: ["add", "del"],
} as const;

let sourceHealth: (() => Record<string, { ok: boolean }>) | undefined;

export const metrics = {
  events: counter("netevd_events_total", "Events emitted, by source and event (hook dir name)", ["source", "event"]),
  hookRuns: counter("netevd_hook_runs_total", "Hook script runs, by hook dir and result (ok, failed, timeout, error)", ["dir", "result"]),
  hookFailures: counter("netevd_hook_failures_total", "Hook script runs that did not succeed (exit status, signal, timeout, spawn error), by hook dir", ["dir"]),
  hookDuration: registry.register(
    new Histogram("netevd_hook_duration_seconds", "Hook script run time, by hook dir", ["dir"], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
  ),
  hooksCoalesced: counter("netevd_hook_events_coalesced_total", "Events whose pending hook run was replaced by a newer event"),
  netlinkMessages: counter("netevd_netlink_messages_total", "rtnetlink notifications received"),
  netlinkErrors: counter("netevd_netlink_errors_total", "rtnetlink receive or decode errors"),
  netlinkOverflows: counter("netevd_netlink_overflows_total", "rtnetlink socket overflows (ENOBUFS), each followed by a resync"),
  netlinkTruncated: counter("netevd_netlink_truncated_total", "rtnetlink notifications that arrived truncated (MSG_TRUNC), each followed by a resync"),
  netlinkResyncs: counter("netevd_netlink_resyncs_total", "Kernel state re-dumps"),
  dbusCalls: counter("netevd_dbus_calls_total", "D-Bus method calls made, by destination service", ["service"]),
  dbusErrors: counter("netevd_dbus_errors_total", "D-Bus method calls that failed, by destination service", ["service"]),
  routingActions: counter("netevd_routing_reconcile_actions_total", "Policy routing changes applied, by object and action", ["object", "action"]),
  dnsPushes: counter("netevd_dns_pushes_total", "DNS/hostname pushes to resolved/hostnamed/networkd, by kind and result", ["kind", "result"]),
  interfaces: gauge("netevd_interfaces", "Interfaces known to the kernel model"),
  routes: gauge("netevd_routes", "Routes in the kernel model (all tables)"),
  rules: gauge("netevd_rules", "Routing policy rules in the kernel model"),
  buildInfo: gauge("netevd_build_info", "Build information (value 1)", ["version", "node"]),
  // read from the sources when scraped: no bookkeeping between scrapes
  sourceUp: registry.register(
    new Gauge("netevd_source_up", "Whether an event source works (1) or not (0): the kernel's netlink socket and the configured backend", ["source"], (g) => {
      if (sourceHealth) for (const [source, h] of Object.entries(sourceHealth())) g.set({ source }, h.ok ? 1 : 0);
    }),
  ),
  reloadSuccessful: gauge("netevd_config_last_reload_successful", "Whether the last configuration reload succeeded (1) or was rejected (0); 1 before any reload"),
  reloadSuccessTime: gauge("netevd_config_last_reload_success_timestamp_seconds", "When the configuration was last loaded successfully (start or reload), since the Unix epoch"),
};

// pre-initialised label combinations (bounded: fixed lists)
for (const dir of LABEL_VALUES.hookDir) {
  metrics.hookFailures.inc({ dir }, 0);
  for (const result of LABEL_VALUES.hookResult) metrics.hookRuns.inc({ dir, result }, 0);
}
for (const service of LABEL_VALUES.dbusService) {
  metrics.dbusCalls.inc({ service }, 0);
  metrics.dbusErrors.inc({ service }, 0);
}
for (const object of LABEL_VALUES.routingObject) for (const action of LABEL_VALUES.routingAction) metrics.routingActions.inc({ object, action }, 0);
metrics.reloadSuccessful.set(1);
metrics.reloadSuccessTime.set(Date.now() / 1000);

/** Pre-initialise the per-source series of the sources this daemon runs. */
export function initSourceMetrics(sources: readonly string[]): void {
  for (const source of sources) {
    for (const e of HOOK_EVENTS) metrics.events.inc({ source, event: e }, 0);
  }
}

/** Where netevd_source_up reads the sources' health (the daemon's health()). */
export function setSourceHealthProvider(health: () => Record<string, { ok: boolean }>): void {
  sourceHealth = health;
}

/**
 * Per-sink metrics, read when scraped from the sinks the daemon registers (no timers, and a removed
 * sink's series go with it). Counters restart at 0 when a reload restarts a changed sink.
 */
export interface SinkMetricStats {
  name: string;
  delivered: number;
  failedAttempts: number;
  dropped: number;
  queued: number;
  queuedBytes: number;
  oldestAgeSec: number;
}
let sinkStats: () => SinkMetricStats[] = () => [];
export function setSinkStatsSource(fn: () => SinkMetricStats[]): void {
  sinkStats = fn;
}
const perSink = (m: Counter | Gauge, pick: (s: SinkMetricStats) => number) => {
  m.reset();
  for (const s of sinkStats()) {
    if (m instanceof Counter) m.inc({ sink: s.name }, pick(s));
    else m.set({ sink: s.name }, pick(s));
  }
};
const sinkCounter = (name: string, help: string, pick: (s: SinkMetricStats) => number) => registry.register(new Counter(name, help, ["sink"], (c) => perSink(c, pick)));
const sinkGauge = (name: string, help: string, pick: (s: SinkMetricStats) => number) => registry.register(new Gauge(name, help, ["sink"], (g) => perSink(g, pick)));
sinkCounter("netevd_sink_delivered_total", "Events a sink's receiver accepted (2xx), by sink", (s) => s.delivered);
sinkCounter("netevd_sink_failed_attempts_total", "Delivery attempts that failed (error, timeout, non-2xx), by sink", (s) => s.failedAttempts);
sinkCounter("netevd_sink_dropped_total", "Events dropped from a sink's spool (spool full, or corrupt on recovery), by sink", (s) => s.dropped);
sinkGauge("netevd_sink_queued_events", "Events waiting in a sink's spool", (s) => s.queued);
sinkGauge("netevd_sink_queued_bytes", "Bytes of the events waiting in a sink's spool", (s) => s.queuedBytes);
sinkGauge("netevd_sink_oldest_queued_age_seconds", "Age of the oldest event waiting in a sink's spool (0 when empty)", (s) => s.oldestAgeSec);
