// The host name changed (systemd-hostnamed, or the kernel's notification) → hostname.d, a
// manager-level event: no link.
import type { HookJob } from "./types.js";
import type { EventFactory } from "./factory.js";

export function hostnameJob(c: { hostname: string; previous: string | null; staticHostname?: string }, f: EventFactory, source: "hostnamed" | "kernel" = "hostnamed"): HookJob {
  const state: Record<string, unknown> = { hostname: c.hostname, ...(c.staticHostname !== undefined && { staticHostname: c.staticHostname }) };
  const e = f.make({ event: "hostname", link: null, index: null, source, snap: { state, addresses: [], gateway: null, dns: [] }, changed: ["hostname"] });
  if (c.previous !== null) e.previous = { hostname: c.previous };
  const env: Record<string, string> = { HOSTNAME: c.hostname };
  if (c.staticHostname !== undefined) env.STATIC_HOSTNAME = c.staticHostname;
  return { event: e, state: c.hostname, env };
}
