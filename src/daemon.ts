// `netevd run`: wires sources → model → events → actions. The only place that knows all parts.
import type { Config } from "./config/index.js";
import { interfaceSelected, loadConfig, ConfigError } from "./config/index.js";
import type { Logger } from "./log.js";
import { KernelSource } from "./sources/kernel.js";
import { BusNameWatch } from "./sources/presence.js";
import { factFields } from "./state/describe.js";
import { factLink, type Fact, type NetworkModel } from "./state/model.js";
import { sdNotify } from "./netlink/native.js";
import type { RouteRecord } from "./netlink/types.js";
import { EventFactory, jobsFromFacts, replayJobs, type DeriveContext } from "./events/derive.js";
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
      kernelCarrier: () => true,
      ownRoute: (r) => this.isOwnRoute(r),
      selected: (name) => interfaceSelected(this.config, name),
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
    this.startBackend();
    if (this.config.hooks.replay_on_start) {
      for (const job of replayJobs(this.kernel.model, this.derive, this.events)) this.emit(job);
    }
    this.log.info("ready", { backend: this.config.system.backend, startupMs: Date.now() - this.startedAt, pid: process.pid });
    sdNotify("READY=1\nSTATUS=watching network events");
  }

  private startBackend(): void {
    const backend = this.config.system.backend;
    const name = BACKEND_BUS_NAMES[backend];
    if (!name) return; // dhclient watches files, "none" is kernel only
    this.backendWatch = new BusNameWatch({ name, label: backend, log: this.log.child({ source: backend }) });
    this.backendWatch.start();
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
