// Every metric of netevd, defined once and incremented where the thing happens. Served by the API
// (/metrics) in the Prometheus text format.
import { readdirSync, readFileSync } from "node:fs";
import client from "prom-client";

export const registry = new client.Registry();

// Process metrics computed when scraped. Not prom-client's collectDefaultMetrics(): it runs an
// event-loop-delay monitor that wakes the process 100 times a second, and an idle daemon must not.
const startTime = Date.now() / 1000 - process.uptime();
new client.Counter({
  name: "netevd_process_cpu_seconds_total", help: "User and system CPU time spent, in seconds", registers: [registry],
  collect() { const u = process.cpuUsage(); this.reset(); this.inc((u.user + u.system) / 1e6); },
});
new client.Gauge({
  name: "netevd_process_resident_memory_bytes", help: "Resident memory size in bytes", registers: [registry],
  collect() { this.set(process.memoryUsage.rss()); },
});
new client.Gauge({
  name: "netevd_process_heap_used_bytes", help: "V8 heap in use, in bytes", registers: [registry],
  collect() { this.set(process.memoryUsage().heapUsed); },
});
new client.Gauge({
  name: "netevd_process_start_time_seconds", help: "Start time of the process since the Unix epoch, in seconds", registers: [registry],
  collect() { this.set(startTime); },
});
new client.Gauge({
  name: "netevd_process_open_fds", help: "Open file descriptors", registers: [registry],
  collect() { try { this.set(readdirSync("/proc/self/fd").length); } catch { /* not Linux procfs */ } },
});
new client.Gauge({
  name: "netevd_process_threads", help: "OS threads of the process", registers: [registry],
  collect() { try { this.set(Number(/^Threads:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0)); } catch { /* not Linux procfs */ } },
});

const counter = (name: string, help: string, labelNames: string[] = []) =>
  new client.Counter({ name, help, labelNames, registers: [registry] });
const gauge = (name: string, help: string, labelNames: string[] = []) =>
  new client.Gauge({ name, help, labelNames, registers: [registry] });

export const metrics = {
  events: counter("netevd_events_total", "Events emitted, by source and event (hook dir name)", ["source", "event"]),
  hookRuns: counter("netevd_hook_runs_total", "Hook script runs, by hook dir and result (ok, failed, timeout, error)", ["dir", "result"]),
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
  sinkDelivered: counter("netevd_sink_delivered_total", "Events a sink's receiver accepted (2xx), by sink", ["sink"]),
  sinkFailed: counter("netevd_sink_failed_attempts_total", "Delivery attempts that failed (error, timeout, non-2xx), by sink", ["sink"]),
  sinkDropped: counter("netevd_sink_dropped_total", "Events dropped from a sink's spool (spool full, or corrupt on recovery), by sink", ["sink"]),
  buildInfo: gauge("netevd_build_info", "Build information (value 1)", ["version", "node"]),
};

/** Per-sink queue gauges, read when scraped from whatever the daemon registers (no timers). */
export interface SinkQueueStats { name: string; queued: number; queuedBytes: number; oldestAgeSec: number }
let sinkStats: () => SinkQueueStats[] = () => [];
export function setSinkStatsSource(fn: () => SinkQueueStats[]): void {
  sinkStats = fn;
}
const sinkGauge = (name: string, help: string, pick: (s: SinkQueueStats) => number) => new client.Gauge({
  name, help, labelNames: ["sink"], registers: [registry],
  collect() { this.reset(); for (const s of sinkStats()) this.set({ sink: s.name }, pick(s)); },
});
sinkGauge("netevd_sink_queued_events", "Events waiting in a sink's spool", (s) => s.queued);
sinkGauge("netevd_sink_queued_bytes", "Bytes of the events waiting in a sink's spool", (s) => s.queuedBytes);
sinkGauge("netevd_sink_oldest_queued_age_seconds", "Age of the oldest event waiting in a sink's spool (0 when empty)", (s) => s.oldestAgeSec);
