// The kernel source: one multicast rtnetlink socket feeding the network model. A full dump builds
// the model ("synced"); notifications update it; on socket overflow (ENOBUFS) a re-dump is diffed
// against the model so only real changes come out and no final state is lost.
import { RtnlMonitor, RtnlRequester, type RtnlMonitorOptions } from "../netlink/rtnl.js";
import { RT_TABLE_LOCAL, RTN_LOCAL } from "../netlink/constants.js";
import type { ObjectKind, RouteRecord, RtMessage } from "../netlink/types.js";
import { logRejection, type Logger } from "../log.js";
import { metrics } from "../metrics.js";
import { applyMessage, emptyModel, type Fact, type NetworkModel } from "../state/model.js";
import { ModelStore, type KernelMaps } from "../state/store.js";
import type { SourceHealth } from "./backend.js";

export interface KernelSourceOptions {
  log: Logger;
  /** called with the facts of each batch, after the model was updated */
  onFacts: (facts: Fact[], model: NetworkModel) => void;
  rcvbufBytes?: number;
  /** tests only: room per datagram, small enough that real notifications arrive truncated */
  recvChunkBytes?: number;
  /** the two rtnetlink sockets; the real ones by default (unit tests pass fakes) */
  sockets?: KernelSockets;
  /** the model whose kernel part this source writes (default: a store of its own) */
  store?: ModelStore;
}

/** The multicast socket as the kernel source uses it. */
export type KernelMonitor = Pick<RtnlMonitor, "readNow" | "close">;

export interface KernelSockets {
  monitor(opts: RtnlMonitorOptions): KernelMonitor;
  requester(): RtnlRequester;
}

const RTNL_SOCKETS: KernelSockets = {
  monitor: (opts) => new RtnlMonitor(opts),
  requester: () => RtnlRequester.open(),
};

export interface KernelStats {
  messages: number;
  batches: number;
  overflows: number;
  /** notifications lost to truncation (EMSGSIZE), each followed by a resync like an overflow */
  truncated: number;
  resyncs: number;
  decodeErrors: number;
}

// IPv4 routes vanish without a notification when their preferred source address goes
// (fib_sync_down_addr) or the link is set down (fib_sync_down_dev): after such a fact the routes
// are re-read (coalesced) so the model stays equal to the kernel. An address removal only costs a
// re-read when the model still holds a route that used it as its source once the kernel's own
// notifications (the address's local and prefix routes) are in: the check first applies what is
// queued on the socket, and never counts the address's own local route, whose removal the kernel
// always notifies (a removal read just before its route's notification was sent re-dumped every
// route under a flood of removals).
const ROUTE_RESYNC_DELAY_MS = 20;
const ROUTE_RESYNC_MAX_DELAY_MS = 250;

export class KernelSource {
  readonly store: ModelStore;
  synced = false;
  readonly stats: KernelStats = { messages: 0, batches: 0, overflows: 0, truncated: 0, resyncs: 0, decodeErrors: 0 };
  private monitor?: KernelMonitor;
  private requester?: RtnlRequester;
  private buffered: RtMessage[][] | null = null;
  private resyncing: Promise<void> | null = null;
  private pendingKinds = new Set<ObjectKind>();
  private routeTimer: NodeJS.Timeout | null = null;
  private routeFirst = 0;
  /** IPv4 addresses removed since the last check, and whether a link went admin-down */
  private removedV4 = new Set<string>();
  private linkDown = false;
  private closed = false;

  constructor(private readonly opts: KernelSourceOptions) {
    this.store = opts.store ?? new ModelStore();
  }

  get model(): NetworkModel {
    return this.store.model;
  }

  /** Subscribe, then dump: nothing that happens in between is lost (it is buffered and applied after). */
  async start(): Promise<void> {
    this.buffered = [];
    const sockets = this.opts.sockets ?? RTNL_SOCKETS;
    this.monitor = sockets.monitor({
      rcvbufBytes: this.opts.rcvbufBytes,
      ...(this.opts.recvChunkBytes !== undefined && { recvChunkBytes: this.opts.recvChunkBytes }),
      onMessages: (msgs) => this.onMessages(msgs),
      onOverflow: (cause) => this.onOverflow(cause),
      onError: (err) => {
        metrics.netlinkErrors.inc();
        this.opts.log.error("netlink receive error", { err });
      },
    });
    this.requester = sockets.requester();
    const dump = await this.requester.dumpAll();
    this.store.loadKernel(dump);
    this.synced = true;
    // an overflow during the initial dump started a resync: it applies the buffer when it is done
    if (!this.resyncing) this.flushBuffered();
  }

  /** For /health and `netevd status`: synced once the initial dump is in the model. */
  health(): SourceHealth {
    return this.synced ? { state: "synced", ok: true } : { state: "syncing", ok: false, detail: "initial dump not finished" };
  }

  close(): void {
    this.closed = true;
    if (this.routeTimer) clearTimeout(this.routeTimer);
    this.monitor?.close();
    this.requester?.close();
  }

  /**
   * Apply every notification the kernel has queued on the monitor socket, synchronously. Called
   * before another source's news becomes an event (a D-Bus signal, a lease), so the event's
   * snapshot holds every kernel fact that happened before it: networkd adds the DHCP address
   * (queued on our socket at that moment), then says "routable".
   */
  catchUp(): void {
    if (!this.closed && this.synced) this.monitor?.readNow();
  }

  get requests(): RtnlRequester {
    if (!this.requester) throw new Error("kernel source not started");
    return this.requester;
  }

  private onMessages(msgs: RtMessage[]): void {
    this.stats.batches++;
    this.stats.messages += msgs.length;
    metrics.netlinkMessages.inc(msgs.length);
    if (this.buffered) {
      this.buffered.push(msgs);
      return;
    }
    this.apply(msgs);
  }

  private apply(msgs: RtMessage[]): void {
    const facts: Fact[] = [];
    for (const m of msgs) facts.push(...this.store.applyKernel(m));
    if (facts.length === 0) return;
    let check = false;
    for (const f of facts) {
      if (f.fact === "address-removed" && f.addr.family === 4) {
        this.removedV4.add(f.addr.address);
        check = true;
      } else if (f.fact === "admin-down") {
        this.linkDown = true;
        check = true;
      }
    }
    if (check) this.scheduleRouteResync();
    this.opts.onFacts(facts, this.model);
  }

  private flushBuffered(): void {
    const batches = this.buffered ?? [];
    this.buffered = null;
    for (const b of batches) this.apply(b);
  }

  private onOverflow(cause: "ENOBUFS" | "EMSGSIZE"): void {
    if (cause === "EMSGSIZE") {
      this.stats.truncated++;
      metrics.netlinkTruncated.inc();
      this.opts.log.warn("netlink notification truncated (EMSGSIZE): an event was lost, re-reading the kernel state", {
        truncated: this.stats.truncated,
      });
    } else {
      this.stats.overflows++;
      metrics.netlinkOverflows.inc();
      this.opts.log.warn("netlink socket overflow (ENOBUFS): events were lost, re-reading the kernel state", {
        overflows: this.stats.overflows,
      });
    }
    void this.resync(["link", "addr", "route", "rule"]).catch(logRejection(this.opts.log, "netlink resync failed"));
  }

  /** Re-armed while triggers keep coming (a flood of removals), but never later than the cap. */
  private scheduleRouteResync(): void {
    if (this.closed) return;
    const now = Date.now();
    if (this.routeTimer) {
      if (now - this.routeFirst >= ROUTE_RESYNC_MAX_DELAY_MS) return;
      clearTimeout(this.routeTimer);
    } else {
      this.routeFirst = now;
    }
    const delay = Math.min(ROUTE_RESYNC_DELAY_MS, this.routeFirst + ROUTE_RESYNC_MAX_DELAY_MS - now);
    this.routeTimer = setTimeout(() => {
      this.routeTimer = null;
      this.catchUp();
      if (this.routeTimer) {
        // the catch-up brought more triggers: they are checked now, with the rest
        clearTimeout(this.routeTimer);
        this.routeTimer = null;
      }
      if (this.routesMayBeStale()) void this.resync(["route"]).catch(logRejection(this.opts.log, "netlink route resync failed"));
    }, delay);
  }

  /**
   * After address removals / admin-down: could the kernel have dropped routes without telling us?
   * A link set down: yes. Removed addresses: only if a route in the model still has one of them as
   * its preferred source. Even when the address is back by now: the kernel flushed such a route when
   * the address went, and re-adding the address does not bring it back.
   */
  private routesMayBeStale(): boolean {
    const removed = this.removedV4;
    const down = this.linkDown;
    this.removedV4 = new Set();
    this.linkDown = false;
    if (down) return true;
    if (removed.size === 0) return false;
    for (const r of this.model.routes.values()) {
      if (r.family === 4 && r.prefsrc !== undefined && removed.has(r.prefsrc) && !isOwnLocalRoute(r)) return true;
    }
    return false;
  }

  /**
   * Re-dump the given kinds and diff against the model. Notifications that arrive meanwhile are
   * buffered and applied afterwards (they are newer than or equal to what the dump saw).
   * Concurrent requests coalesce into one follow-up run.
   */
  resync(kinds: ObjectKind[]): Promise<void> {
    for (const k of kinds) this.pendingKinds.add(k);
    if (this.resyncing) return this.resyncing.then(() => (this.pendingKinds.size ? this.resync([]) : undefined));
    this.resyncing = this.runResync().finally(() => {
      this.resyncing = null;
    });
    return this.resyncing;
  }

  private async runResync(): Promise<void> {
    while (this.pendingKinds.size && !this.closed) {
      const kinds = [...this.pendingKinds];
      this.pendingKinds.clear();
      this.stats.resyncs++;
      metrics.netlinkResyncs.inc();
      this.buffered ??= [];
      try {
        const req = this.requests;
        // only the kinds re-read get new maps; diffModels skips the maps that are the same object
        const fresh = emptyModel();
        for (const kind of kinds) for (const m of await req.dump(kind)) applyMessage(fresh, m);
        const replaced: Partial<KernelMaps> = {};
        if (kinds.includes("link")) replaced.links = fresh.links;
        if (kinds.includes("addr")) replaced.addrs = fresh.addrs;
        if (kinds.includes("route")) replaced.routes = fresh.routes;
        if (kinds.includes("rule")) replaced.rules = fresh.rules;
        const facts = this.store.replaceKernel(replaced);
        if (facts.length) this.opts.onFacts(facts, this.model);
        this.opts.log.debug("kernel resync done", { kinds, changes: facts.length });
      } catch (err) {
        this.opts.log.error("kernel resync failed; retrying", { kinds, err });
        for (const k of kinds) this.pendingKinds.add(k);
        await new Promise((r) => setTimeout(r, 200));
      } finally {
        this.flushBuffered();
      }
    }
  }
}

/**
 * `local A dev X table local src A`: the route the kernel adds for address A itself. When A goes,
 * the kernel deletes it with a notification of its own (or keeps it, while another link holds A
 * too), so it is never silently stale.
 */
function isOwnLocalRoute(r: RouteRecord): boolean {
  return r.table === RT_TABLE_LOCAL && r.type === RTN_LOCAL && r.dstLen === 32 && r.dst === r.prefsrc;
}
