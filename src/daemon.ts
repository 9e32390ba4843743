// `netevd run`: wires sources → model → events → actions/api. The only place that knows all parts.
import type { Config } from "./config/index.js";
import { interfaceSelected, loadConfig, ConfigError } from "./config/index.js";
import { logRejection, type Logger } from "./log.js";
import { KernelSource } from "./sources/kernel.js";
import { NetworkdSource } from "./sources/networkd.js";
import { NetworkManagerSource } from "./sources/networkmanager.js";
import { DhclientSource } from "./sources/dhclient.js";
import { BUS_NAMES, chooseBackend, probeBackends } from "./sources/detect.js";
import { BusNameWatch } from "./sources/presence.js";
import type { BackendSink, BackendSource, SourceHealth } from "./sources/backend.js";
import { factFields } from "./state/describe.js";
import { factLink, linkByName, type Fact, type NetworkModel } from "./state/model.js";
import { ModelStore } from "./state/store.js";
import { sdNotify } from "./netlink/native.js";
import { ServiceNotifier } from "./notify.js";
import { dadFailed } from "./net/address.js";
import { backendReplayJobs, DAD_FAILED_REASON, EventFactory, jobsFromFacts, replayJobs, snapshotOf, type DeriveContext } from "./events/derive.js";
import { hookDirName } from "./hook-dirs.js";
import { History } from "./events/history.js";
import type { HookJob } from "./events/types.js";
import { Dispatcher } from "./actions/hooks/dispatcher.js";
import { runHookDir, SkipRegistry, type RemoteRunner } from "./actions/hooks/run.js";
import { discoverMerged } from "./actions/hooks/merge.js";
import { networkdDispatcherAddresses, networkdDispatcherJobs, networkdDispatcherReplayJobs } from "./events/networkd.js";
import { processesNamed } from "./sources/processes.js";
import { HostnamedSource } from "./sources/hostnamed.js";
import { hostnameJob } from "./events/hostname.js";
import { HOOK_EVENTS } from "./hook-dirs.js";
import { RoutingReconciler } from "./actions/routing/index.js";
import { DnsActions } from "./actions/dns.js";
import { SinkSet } from "./actions/sinks/index.js";
import { initSourceMetrics, metrics, setSinkStatsSource, setSourceHealthProvider } from "./metrics.js";
import { startMetricsListener, type MetricsListener } from "./api/metrics-server.js";
import { startApi, type ApiServer } from "./api/server.js";
import { packageVersion } from "./version.js";
import { compactMemory, endStartup, IdleCompactor } from "./memory.js";

export interface DaemonOptions {
  config: Config;
  configFile: string;
  log: Logger;
  /** the privileged runner that runs hooks as root (hooks.user: root) */
  hookRunner?: RemoteRunner;
}

export class Daemon {
  config: Config;
  /** the network model: the kernel source writes its kernel part, the backend sink the rest */
  readonly store = new ModelStore();
  readonly kernel: KernelSource;
  backend: BackendSource | null = null;
  readonly routing: RoutingReconciler;
  readonly dns: DnsActions;
  readonly startedAt = Date.now();
  readyAt: number | null = null;
  readonly history: History;
  readonly events = new EventFactory();
  readonly dispatcher: Dispatcher;
  readonly derive: DeriveContext;
  private readonly daemonUid = process.getuid?.() ?? 0;
  /** owners a hook script may have besides root: none for root hooks, else the daemon's user */
  private get hookOwnerUid(): number {
    return this.o.hookRunner ? 0 : this.daemonUid;
  }
  /** the backend's first state is known: before that, backend facts only fill the model */
  private backendSettled = false;
  private settle: () => void = () => {};
  private readonly jsonChains = new Map<number, Promise<void>>();
  /** links whose Describe() is being refreshed (and whether once more was asked for) */
  private readonly describeRefresh = new Map<number, { again: boolean }>();
  private stopping = false;
  /** aborted at stop: running hooks get SIGTERM, and SIGKILL after the grace period, with all they started */
  private readonly hookAbort = new AbortController();
  /** hook scripts skipped and why: each (path, reason) is logged once per run of the daemon */
  private readonly hookSkips = new SkipRegistry();
  private api: ApiServer | null = null;
  private readonly compactor = new IdleCompactor();
  private metricsListener: MetricsListener | null = null;
  /** the last `reload()` (null before the first): for /api/v1/status and the page */
  lastReload: { at: string; ok: boolean; problems?: string[] } | null = null;
  private hostnamed: HostnamedSource | null = null;
  readonly notifier: ServiceNotifier;
  /** system.backend, resolved when it is "auto" */
  private backendName: Exclude<Config["system"]["backend"], "auto"> = "none";
  /** auto: watches for the other managers while the chosen one is absent */
  private followers: BusNameWatch[] = [];
  readonly sinks: SinkSet;

  constructor(private readonly o: DaemonOptions) {
    this.config = o.config;
    this.notifier = new ServiceNotifier({
      send: sdNotify,
      onError: (err) => o.log.warn("cannot notify the service manager", { err: err.message }),
    });
    this.kernel = new KernelSource({ log: o.log.child({ source: "kernel" }), store: this.store, onFacts: (f, m) => this.onKernelFacts(f, m) });
    this.history = new History(o.config.events.history_size);
    this.dispatcher = new Dispatcher({
      maxParallel: () => this.config.hooks.max_parallel,
      debounceMs: (event) => (event === "routes" ? this.config.hooks.routes_debounce_ms : this.config.hooks.debounce_ms),
      run: (job) => this.runJob(job),
      log: this.log,
    });
    this.derive = {
      ownRoute: (r) => this.routing.ownsRoute(r),
      selected: (name) => interfaceSelected(this.config, name),
      extraState: (index) => this.kernel.model.backend.get(index)?.fields,
    };
    this.routing = new RoutingReconciler({
      log: o.log.child({ source: "routing" }),
      config: () => this.config,
      model: () => this.kernel.model,
      requester: () => this.kernel.requests,
      record: (job) => this.emit(job, false),
      events: this.events,
    });
    this.dns = new DnsActions({ log: o.log.child({ source: "dns" }), config: () => this.config, model: () => this.kernel.model });
    this.sinks = new SinkSet({ log: o.log.child({ source: "sinks" }) });
    setSinkStatsSource(() => this.sinks.stats());
  }

  get log(): Logger {
    return this.o.log;
  }

  get model(): NetworkModel {
    return this.kernel.model;
  }

  async start(): Promise<void> {
    const t0 = performance.now();
    metrics.buildInfo.set({ version: packageVersion(), node: process.version }, 1);
    initSourceMetrics(["kernel"]);
    setSourceHealthProvider(() => this.health().sources);
    // before any event (the replay included): what the last run left queued is delivered first
    await this.sinks.apply(this.config);
    // modules and config are in: V8's own interrupt budget from here, before the event path first
    // runs (code that first ran under the start-up budget was slower in the first flood after start)
    endStartup();
    await this.kernel.start();
    const m = this.kernel.model;
    this.updateGauges();
    this.log.info("kernel synced", {
      links: m.links.size, addresses: m.addrs.size, routes: m.routes.size, rules: m.rules.size,
      ms: +(performance.now() - t0).toFixed(1),
    });
    this.events.seed(m);
    const settled = new Promise<void>((r) => { this.settle = r; });
    await this.resolveBackend();
    this.startBackend();
    // hostname.d, whatever the backend
    this.hostnamed = new HostnamedSource(this.log.child({ source: "hostnamed" }), (c) => {
      this.log.info("fact", { source: "hostnamed", fact: "hostname", hostname: c.hostname, previous: c.previous });
      this.emit(hostnameJob(c, this.events));
    });
    // subscribed before "ready": a change right after start is seen (bounded: the bus may be slow)
    await Promise.race([this.hostnamed.start(), new Promise((r) => setTimeout(r, 2000).unref())]);
    // replay once the backend's state is known (or after a bound), so a link's carrier is replayed
    // by exactly one source
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise((r) => { bound = setTimeout(r, 2000); })]);
    clearTimeout(bound);
    this.backendSettled = true;
    this.events.seed(m, this.derive.extraState);
    this.logCompat();
    if (this.config.hooks.replay_on_start) {
      for (const job of replayJobs(m, this.derive, this.events)) this.emit(this.withBackendJson(job));
      if (this.backend) for (const job of backendReplayJobs(this.backend.backend, m, this.derive, this.events)) this.emitBackend(job);
      if (this.ndCompat()) for (const job of networkdDispatcherReplayJobs(m, this.derive, this.events)) this.emitBackend(job);
    }
    this.routing.schedule("startup");
    // before "ready": ready means the API answers
    this.api = await startApi(this);
    this.metricsListener = await startMetricsListener(this.config, this.log.child({ source: "metrics" }));
    this.readyAt = Date.now();
    this.log.info("ready", { backend: this.backendName, startupMs: this.readyAt - this.startedAt, pid: process.pid });
    this.notifier.ready(this.statusText());
    // start-up's garbage (module compilation, the initial dump, the replay) goes now, not on V8's
    // idle timers; the compaction the replay's events asked for is this one
    compactMemory();
    this.compactor.stop();
  }

  /** `auto`: pick the backend by what runs or is installed; follow another if the chosen one is absent. */
  private async resolveBackend(): Promise<void> {
    const configured = this.config.system.backend;
    if (configured !== "auto") { this.backendName = configured; return; }
    const choice = chooseBackend(await probeBackends(this.config.backends.dhclient.lease_files, this.log));
    this.backendName = choice.backend;
    this.log.info("backend chosen (system.backend: auto)", { backend: choice.backend, reason: choice.reason });
    if (!choice.running) this.followOtherBackends();
  }

  private followOtherBackends(): void {
    const quiet: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => quiet, setLevel() {}, enabled: () => false };
    for (const [name, busName] of Object.entries(BUS_NAMES) as [keyof typeof BUS_NAMES, string][]) {
      if (name === this.backendName) continue;
      const watch = new BusNameWatch({
        name: busName, label: name, log: quiet,
        onPresent: () => {
          if (this.stopping || this.backend?.health().ok) return;
          this.log.info("backend auto: switching to the manager that appeared", { from: this.backendName, backend: name, reason: `${name} appeared on the system bus` });
          this.stopFollowing();
          this.switchBackend(name);
        },
      });
      this.followers.push(watch);
      watch.start();
    }
  }

  private stopFollowing(): void {
    const watches = this.followers;
    this.followers = [];
    // not from inside a watch's own callback
    setImmediate(() => { for (const w of watches) w.stop(); });
  }

  private switchBackend(name: typeof this.backendName): void {
    const old = this.backend;
    old?.stop();
    if (old) this.store.dropBackendOfLinks();
    this.backend = null;
    this.backendName = name;
    this.startBackend();
    this.refreshStatus();
  }

  /** The backend in use (system.backend, or what `auto` picked). */
  get backendInUse(): string {
    return this.backendName;
  }

  private startBackend(): void {
    if (this.backendName !== "none") initSourceMetrics([this.backendName]);
    const backend = this.backendName;
    const log = this.log.child({ source: backend });
    const sink: BackendSink = {
      linkState: (index, name, fields) => this.onBackendFacts(this.store.backendState(backend, index, fields, name)),
      linkGone: (index, keys) => this.store.dropBackend(index, keys),
      managerState: (fields) => this.onBackendFacts(this.store.managerState(backend, fields)),
      attached: (on) => { if (on) this.settle(); this.refreshStatus(); },
      unavailable: () => { this.settle(); this.refreshStatus(); },
    };
    switch (backend) {
      case "systemd-networkd": this.backend = new NetworkdSource(log, sink); break;
      case "NetworkManager": this.backend = new NetworkManagerSource(log, sink); break;
      case "dhclient": {
        const indexOf = (name: string) => linkByName(this.kernel.model, name)?.index;
        this.backend = new DhclientSource(log, sink, () => this.config, indexOf);
        break;
      }
      default: this.settle(); return; // "none": kernel only
    }
    this.events.backend = this.backend.backend;
    this.backend.start();
  }

  /** Backend facts: logged, and (once the backend's initial state is known) turned into events. */
  private onBackendFacts(facts: Fact[]): void {
    if (facts.length === 0) return;
    this.dns.onFacts(facts);
    this.routing.schedule("backend");
    if (!this.backendSettled) { // initial state: fills the model; the replay covers it
      for (const f of facts) if (f.fact === "backend-state") this.refreshDescribe(f.index);
      return;
    }
    for (const f of facts) this.log.info("fact", factFields(f));
    // The kernel's notifications for what the backend just did (networkd adding the DHCP address,
    // then saying "routable") are queued on our netlink socket already: apply them first, now, so
    // the event's snapshot (ADDRESSES, gateway) holds every kernel fact that happened before it,
    // whichever socket the event loop would have read first.
    this.kernel.catchUp();
    const described = new Set<number>();
    for (const job of jobsFromFacts(facts, this.kernel.model, this.derive, this.events)) {
      if (this.emitBackend(job) && job.event.index !== null) described.add(job.event.index);
    }
    if (this.ndCompat()) {
      for (const f of facts) {
        if (f.fact !== "backend-state" || f.backend !== "systemd-networkd") continue;
        for (const job of networkdDispatcherJobs(f, this.kernel.model, this.derive, this.events)) {
          if (this.emitBackend(job) && job.event.index !== null) described.add(job.event.index);
        }
      }
    }
    for (const f of facts) if (f.fact === "backend-state" && !described.has(f.index)) this.refreshDescribe(f.index);
  }

  /**
   * networkd: keep the link's last Describe() current ($JSON of kernel carrier events, which do not
   * wait for it). Not on the events' chain (an event with scripts must not wait for a refresh): one
   * refresh out per link, one more when asked meanwhile.
   */
  private refreshDescribe(index: number): void {
    if (!this.backend?.describe || !this.wantBackendJson()) return;
    // only a carrier script reads it: without one, no extra round trips while networkd is busy
    const dirs = this.config.system.scripts_dirs;
    if (discoverMerged(dirs, "carrier", this.hookOwnerUid).scripts.length === 0 &&
        discoverMerged(dirs, "no-carrier", this.hookOwnerUid).scripts.length === 0) return;
    const state = this.describeRefresh.get(index);
    if (state) { state.again = true; return; }
    const mine = { again: false };
    this.describeRefresh.set(index, mine);
    void (async () => {
      try {
        do {
          mine.again = false;
          await this.backend?.describe?.(index);
        } while (mine.again && !this.stopping);
      } catch (err) {
        this.log.debug("backend Describe failed", { index, err: (err as Error).message });
      } finally {
        this.describeRefresh.delete(index);
      }
    })().catch(logRejection(this.log, "backend Describe refresh failed", { index }));
  }

  private wantBackendJson(): boolean {
    return this.backend?.backend !== "systemd-networkd" || this.config.backends.systemd_networkd.emit_json;
  }

  /** A kernel carrier event carries the backend's last $JSON (networkd: the last Link.Describe() of the link). */
  private withBackendJson(job: HookJob): HookJob {
    const e = job.event;
    if ((e.event === "carrier" || e.event === "no-carrier") && e.index !== null && this.wantBackendJson()) {
      const json = this.backend?.lastDescribe?.(e.index);
      if (json !== undefined) { job.json = json; job.env.json = json; }
    }
    return job;
  }

  /** compat.networkd_dispatcher, which only means something under the networkd backend. */
  private ndCompat(): boolean {
    return this.config.compat.networkd_dispatcher && this.config.system.backend === "systemd-networkd";
  }

  /** The base directories of a job's scripts: netevd's, or networkd-dispatcher's for its runs. */
  private hookDirsOf(job: HookJob): readonly string[] {
    return job.compat === "networkd-dispatcher" ? this.config.compat.networkd_dispatcher_dirs : this.config.system.scripts_dirs;
  }

  /** Startup: how many networkd-dispatcher scripts netevd took over, and whether it runs too. */
  private logCompat(): void {
    if (!this.config.compat.networkd_dispatcher) return;
    if (this.config.system.backend !== "systemd-networkd") {
      this.log.warn("compat.networkd_dispatcher needs system.backend: systemd-networkd; its scripts will not run", { backend: this.config.system.backend });
      return;
    }
    const dirs = this.config.compat.networkd_dispatcher_dirs;
    const scripts = new Set<string>();
    for (const event of HOOK_EVENTS) for (const sc of discoverMerged(dirs, event, this.hookOwnerUid).scripts) scripts.add(sc.path);
    this.log.info("networkd-dispatcher scripts taken over", { scripts: scripts.size, dirs: dirs.join(":"), user: this.o.hookRunner ? "root" : this.config.system.user });
    const pids = processesNamed("networkd-dispatcher");
    if (pids.length) {
      this.log.warn("networkd-dispatcher is running too: both will run its scripts; stop and disable it (systemctl disable --now networkd-dispatcher)", { pids });
    }
  }

  /**
   * A backend with its own $JSON (networkd: Link.Describe(), when emit_json is on) costs a D-Bus
   * round trip per event, chained per link so that a link's events stay in order. Returns whether
   * it asks for it (and so refreshes the link's last Describe()).
   */
  private emitBackend(job: HookJob): boolean {
    const index = job.event.index;
    const describe = this.backend?.describe?.bind(this.backend);
    // no script to read $JSON: skip the round trip (it costs milliseconds while networkd is busy)
    const wantJson = this.wantBackendJson() || job.compat !== undefined;
    if (!describe || index === null || job.event.source === "kernel" || !wantJson ||
        discoverMerged(this.hookDirsOf(job), job.event.event, this.hookOwnerUid).scripts.length === 0) {
      this.emit(job);
      return false;
    }
    const prev = this.jsonChains.get(index) ?? Promise.resolve();
    const next = prev.then(async () => {
      try {
        const json = await describe(index);
        if (json !== undefined) { job.json = json; job.env.json = json; }
        // networkd-dispatcher reads the addresses when it runs the scripts: so do we, now that the
        // kernel's notifications of what networkd just did have been read
        if (job.compat === "networkd-dispatcher") Object.assign(job.env, networkdDispatcherAddresses(this.kernel.model, index));
      } catch (err) {
        this.log.warn("backend Describe failed; $JSON falls back to the event contract", { link: job.event.link, err: (err as Error).message });
      }
      this.emit(job);
    })
      // the link's next event chains on this one: a failure here must not reject (and so drop) those
      .catch(logRejection(this.log, "event not emitted", { link: job.event.link, event: job.event.event }))
      .finally(() => { if (this.jsonChains.get(index) === next) this.jsonChains.delete(index); });
    this.jsonChains.set(index, next);
    return true;
  }

  /** Record an event and (unless it is a record only) hand it to the hook dispatcher. The one path for every source. */
  emit(job: HookJob, runHooks = true): void {
    const e = job.event;
    this.history.addEvent(e);
    this.compactor.touch();
    metrics.events.inc({ source: e.source, event: e.event });
    this.log.info("event", { event: e.event, link: e.link, index: e.index, id: e.id, source: e.source, replay: e.replay, changed: e.changed });
    if (runHooks) this.dispatcher.submit(job);
    this.sinks.submit(e);
  }

  private async runJob(job: HookJob): Promise<void> {
    try {
      const results = await runHookDir(this.hookDirsOf(job), job, {
        timeoutSec: this.config.hooks.timeout_sec,
        daemonUid: this.hookOwnerUid,
        log: this.log.child({ source: "hooks" }),
        daemonEnv: process.env,
        signal: this.hookAbort.signal,
        skips: this.hookSkips,
        ...(this.o.hookRunner ? { runner: this.o.hookRunner } : {}),
      });
      for (const r of results) {
        this.history.addHookResult(r);
        const dir = `${job.event.event}.d`;
        metrics.hookRuns.inc({ dir, result: r.ok ? "ok" : r.timedOut ? "timeout" : r.error ? "error" : "failed" });
        metrics.hookDuration.observe({ dir }, r.durationMs / 1000);
        if (!r.ok) metrics.hookFailures.inc({ dir });
      }
    } catch (err) {
      this.log.error("hook dispatch failed", { event: job.event.event, link: job.event.link, err });
    }
  }

  private onKernelFacts(facts: Fact[], model: NetworkModel): void {
    const { interfaces, exclude } = this.config.monitoring;
    // kernel facts are the most numerous records: debug (events, which they cause, are info)
    if (this.log.enabled("debug")) {
      for (const f of facts) {
        const link = factLink(f);
        if (link !== undefined && (interfaces.length || exclude.length) && !interfaceSelected(this.config, link)) continue;
        this.log.debug("fact", { source: "kernel", ...factFields(f) });
      }
    }
    this.updateGauges();
    for (const job of jobsFromFacts(facts, model, this.derive, this.events)) this.emit(this.withBackendJson(job));
    for (const f of facts) {
      if (f.fact === "link-removed") this.backend?.linkRemoved?.(f.link.index);
      else if (f.fact === "address-changed" && dadFailed(f.addr) && !dadFailed(f.previous)) {
        this.log.warn("IPv6 duplicate address detection failed; the address is unusable", {
          link: f.link, address: `${f.addr.address}/${f.addr.prefixlen}`, reason: DAD_FAILED_REASON,
        });
      }
    }
    this.routing.onFacts(facts);
  }

  private updateGauges(): void {
    const m = this.kernel.model;
    metrics.interfaces.set(m.links.size);
    metrics.routes.set(m.routes.size);
    metrics.rules.set(m.rules.size);
  }

  /** Each source's real state, for /health and `netevd status`. */
  health(): { ok: boolean; sources: Record<string, SourceHealth> } {
    const sources: Record<string, SourceHealth> = {
      kernel: this.kernel.synced ? { state: "synced", ok: true } : { state: "syncing", ok: false, detail: "initial dump not finished" },
    };
    if (this.backend) sources[this.backend.backend] = this.backend.health();
    const tcpError = this.api?.tcpError;
    if (tcpError) sources.api = { state: "tcp-failed", ok: false, detail: tcpError };
    Object.assign(sources, this.sinks.health());
    return { ok: Object.values(sources).every((s) => s.ok), sources };
  }

  /** What `systemctl status` shows: each source's state, e.g. "kernel ok, systemd-networkd absent". */
  statusText(prefix = ""): string {
    const parts = Object.entries(this.health().sources).map(([name, h]) => `${name} ${h.ok ? "ok" : h.state}`);
    return prefix + parts.join(", ");
  }

  apiStateChanged(): void {
    this.refreshStatus();
  }

  private refreshStatus(): void {
    if (this.readyAt !== null && !this.stopping) this.notifier.status(this.statusText());
  }

  /**
   * Fire a hook dir by hand (API/CLI trigger): the event a real one would be, flagged in `changed`.
   * The event name must be on the allow-list and the link must exist.
   */
  trigger(linkName: string, event: string): { ok: true; eventId: string } | { ok: false; status: number; error: string } {
    if (!hookDirName(event)) return { ok: false, status: 400, error: `unknown event "${event}"` };
    const l = linkByName(this.kernel.model, linkName);
    if (!l) return { ok: false, status: 404, error: `no such interface "${linkName}"` };
    const snap = snapshotOf(this.kernel.model, l, this.derive.extraState?.(l.index));
    const e = this.events.make({ event, link: l.name, index: l.index, source: this.backend?.backend ?? "kernel", snap, changed: ["trigger"] });
    this.emit({ event: e, state: event, env: {} });
    return { ok: true, eventId: e.id };
  }

  /** Re-read the config; a bad file is rejected and the running config stays. */
  reload(): { ok: boolean; problems?: string } {
    this.notifier.reloading();
    const result = this.reloadConfig();
    this.notifier.reloaded(this.statusText(result.ok ? "" : "new config rejected, old one in force; "));
    return result;
  }

  private reloadConfig(): { ok: boolean; problems?: string } {
    try {
      const { config, file } = loadConfig({ path: this.o.configFile });
      if (config.hooks.user !== this.config.hooks.user ||
          (config.hooks.user === "root" && (config.system.scripts_dirs.join(":") !== this.config.system.scripts_dirs.join(":") ||
            config.compat.networkd_dispatcher !== this.config.compat.networkd_dispatcher ||
            config.compat.networkd_dispatcher_dirs.join(":") !== this.config.compat.networkd_dispatcher_dirs.join(":")))) {
        throw new Error("hooks.user (and, for root hooks, system.scripts_dirs and compat.networkd_dispatcher*) take effect only at a restart");
      }
      const moved = (["enabled", "listen", "socket"] as const).filter((k) => config.api[k] !== this.config.api[k]);
      if (moved.length) {
        // the listeners stay where they are bound; accepting the keys would make the config lie
        // about what is served (and the auth decision follows what is bound, not the config)
        throw new Error(moved.map((k) => `api.${k}: changed from ${JSON.stringify(this.config.api[k])} to ${JSON.stringify(config.api[k])}; ` +
          "the API listeners are not moved by a reload: restart netevd to apply this").join("\n"));
      }
      if (config.metrics.listen !== this.config.metrics.listen) {
        throw new Error(`metrics.listen: changed from ${JSON.stringify(this.config.metrics.listen)} to ${JSON.stringify(config.metrics.listen)}; ` +
          "the metrics listener is not moved by a reload: restart netevd to apply this");
      }
      this.config = config;
      this.log.setLevel(config.system.log_level);
      this.history.resize(config.events.history_size);
      this.log.info("config reloaded", { file });
      this.routing.schedule("reload");
      this.lastReload = { at: new Date().toISOString(), ok: true };
      metrics.reloadSuccessful.set(1);
      metrics.reloadSuccessTime.set(Date.now() / 1000);
      void this.sinks.apply(config).catch((err: Error) => this.log.error("sink reload failed", { err: err.message }));
      return { ok: true };
    } catch (err) {
      const msg = err instanceof ConfigError ? err.message : (err as Error).message;
      this.log.error("config reload rejected; keeping the running config", { file: this.o.configFile, problems: msg });
      this.lastReload = { at: new Date().toISOString(), ok: false, problems: msg.split("\n").filter(Boolean) };
      metrics.reloadSuccessful.set(0);
      return { ok: false, problems: msg };
    }
  }

  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info("stopping", { reason });
    this.notifier.stopping();
    // no hook starts from now on; running ones are ended (SIGTERM, SIGKILL 2 s later, descendants
    // included) before we exit; root hooks end when the runner sees us close the connection
    const hooksDone = this.dispatcher.close();
    this.compactor.stop();
    this.hookAbort.abort();
    this.o.hookRunner?.close();
    await this.api?.close();
    await this.metricsListener?.close();
    for (const w of this.followers) w.stop();
    this.backend?.stop();
    this.hostnamed?.stop();
    this.dns.stop();
    await this.routing.stop();
    this.kernel.close();
    await hooksDone;
    // last: events of the shutdown itself are spooled too
    await this.sinks.close();
  }
}
