// From model facts to hook events: the kernel-level dirs here, backend dirs through the registry
// in backends.ts. One path for every source: facts in, contract events out.
import type { LinkRecord, RouteRecord } from "../netlink/types.js";
import { ARPHRD_LOOPBACK } from "../netlink/constants.js";
import type { Fact, NetworkModel } from "../state/model.js";
import { routeView } from "../state/describe.js";
import { addressUsable, dadFailed } from "../net/address.js";
import type { HookJob, NetevdEvent } from "./types.js";
import { EventFactory, linkState, snapshotOf, type DeriveContext, type LinkSnapshot, type LinkView } from "./factory.js";
import { BACKEND_EVENTS, backendCarrierEnv } from "./backends.js";

export { EventFactory, snapshotOf, linkState, linkAddresses, linkGateway, type DeriveContext, type LinkSnapshot } from "./factory.js";

const job = (event: NetevdEvent): HookJob => ({ event, state: event.event, env: {} });

/**
 * carrier.d / no-carrier.d: fired by the kernel's carrier change at once, whatever the backend (a
 * backend's later report of the same change fires nothing), carrying the backend's last known
 * state of the link and its variables.
 */
function carrierJob(m: NetworkModel, l: LinkRecord, ctx: DeriveContext, f: EventFactory, replay: boolean, views?: Map<number, LinkView>): HookJob {
  const snap = snapshotOf(m, l, ctx.extraState?.(l.index), undefined, views);
  const event = l.carrier ? "carrier" : "no-carrier";
  const j = job(f.make({ event, link: l.name, index: l.index, source: "kernel", snap, replay }));
  // the backend's variables too (networkd-dispatcher's IFACE/OperationalState...): scripts moved over
  // from the backend's dispatcher keep working although the kernel fired the event
  j.env = backendCarrierEnv(m, l.index, l.name, snap) ?? {};
  return j;
}

export const DAD_FAILED_REASON = "duplicate address detection failed: another host on the link answered for this address (IFA_F_DADFAILED); it stays unusable";

/** Which address dir a fact fires, if any: usability (DAD) decides, not the kernel's first report. */
function addressEvent(fact: Extract<Fact, { fact: "address-added" | "address-removed" | "address-changed" }>): string | undefined {
  switch (fact.fact) {
    case "address-added":
      return addressUsable(fact.addr) ? "address-added" : undefined;
    case "address-removed":
      return addressUsable(fact.addr) ? "address-removed" : undefined;
    case "address-changed":
      if (dadFailed(fact.addr) && !dadFailed(fact.previous)) return "address-dad-failed";
      if (addressUsable(fact.addr) && !addressUsable(fact.previous)) return "address-added";
      return undefined;
  }
}

/** Hook jobs for the kernel-level dirs, from one batch of facts applied to `m`. */
export function jobsFromFacts(facts: Fact[], m: NetworkModel, ctx: DeriveContext, f: EventFactory): HookJob[] {
  const out: HookJob[] = [];
  const routeLinks = new Map<number, RouteRecord>();
  // a link fact's own record is the link as that message left it: one kernel batch can hold a
  // carrier loss and its return, and each event must show its own state, not the batch's end;
  // addresses and gateway are the batch's end for every event, so computed once per link
  const views = new Map<number, LinkView>();
  const emit = (event: string, l: LinkRecord, stateExtra?: Record<string, unknown>, changed?: string[]) => {
    if (!ctx.selected(l.name)) return;
    const snap = snapshotOf(m, l, ctx.extraState?.(l.index), undefined, views);
    out.push(job(f.make({ event, link: l.name, index: l.index, source: "kernel", snap, stateExtra, changed })));
  };
  for (const fact of facts) {
    switch (fact.fact) {
      case "link-added":
        emit("link-added", fact.link);
        break;
      case "link-removed": {
        const l = fact.link;
        if (ctx.selected(l.name)) {
          const snap: LinkSnapshot = { state: linkState(l), addresses: [], gateway: null, dns: [] };
          out.push(job(f.make({ event: "link-removed", link: l.name, index: l.index, source: "kernel", snap, changed: ["removed"] })));
        }
        f.forget(l.index);
        break;
      }
      case "carrier-up":
      case "carrier-down":
        if (ctx.selected(fact.link.name)) out.push(carrierJob(m, fact.link, ctx, f, false, views));
        break;
      case "mtu":
        emit("mtu", fact.link);
        break;
      // address-added.d once the address is usable (IPv6: duplicate address detection done), so a
      // hook can bind to it; address-removed.d only for an address that was announced
      case "address-added":
      case "address-removed":
      case "address-changed": {
        const event = addressEvent(fact);
        const l = m.links.get(fact.addr.index);
        if (event && l) {
          const extra: Record<string, unknown> = { address: `${fact.addr.address}/${fact.addr.prefixlen}`, family: fact.addr.family === 4 ? "inet" : "inet6" };
          if (event === "address-dad-failed") extra.reason = DAD_FAILED_REASON;
          emit(event, l, extra, ["addresses"]);
        }
        break;
      }
      case "route-added":
      case "route-removed":
        if (fact.route.oif !== undefined && !ctx.ownRoute(fact.route)) routeLinks.set(fact.route.oif, fact.route);
        break;
      case "backend-state":
        out.push(...(BACKEND_EVENTS[fact.backend]?.linkJobs(fact, m, ctx, f) ?? []));
        break;
      case "manager-state":
        out.push(...(BACKEND_EVENTS[fact.backend]?.managerJobs?.(fact, f) ?? []));
        break;
      default:
        break;
    }
  }
  for (const [index, r] of routeLinks) {
    const l = m.links.get(index);
    if (l) emit("routes", l, { route: routeView(r) }, ["routes"]);
  }
  return out;
}

/** Startup replay: each monitored link's current carrier state, once. */
export function replayJobs(m: NetworkModel, ctx: DeriveContext, f: EventFactory): HookJob[] {
  const out: HookJob[] = [];
  for (const l of [...m.links.values()].sort((a, b) => a.index - b.index)) {
    // loopback (ARPHRD_LOOPBACK) never changes carrier: replaying it would only be noise
    if (l.type === ARPHRD_LOOPBACK || !ctx.selected(l.name)) continue;
    out.push(carrierJob(m, l, ctx, f, true));
  }
  return out;
}

/** Startup replay of the backend's current states (networkd: operational and administrative dirs). */
export function backendReplayJobs(backend: string, m: NetworkModel, ctx: DeriveContext, f: EventFactory): HookJob[] {
  return BACKEND_EVENTS[backend]?.replay?.(m, ctx, f) ?? [];
}
