// dhclient leases → routable.d. The source reports a lease's DHCP_* fields (src/sources/dhclient.ts);
// the model turns only changes into facts. A new lease, or one whose data changed, fires routable.d;
// a renewal that only moves the expiry fires nothing; a released or expired lease is dropped from
// the model by the source and fires nothing either.
import type { BackendFact, NetworkModel } from "../state/model.js";
import type { HookJob } from "./types.js";
import { linkFor, snapshotOf, type DeriveContext, type EventFactory } from "./factory.js";

/** Lease fields → the contract's names for what changed. DHCP_LEASE_EXPIRY alone is no change. */
const CONTRACT_NAME: Readonly<Record<string, string>> = {
  DHCP_ADDRESS: "addresses",
  DHCP_SUBNET_MASK: "addresses",
  DHCP_GATEWAY: "gateway",
  DHCP_DNS: "dns",
  DHCP_DOMAIN: "domain",
  DHCP_HOSTNAME: "hostname",
};

const ENV_KEYS = ["DHCP_ADDRESS", "DHCP_SUBNET_MASK", "DHCP_GATEWAY", "DHCP_DNS", "DHCP_DOMAIN", "DHCP_HOSTNAME", "DHCP_LEASE_EXPIRY"] as const;

const list = (s: string | undefined): string[] => (s ? s.split(" ").filter(Boolean) : []);

export function dhclientJobs(fact: BackendFact, m: NetworkModel, ctx: DeriveContext, f: EventFactory, replay = false): HookJob[] {
  if (fact.backend !== "dhclient" || !fact.fields.DHCP_ADDRESS) return [];
  const changed = Object.keys(fact.changes).filter((k) => k in CONTRACT_NAME);
  if (!replay && changed.length === 0) return [];
  const l = linkFor(m, fact.index, fact.name);
  if (!l || !ctx.selected(l.name)) return [];
  const snap = snapshotOf(m, l, ctx.extraState?.(l.index), list(fact.fields.DHCP_DNS));
  snap.gateway = list(fact.fields.DHCP_GATEWAY)[0] ?? snap.gateway;
  const e = f.make({ event: "routable", link: l.name, index: l.index, source: "dhclient", snap, replay });
  // `changed` in contract terms: what the lease changed (dns, gateway, domain, hostname, addresses),
  // plus what else changed on the link since its last event. The raw DHCP_* keys are left out, and
  // so are the factory's own dns/gateway comparisons: those compare against snapshots that other
  // sources made without the lease's DNS and gateway.
  const other = e.changed.filter((k) => !k.startsWith("DHCP_") && k !== "dns" && k !== "gateway");
  e.changed = [...new Set([...changed.map((k) => CONTRACT_NAME[k]!), ...other])];
  const env: Record<string, string> = {};
  for (const k of ENV_KEYS) if (fact.fields[k]) env[k] = fact.fields[k];
  return [{ event: e, state: "routable", env }];
}

/** Startup replay: routable.d once per current lease. */
export function dhclientReplayJobs(m: NetworkModel, ctx: DeriveContext, f: EventFactory): HookJob[] {
  const out: HookJob[] = [];
  for (const [index, st] of [...m.backend].sort((a, b) => a[0] - b[0])) {
    if (st.backend !== "dhclient" || !st.fields.DHCP_ADDRESS) continue;
    out.push(...dhclientJobs({ fact: "backend-state", backend: st.backend, index, name: st.name, changes: {}, fields: st.fields }, m, ctx, f, true));
  }
  return out;
}
