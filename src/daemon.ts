// `netevd run`: wires sources → model → events → actions. The only place that knows all parts.
import type { Config } from "./config/index.js";
import { interfaceSelected, loadConfig, ConfigError } from "./config/index.js";
import type { Logger } from "./log.js";
import { KernelSource } from "./sources/kernel.js";
import { BusNameWatch } from "./sources/presence.js";
import { NetworkdSource } from "./sources/networkd.js";
import { factFields } from "./state/describe.js";
import { applyBackendState, applyManagerState, factLink, type Fact, type NetworkModel } from "./state/model.js";
import { sdNotify } from "./netlink/native.js";
import type { RouteRecord } from "./netlink/types.js";
import { EventFactory, jobsFromFacts, networkdReplayJobs, replayJobs, type DeriveContext } from "./events/derive.js";
import { History } from "./events/history.js";
import type { HookJob } from "./events/types.js";
import { Dispatcher } from "./actions/hooks/dispatcher.js";
import { runHookDir } from "./actions/hooks/run.js";

const BACKEND_BUS_NAMES: Record<string, string> = {
  "systemd-networkd": "org.freedesktop.network1",
  NetworkManager: "org.freedesktop.NetworkManager",
};

export interface DaemonOptions {
  config: Config;
  configFile: string;
  log: Logger;
}

export class Daemon {
  config: Config;
  readonly kernel: KernelSource;
  backendWatch: BusNameWatch | null = null;
  networkd: NetworkdSource | null = null;
  /** the backend's first state is known: before that, backend changes only fill the model */
  private backendSettled = false;
  private settle: () => void = () => {};
  private readonly jsonChains = new Map<number, Promise<void>>();
  readonly startedAt = Date.now();
  readonly history: History;
  readonly events = new EventFactory();
  readonly dispatcher: Dispatcher;
  private readonly derive: DeriveContext;
  private readonly daemonUid = process.getuid?.() ?? 0;
  private stopping = false;

  constructor(private readonly o: DaemonOptions) {
    this.config = o.config;
    this.kernel = new KernelSource({ log: o.log.child({ source: "kernel" }), onFacts: (f, m) => this.onKernelFacts(f, m) });
    this.history = new History(o.config.events.history_size);
    this.dispatcher = new Dispatcher({
      maxParallel: () => this.config.hooks.max_parallel,
      debounceMs: (event) => (event === "routes" ? this.config.hooks.routes_debounce_ms : this.config.hooks.debounce_ms),
      run: (job) => this.runJob(job),
    });
    this.derive = {
      // with the networkd backend, networkd's CarrierState fires carrier.d for the links it knows
      kernelCarrier: (index) => !(this.networkd?.attachedNow && this.networkd.links.has(index)),
      ownRoute: (r) => this.isOwnRoute(r),
      selected: (name) => interfaceSelected(this.config, name),
      extraState: (index) => this.kernel.model.backend.get(index)?.fields,
    };
  }

  /** Routes netevd installs itself (policy routing) never trigger routes.d. */
  private isOwnRoute(r: RouteRecord): boolean {
    if (r.protocol === this.config.routing.protocol) return true;
    for (const name of this.config.routing.policy_rules) {
      for (const l of this.kernel.model.links.values()) {
        if (l.name === name && r.table === this.config.routing.table_base + l.index) return true;
      }
    }
    return false;
  }

  /** Record an event and hand it to the hook dispatcher. The one path for every source. */
  emit(job: HookJob): void {
    const e = job.event;
    this.history.addEvent(e);
    this.log.info("event", { event: e.event, link: e.link, index: e.index, id: e.id, backend: e.backend, replay: e.replay, changed: e.changed });
    this.dispatcher.submit(job);
  }

  private async runJob(job: HookJob): Promise<void> {
    try {
      const results = await runHookDir(this.config.system.scripts_dir, job, {
        timeoutSec: this.config.hooks.timeout_sec,
        daemonUid: this.daemonUid,
        log: this.log.child({ source: "hooks" }),
        daemonEnv: process.env,
      });
      for (const r of results) this.history.addHookResult(r);
    } catch (err) {
      this.log.error("hook dispatch failed", { event: job.event.event, link: job.event.link, err });
    }
  }

  get log(): Logger {
    return this.o.log;
  }

  async start(): Promise<void> {
    const t0 = performance.now();
    await this.kernel.start();
    const m = this.kernel.model;
    this.log.info("kernel synced", {
      links: m.links.size, addresses: m.addrs.size, routes: m.routes.size, rules: m.rules.size,
      ms: +(performance.now() - t0).toFixed(1),
    });
    this.events.seed(m);
    const settled = new Promise<void>((r) => { this.settle = r; });
    this.startBackend();
    // replay once the backend's state is known (or after a bound), so a link's carrier is replayed
    // by exactly one source
    await Promise.race([settled, new Promise((r) => setTimeout(r, 2000).unref())]);
    this.backendSettled = true;
    this.events.seed(this.kernel.model, this.derive.extraState);
    if (this.config.hooks.replay_on_start) {
      for (const job of replayJobs(this.kernel.model, this.derive, this.events)) this.emit(job);
      for (const job of networkdReplayJobs(this.kernel.model, this.derive, this.events)) this.emitBackend(job);
    }
    this.log.info("ready", { backend: this.config.system.backend, startupMs: Date.now() - this.startedAt, pid: process.pid });
    sdNotify("READY=1\nSTATUS=watching network events");
  }

  private startBackend(): void {
    const backend = this.config.system.backend;
    if (backend === "systemd-networkd") {
      const log = this.log.child({ source: backend });
      this.networkd = new NetworkdSource(log, {
        linkState: (index, name, states) => this.onBackendFacts(applyBackendState(this.kernel.model, backend, index, states, name)),
        managerState: (states) => this.onBackendFacts(applyManagerState(this.kernel.model, backend, states)),
        attached: (on) => { if (on) this.settle(); },
        unavailable: () => this.settle(),
      });
      this.backendWatch = this.networkd.watch;
      this.networkd.start();
      return;
    }
    const name = BACKEND_BUS_NAMES[backend];
    if (!name) { this.settle(); return; } // dhclient watches files, "none" is kernel only
    this.backendWatch = new BusNameWatch({ name, label: backend, log: this.log.child({ source: backend }), onUnavailable: () => this.settle(), onPresent: () => this.settle() });
    this.backendWatch.start();
  }

  /** Backend facts: logged, and (once the backend's initial state is known) turned into events. */
  private onBackendFacts(facts: Fact[]): void {
    if (!this.backendSettled) return; // initial state: fills the model; the replay covers it
    for (const f of facts) this.log.info("fact", factFields(f));
    for (const job of jobsFromFacts(facts, this.kernel.model, this.derive, this.events)) this.emitBackend(job);
  }

  /**
   * networkd events carry networkd's own JSON (Link.Describe) when emit_json is on; fetching it is
   * a D-Bus round trip, chained per link so that events of one link stay in order.
   */
  private emitBackend(job: HookJob): void {
    const index = job.event.index;
    if (!this.networkd || job.event.backend !== "systemd-networkd" || index === null || !this.config.backends.systemd_networkd.emit_json) {
      this.emit(job);
      return;
    }
    const prev = this.jsonChains.get(index) ?? Promise.resolve();
    const next = prev.then(async () => {
      try {
        const json = await this.networkd!.describe(index);
        if (json !== undefined) { job.json = json; job.env.json = json; }
      } catch (err) {
        this.log.warn("networkd Describe failed; $JSON falls back to the event contract", { link: job.event.link, err: (err as Error).message });
      }
      this.emit(job);
    });
    this.jsonChains.set(index, next);
    void next.finally(() => { if (this.jsonChains.get(index) === next) this.jsonChains.delete(index); });
  }

  private onKernelFacts(facts: Fact[], model: NetworkModel): void {
    const monitored = this.config.monitoring.interfaces;
    if (this.log.enabled("info")) {
      for (const f of facts) {
        const link = factLink(f);
        if (link !== undefined && monitored.length && !interfaceSelected(this.config, link)) continue;
        this.log.info("fact", { source: "kernel", ...factFields(f) });
      }
    }
    for (const job of jobsFromFacts(facts, model, this.derive, this.events)) this.emit(job);
  }

  /** Re-read the config; a bad file is rejected and the running config stays. */
  reload(): { ok: boolean; problems?: string } {
    try {
      const { config, file } = loadConfig({ path: this.o.configFile });
      this.config = config;
      this.log.setLevel(config.system.log_level);
      this.history.resize(config.events.history_size);
      this.log.info("config reloaded", { file });
      return { ok: true };
    } catch (err) {
      const msg = err instanceof ConfigError ? err.message : (err as Error).message;
      this.log.error("config reload rejected; keeping the running config", { file: this.o.configFile, problems: msg });
      return { ok: false, problems: msg };
    }
  }

  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info("stopping", { reason });
    sdNotify("STOPPING=1");
    this.backendWatch?.stop();
    this.kernel.close();
    await this.dispatcher.close();
  }
}
