// Policy routing reconciler: keeps the kernel's rules and routes tagged with routing.protocol equal
// to the plan (plan.ts) computed from the current model. Runs after startup, on relevant facts and
// when someone else deletes one of our objects (re-asserted with a rate limit). One reconcile runs
// at a time and at most one more is pending; nothing runs while nothing changes.
import type { Config } from "../../config/index.js";
import type { Logger } from "../../log.js";
import type { RouteRecord } from "../../netlink/types.js";
import { linkByName, type Fact, type NetworkModel } from "../../state/model.js";
import { snapshotOf, type EventFactory, type LinkSnapshot } from "../../events/factory.js";
import type { HookJob } from "../../events/types.js";
import { metrics } from "../../metrics.js";
import { applyChange, changeDetails, changesOf, readNetworkdConf, routeChangeId, routeText, ruleChangeId, ruleText, type Change, type RoutingRequester } from "./apply.js";
import { diffPlan, networkdManagesForeignRules, planRouting, RT_TABLE_MAIN, taggedObjects } from "./plan.js";

export interface RoutingOptions {
  log: Logger;
  config(): Config;
  model(): NetworkModel;
  requester(): RoutingRequester;
  /** record a reconcile action as an event in the history (no hooks run for it) */
  record(job: HookJob): void;
  events: EventFactory;
}

/** At most this many adds of one object per window; then it is left alone until the window passes. */
const REASSERT_MAX = 5;
const REASSERT_WINDOW_MS = 10_000;
/** Foreign deletions less than this apart are one incident (one log line). */
const INCIDENT_QUIET_MS = 10_000;

export class RoutingReconciler {
  private started = false;
  private stopped = false;
  private dirty = false;
  private running: Promise<void> | null = null;
  private readonly reasons = new Set<string>();
  /** deletions we asked for, by change id → when: their removal facts are not foreign */
  private readonly ownDeletes = new Map<string, number>();
  /** real adds per change id (timestamps within the window) */
  private readonly adds = new Map<string, number[]>();
  private backoffTimer: NodeJS.Timeout | null = null;
  private incidentLastAt = -Infinity;
  private backoffLoggedAt = -Infinity;
  private warnedNetworkd = false;

  constructor(private readonly o: RoutingOptions) {}

  schedule(reason: string): void {
    if (this.stopped) return;
    if (reason === "startup") this.started = true;
    if (!this.started) return; // the startup reconcile covers everything before it
    if (reason === "startup" || reason === "reload") this.warnIfNetworkdDeletesRules();
    this.reasons.add(reason);
    this.dirty = true;
    // setImmediate: facts of one I/O round coalesce into one pass
    this.running ??= new Promise<void>((r) => setImmediate(r)).then(() => this.loop());
  }

  /**
   * Is this route netevd's own (tagged with routing.protocol, or in the table of a link under
   * policy routing)? Such routes never trigger routes.d.
   */
  ownsRoute(r: RouteRecord): boolean {
    const cfg = this.o.config().routing;
    if (r.protocol === cfg.protocol) return true;
    if (r.table <= cfg.table_base) return false;
    const m = this.o.model();
    for (const name of cfg.policy_rules) {
      const l = linkByName(m, name);
      if (l && r.table === cfg.table_base + l.index) return true;
    }
    return false;
  }

  onFacts(facts: Fact[]): void {
    if (!this.started || this.stopped) return;
    const cfg = this.o.config().routing;
    if (cfg.policy_rules.length === 0 && !facts.some((f) => isTagged(f, cfg.protocol))) return;
    const removed: Array<{ id: string; text: string }> = [];
    let relevant = false;
    for (const f of facts) {
      switch (f.fact) {
        case "rule-added":
        case "rule-removed":
          if (f.rule.protocol !== cfg.protocol) break;
          relevant = true;
          if (f.fact === "rule-removed") removed.push({ id: ruleChangeId(f.rule), text: ruleText(f.rule) });
          break;
        case "route-added":
        case "route-removed":
          if (f.route.protocol === cfg.protocol) {
            relevant = true;
            if (f.fact === "route-removed") removed.push({ id: routeChangeId(f.route), text: routeText(f.route) });
          } else if (f.route.table === RT_TABLE_MAIN && f.route.dstLen === 0) relevant = true; // a gateway came or went
          break;
        case "address-added":
        case "address-removed":
        case "address-changed":
        case "link-added":
        case "link-removed":
        case "link-renamed":
        case "admin-up":
        case "admin-down":
        case "backend-state":
          relevant = true;
          break;
        default:
          break;
      }
    }
    if (removed.length) this.noteRemovals(removed);
    if (relevant) this.schedule("kernel");
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.backoffTimer = null;
    await this.running;
    const cfg = this.o.config().routing;
    if (!cfg.cleanup_on_exit || !this.started) return;
    const tagged = taggedObjects(this.o.model(), cfg);
    const changes = changesOf({ addRules: [], addRoutes: [], delRules: tagged.rules, delRoutes: tagged.routes }, cfg.table_base);
    let removed = 0;
    for (const c of changes) if (await this.perform(c, "cleanup_on_exit")) removed++;
    this.o.log.info("policy routing cleaned up on exit", { removed, protocol: cfg.protocol });
  }

  private async loop(): Promise<void> {
    try {
      while (this.dirty && !this.stopped) {
        this.dirty = false;
        const reasons = [...this.reasons];
        this.reasons.clear();
        try {
          await this.reconcile(reasons.join(","));
        } catch (err) {
          this.o.log.error("policy routing reconcile failed", { err });
        }
      }
    } finally {
      this.running = null;
    }
  }

  private async reconcile(reason: string): Promise<void> {
    const cfg = this.o.config().routing;
    const m = this.o.model();
    const diff = diffPlan(planRouting(m, cfg), taggedObjects(m, cfg));
    const now = Date.now();
    for (const [id, times] of this.adds) if (now - times[times.length - 1]! >= REASSERT_WINDOW_MS) this.adds.delete(id);
    for (const c of changesOf(diff, cfg.table_base)) {
      if (this.stopped) return;
      if (c.action === "add" && this.overLimit(c, now)) continue;
      await this.perform(c, reason);
    }
  }

  /** One change, recorded as an event when it changed something. True when it did. */
  private async perform(c: Change, reason: string): Promise<boolean> {
    if (c.action === "del") this.ownDeletes.set(c.id, Date.now());
    const result = await applyChange(this.o.requester(), c);
    const details = changeDetails(c);
    const link = c.index === null ? undefined : this.o.model().links.get(c.index);
    if (result instanceof Error) {
      if (c.action === "del") this.ownDeletes.delete(c.id);
      this.o.log.warn("policy routing change failed", { action: c.action, object: c.object, link: link?.name, ...details, err: result });
      return false;
    }
    if (result === "noop") {
      if (c.action === "del") this.ownDeletes.delete(c.id);
      return false;
    }
    if (c.action === "add") {
      const times = this.adds.get(c.id) ?? [];
      times.push(Date.now());
      this.adds.set(c.id, times);
    }
    metrics.routingActions.inc({ object: c.object, action: c.action });
    this.o.log.info("policy routing change", { action: c.action, object: c.object, link: link?.name, reason, ...details });
    const snap: LinkSnapshot = link ? snapshotOf(this.o.model(), link) : { state: {}, addresses: [], gateway: null, dns: [] };
    // index null for make(): a record must not become the link's `previous` for hook events
    const e = this.o.events.make({
      event: "routing",
      link: link?.name ?? null,
      index: null,
      source: "kernel",
      snap,
      changed: [c.object],
      stateExtra: { action: c.action, object: c.object, reason, ...details },
    });
    e.index = link ? link.index : c.index;
    this.o.record({ event: e, state: c.action, env: {} });
    return true;
  }

  /**
   * Our tagged objects were removed. Those we did not delete and still want were deleted by
   * someone else (networkd's foreign-rule cleanup, an admin): the reconcile re-adds them; the
   * first of an incident is logged.
   */
  private noteRemovals(removed: Array<{ id: string; text: string }>): void {
    const now = Date.now();
    for (const [id, at] of this.ownDeletes) if (now - at > REASSERT_WINDOW_MS) this.ownDeletes.delete(id);
    const candidates = removed.filter((r) => !this.ownDeletes.delete(r.id));
    if (candidates.length === 0) return;
    const cfg = this.o.config().routing;
    const plan = planRouting(this.o.model(), cfg);
    const wanted = new Set([...plan.rules.map(ruleChangeId), ...plan.routes.map(routeChangeId)]);
    const foreign = candidates.filter((r) => wanted.has(r.id)).map((r) => r.text);
    if (foreign.length === 0) return; // gone with their address or link: nothing to re-assert
    if (now - this.incidentLastAt > INCIDENT_QUIET_MS) {
      this.o.log.warn("policy routing objects deleted by someone else; re-asserting", { objects: foreign, protocol: cfg.protocol });
    }
    this.incidentLastAt = now;
  }

  /** Rate limit on adds of one object; arms one timer to retry when the window has room again. */
  private overLimit(c: Change, now: number): boolean {
    const times = (this.adds.get(c.id) ?? []).filter((t) => now - t < REASSERT_WINDOW_MS);
    if (times.length) this.adds.set(c.id, times);
    else this.adds.delete(c.id);
    if (times.length < REASSERT_MAX) return false;
    const retryIn = times[0]! + REASSERT_WINDOW_MS - now;
    if (now - this.backoffLoggedAt > REASSERT_WINDOW_MS) {
      this.backoffLoggedAt = now;
      this.o.log.warn("policy routing re-assert limit reached; backing off", { object: c.id, retryInMs: retryIn, max: REASSERT_MAX, windowMs: REASSERT_WINDOW_MS });
    }
    if (!this.backoffTimer && !this.stopped) {
      this.backoffTimer = setTimeout(() => {
        this.backoffTimer = null;
        this.schedule("backoff");
      }, retryIn + 10);
    }
    return true;
  }

  private warnIfNetworkdDeletesRules(): void {
    if (this.warnedNetworkd || this.o.config().routing.policy_rules.length === 0) return;
    this.warnedNetworkd = true;
    if (!networkdManagesForeignRules(readNetworkdConf())) return;
    this.o.log.warn(
      "systemd-networkd deletes foreign routing policy rules when it (re)starts; netevd re-asserts its rules, " +
        "set ManageForeignRoutingPolicyRules=no in /etc/systemd/networkd.conf to avoid the gap",
      { setting: "ManageForeignRoutingPolicyRules", value: "yes" },
    );
  }
}

function isTagged(f: Fact, protocol: number): boolean {
  return f.fact === "rule-added" || f.fact === "rule-removed"
    ? f.rule.protocol === protocol
    : f.fact === "route-added" || f.fact === "route-removed"
      ? f.route.protocol === protocol
      : false;
}
