// Every metric of netevd, defined once and incremented where the thing happens. Served by the API
// (/metrics) and optionally a metrics-only listener (metrics.listen), in the Prometheus text format.
//
// Labels are bounded by construction: no label carries an interface name, an address or a script
// name (a host with container veths would grow them without bound; per-link detail is on the API).
// Every label value comes from a fixed list (hook dirs, sources, results), and each combination is
// pre-initialised to 0 so that rate() and increase() work from the first scrape.
import { createRequire } from "node:module";
import client from "prom-client";
import { HOOK_EVENTS } from "./events/dirs.js";

export const registry = new client.Registry();

// The standard process_* and nodejs_* metrics, prom-client's own collectors, each computed when
// scraped. Not collectDefaultMetrics(): its event-loop-lag collector keeps a monitorEventLoopDelay
// histogram that wakes the process 100 times a second, and an idle daemon must not wake at all.
// nodejs_eventloop_lag_seconds is measured at scrape time instead (below).
type DefaultCollector = (registry: client.Registry, config: Record<string, unknown>) => void;
const requireCjs = createRequire(import.meta.url);
// Left out besides the lag histogram: processHandles/processRequests/processResources, whose
// nodejs_active_*_total gauges fail `promtool check metrics` (a gauge named like a counter;
// nodejs_active_resources{type} below says the same), and gc, whose PerformanceObserver is
// called back on every garbage collection: measured with bench/idle.ts, 126 instead of 54-65
// context switches in 25 s of idling.
const DEFAULT_COLLECTORS = [
  "processCpuTotal", "processStartTime", "osMemoryHeap", "processOpenFileDescriptors", "processMaxFileDescriptors",
  "heapSizeAndUsed", "heapSpacesSizeAndUsed", "version",
] as const;
for (const name of DEFAULT_COLLECTORS) (requireCjs(`prom-client/lib/metrics/${name}.js`) as DefaultCollector)(registry, {});
new client.Gauge({
  name: "nodejs_active_resources", help: "Number of active resources that are currently keeping the event loop alive, grouped by async resource type.",
  labelNames: ["type"], registers: [registry],
  collect() {
    this.reset();
    const counts = new Map<string, number>();
    for (const t of process.getActiveResourcesInfo()) counts.set(t, (counts.get(t) ?? 0) + 1);
    for (const [type, n] of counts) this.set({ type }, n);
  },
});
new client.Gauge({
  name: "nodejs_eventloop_lag_seconds", help: "Lag of event loop in seconds.", registers: [registry],
  // measured at scrape time: how long a setImmediate callback waits (no histogram, no timer)
  async collect() {
    const start = process.hrtime.bigint();
    await new Promise<void>((r) => setImmediate(r));
    this.set(Number(process.hrtime.bigint() - start) / 1e9);
  },
});

const counter = (name: string, help: string, labelNames: string[] = []) =>
  new client.Counter({ name, help, labelNames, registers: [registry] });
const gauge = (name: string, help: string, labelNames: string[] = []) =>
  new client.Gauge({ name, help, labelNames, registers: [registry] });

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
  hookDuration: new client.Histogram({
    name: "netevd_hook_duration_seconds", help: "Hook script run time, by hook dir", labelNames: ["dir"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry],
  }),
  hooksCoalesced: counter("netevd_hook_events_coalesced_total", "Events whose pending hook run was replaced by a newer event"),
  netlinkMessages: counter("netevd_netlink_messages_total", "rtnetlink notifications received"),
  netlinkErrors: counter("netevd_netlink_errors_total", "rtnetlink receive or decode errors"),
  netlinkOverflows: counter("netevd_netlink_overflows_total", "rtnetlink socket overflows (ENOBUFS), each followed by a resync"),
  netlinkResyncs: counter("netevd_netlink_resyncs_total", "Kernel state re-dumps"),
  dbusCalls: counter("netevd_dbus_calls_total", "D-Bus method calls made, by destination service", ["service"]),
  dbusErrors: counter("netevd_dbus_errors_total", "D-Bus method calls that failed, by destination service", ["service"]),
  routingActions: counter("netevd_routing_reconcile_actions_total", "Policy routing changes applied, by object and action", ["object", "action"]),
  dnsPushes: counter("netevd_dns_pushes_total", "DNS/hostname pushes to resolved/hostnamed/networkd, by kind and result", ["kind", "result"]),
  interfaces: gauge("netevd_interfaces", "Interfaces known to the kernel model"),
  routes: gauge("netevd_routes", "Routes in the kernel model (all tables)"),
  rules: gauge("netevd_rules", "Routing policy rules in the kernel model"),
  buildInfo: gauge("netevd_build_info", "Build information (value 1)", ["version", "node"]),
  sourceUp: new client.Gauge({
    name: "netevd_source_up", help: "Whether an event source works (1) or not (0): the kernel's netlink socket and the configured backend",
    labelNames: ["source"], registers: [registry],
    // read from the sources when scraped: no bookkeeping between scrapes
    collect() { if (sourceHealth) for (const [source, h] of Object.entries(sourceHealth())) this.set({ source }, h.ok ? 1 : 0); },
  }),
  reloadSuccessful: gauge("netevd_config_last_reload_successful", "Whether the last configuration reload succeeded (1) or was rejected (0); 1 before any reload"),
  reloadSuccessTime: gauge("netevd_config_last_reload_success_timestamp_seconds", "When the configuration was last loaded successfully (start or reload), since the Unix epoch"),
};

// pre-initialised label combinations (bounded: fixed lists)
for (const dir of LABEL_VALUES.hookDir) {
  metrics.hookFailures.inc({ dir }, 0);
  for (const result of LABEL_VALUES.hookResult) metrics.hookRuns.inc({ dir, result }, 0);
}
for (const service of LABEL_VALUES.dbusService) { metrics.dbusCalls.inc({ service }, 0); metrics.dbusErrors.inc({ service }, 0); }
for (const object of LABEL_VALUES.routingObject) for (const action of LABEL_VALUES.routingAction) metrics.routingActions.inc({ object, action }, 0);
metrics.reloadSuccessful.set(1);
metrics.reloadSuccessTime.set(Date.now() / 1000);

/** Pre-initialise the per-source series of the sources this daemon runs (events by hook dir, up). */
export function initSourceMetrics(sources: readonly string[]): void {
  for (const source of sources) {
    for (const e of HOOK_EVENTS) metrics.events.inc({ source, event: e }, 0);
  }
}

/** Where netevd_source_up reads the sources' health (the daemon's health()). */
export function setSourceHealthProvider(health: () => Record<string, { ok: boolean }>): void {
  sourceHealth = health;
}
