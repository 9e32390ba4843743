// Every metric of netevd, defined once and incremented where the thing happens. Served by the API
// (/metrics) in the Prometheus text format.
import { readdirSync, readFileSync } from "node:fs";
import { Counter, Gauge, Histogram, Registry } from "./prometheus.js";
import { logStats } from "./log.js";

export const registry = new Registry();

// Process metrics computed when scraped: nothing runs in an idle daemon (no event-loop-delay timer).
const startTime = Date.now() / 1000 - process.uptime();
registry.register(new Counter("netevd_process_cpu_seconds_total", "User and system CPU time spent, in seconds", [],
  (c) => { const u = process.cpuUsage(); c.reset(); c.inc((u.user + u.system) / 1e6); }));
registry.register(new Gauge("netevd_process_resident_memory_bytes", "Resident memory size in bytes", [],
  (g) => g.set(process.memoryUsage.rss())));
registry.register(new Gauge("netevd_process_heap_used_bytes", "V8 heap in use, in bytes", [],
  (g) => g.set(process.memoryUsage().heapUsed)));
registry.register(new Gauge("netevd_process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds", [],
  (g) => g.set(startTime)));
registry.register(new Gauge("netevd_process_open_fds", "Open file descriptors", [],
  (g) => { try { g.set(readdirSync("/proc/self/fd").length); } catch { /* not Linux procfs */ } }));
registry.register(new Gauge("netevd_process_threads", "OS threads of the process", [],
  (g) => { try { g.set(Number(/^Threads:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0)); } catch { /* not Linux procfs */ } }));

registry.register(new Counter("netevd_log_records_dropped_total", "Log records dropped because the log sink (stdout: a pipe, journald) was backed up", [],
  (c) => { c.reset(); c.inc(logStats.dropped); }));

const counter = (name: string, help: string, labelNames: string[] = []) => registry.register(new Counter(name, help, labelNames));
const gauge = (name: string, help: string, labelNames: string[] = []) => registry.register(new Gauge(name, help, labelNames));

export const metrics = {
  events: counter("netevd_events_total", "Events emitted, by source and event (hook dir name)", ["source", "event"]),
  hookRuns: counter("netevd_hook_runs_total", "Hook script runs, by hook dir and result (ok, failed, timeout, error)", ["dir", "result"]),
  hookDuration: registry.register(new Histogram("netevd_hook_duration_seconds", "Hook script run time, by hook dir", ["dir"],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])),
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
};

/**
 * Per-sink metrics, read when scraped from the sinks the daemon registers (no timers, and a removed
 * sink's series go with it). Counters restart at 0 when a reload restarts a changed sink.
 */
export interface SinkMetricStats {
  name: string; delivered: number; failedAttempts: number; dropped: number; queued: number; queuedBytes: number; oldestAgeSec: number;
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
const sinkCounter = (name: string, help: string, pick: (s: SinkMetricStats) => number) =>
  registry.register(new Counter(name, help, ["sink"], (c) => perSink(c, pick)));
const sinkGauge = (name: string, help: string, pick: (s: SinkMetricStats) => number) =>
  registry.register(new Gauge(name, help, ["sink"], (g) => perSink(g, pick)));
sinkCounter("netevd_sink_delivered_total", "Events a sink's receiver accepted (2xx), by sink", (s) => s.delivered);
sinkCounter("netevd_sink_failed_attempts_total", "Delivery attempts that failed (error, timeout, non-2xx), by sink", (s) => s.failedAttempts);
sinkCounter("netevd_sink_dropped_total", "Events dropped from a sink's spool (spool full, or corrupt on recovery), by sink", (s) => s.dropped);
sinkGauge("netevd_sink_queued_events", "Events waiting in a sink's spool", (s) => s.queued);
sinkGauge("netevd_sink_queued_bytes", "Bytes of the events waiting in a sink's spool", (s) => s.queuedBytes);
sinkGauge("netevd_sink_oldest_queued_age_seconds", "Age of the oldest event waiting in a sink's spool (0 when empty)", (s) => s.oldestAgeSec);
