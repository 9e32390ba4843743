// `netevd run`: wires sources → model → events → actions/api. The only place that knows all parts.
import { isoTime, monotonicMs } from "./time.js";
import type { Config } from "./config/index.js";
import { interfaceSelected, loadConfig, ConfigError } from "./config/index.js";
import type { Logger } from "./log.js";
import { KernelSource } from "./sources/kernel.js";
import { NetworkdSource } from "./sources/networkd.js";
import { NetworkManagerSource } from "./sources/networkmanager.js";
import { DhclientSource } from "./sources/dhclient.js";
import { BackendFollower, resolveBackend, type BackendName } from "./sources/auto.js";
import type { BackendSink, BackendSource, SourceHealth } from "./sources/backend.js";
import { factFields } from "./state/describe.js";
import { linkByName, type Fact, type NetworkModel } from "./state/model.js";
import { ModelStore } from "./state/store.js";
import { sdNotify } from "./netlink/native.js";
import { ServiceNotifier } from "./notify.js";
import { EventFactory, type DeriveContext } from "./events/derive.js";
import { logKernelFacts, warnDadFailures } from "./events/fact-log.js";
import { triggerJob } from "./events/trigger.js";
import { History } from "./events/history.js";
import type { HookJob } from "./events/types.js";
import { Dispatcher } from "./actions/hooks/dispatcher.js";
import { hookLauncher, runHookDir, setLauncherLog, SkipRegistry, type RemoteRunner } from "./actions/hooks/run.js";
import { hookBaseDirs, reportNetworkdDispatcherTakeover } from "./actions/hooks/compat.js";
import { HookFeed } from "./actions/hooks/feed.js";
import { HostnamedSource, type HostnameChange } from "./sources/hostnamed.js";
import { KernelHostnameSource } from "./sources/kernel-hostname.js";
import { chooseHostnameWatch } from "./sources/hostname-watch.js";
import { hostnameJob } from "./events/hostname.js";
import { RoutingReconciler } from "./actions/routing/index.js";
import { DnsActions } from "./actions/dns.js";
import { BackendSettle, STARTUP_BOUND_MS, within } from "./startup.js";
import { recordHookResults } from "./actions/hooks/results.js";
import { reloadRefusal } from "./config/reload.js";
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
  /** facts and the start-up replay → hook jobs, with the backend's $JSON */
  private readonly hookFeed: HookFeed;
  private readonly daemonUid = process.getuid?.() ?? 0;
  /** owners a hook script may have besides root: none for root hooks, else the daemon's user */
  private get hookOwnerUid(): number {
    return this.o.hookRunner ? 0 : this.daemonUid;
  }
  /** the backend's first state is known: before that, backend facts only fill the model */
  private readonly backendSettle = new BackendSettle();
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
  /** follows the host name for hostname.d: hostnamed, or the kernel (see chooseHostnameWatch) */
  private hostnameSource: { start(): Promise<void>; stop(): void } | null = null;
  readonly notifier: ServiceNotifier;
  /** system.backend, resolved when it is "auto" */
  private backendName: BackendName = "none";
  /** auto: watches for the other managers while the chosen one is absent */
  private follower: BackendFollower | null = null;
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
    this.hookFeed = new HookFeed({
      config: () => this.config,
      backend: () => this.backend,
      model: () => this.kernel.model,
      derive: this.derive,
      events: this.events,
      ownerUid: () => this.hookOwnerUid,
      emit: (job) => this.emit(job),
      log: o.log,
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
    const t0 = monotonicMs();
    metrics.buildInfo.set({ version: packageVersion(), node: process.version }, 1);
    initSourceMetrics(["kernel"]);
    setSourceHealthProvider(() => this.health().sources);
    // before any event (the replay included): what the last run left queued is delivered first
    await this.sinks.apply(this.config);
    // the hook launcher, started once (after the capabilities hooks inherit were set): a run forks
    // it, not this process; root hooks go to the runner, which has its own
    if (!this.o.hookRunner) {
      setLauncherLog(this.log.child({ source: "hooks" }));
      hookLauncher().start();
    }
    // modules and config are in: V8's own interrupt budget from here, before the event path first
    // runs (code that first ran under the start-up budget was slower in the first flood after start)
    endStartup();
    await this.kernel.start();
    const m = this.kernel.model;
    this.updateGauges();
    this.log.info("kernel synced", {
      links: m.links.size,
      addresses: m.addrs.size,
      routes: m.routes.size,
      rules: m.rules.size,
      ms: +(monotonicMs() - t0).toFixed(1),
    });
    this.events.seed(m);
    await this.resolveBackend();
    this.startBackend();
    // hostname.d, whatever the backend: from hostnamed when on the system bus anyway, else the kernel
    const hostnameWatch = chooseHostnameWatch(this.config, this.backendName, this.follower !== null);
    this.log.debug("host name source", { hostname: hostnameWatch.kind, reason: hostnameWatch.reason });
    const onHostname = (c: HostnameChange) => {
      this.log.info("fact", { source: hostnameWatch.kind, fact: "hostname", hostname: c.hostname, previous: c.previous });
      this.emit(hostnameJob(c, this.events, hostnameWatch.kind));
    };
    const hostnameLog = this.log.child({ source: hostnameWatch.kind });
    this.hostnameSource = hostnameWatch.kind === "hostnamed" ? new HostnamedSource(hostnameLog, onHostname) : new KernelHostnameSource(hostnameLog, onHostname);
    // subscribed before "ready": a change right after start is seen (bounded: the bus may be slow)
    await within(this.hostnameSource.start(), STARTUP_BOUND_MS);
    // replay once the backend's state is known (or after a bound), so a link's carrier is replayed
    // by exactly one source
    await this.backendSettle.wait();
    this.events.seed(m, this.derive.extraState);
    reportNetworkdDispatcherTakeover(this.config, this.log, this.hookOwnerUid, this.o.hookRunner !== undefined);
    this.hookFeed.replay();
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
    const { backend, follow } = await resolveBackend(this.config, this.log);
    this.backendName = backend;
    if (!follow) return;
    this.follower = new BackendFollower({
      current: backend,
      stay: () => this.stopping || this.backend?.health().ok === true,
      switchTo: (name) => {
        this.log.info("backend auto: switching to the manager that appeared", { from: this.backendName, backend: name, reason: `${name} appeared on the system bus` });
        this.switchBackend(name);
      },
    });
    this.follower.start();
  }

  private switchBackend(name: BackendName): void {
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
      attached: (on) => {
        if (on) this.backendSettle.settle();
        this.refreshStatus();
      },
      unavailable: () => {
        this.backendSettle.settle();
        this.refreshStatus();
      },
    };
    switch (backend) {
      case "systemd-networkd":
        this.backend = new NetworkdSource(log, sink);
        break;
      case "NetworkManager":
        this.backend = new NetworkManagerSource(log, sink);
        break;
      case "dhclient": {
        const indexOf = (name: string) => linkByName(this.kernel.model, name)?.index;
        this.backend = new DhclientSource(log, sink, () => this.config, indexOf);
        break;
      }
      default:
        this.backendSettle.settle();
        return; // "none": kernel only
    }
    this.events.backend = this.backend.backend;
    this.backend.start();
  }

  /** Backend facts: logged, and (once the backend's initial state is known) turned into events. */
  private onBackendFacts(facts: Fact[]): void {
    if (facts.length === 0) return;
    this.dns.onFacts(facts);
    this.routing.schedule("backend");
    if (!this.backendSettle.settled) {
      // initial state: fills the model; the replay covers it
      this.hookFeed.initialBackendFacts(facts);
      return;
    }
    for (const f of facts) this.log.info("fact", factFields(f));
    // The kernel's notifications for what the backend just did (networkd adding the DHCP address,
    // then saying "routable") are queued on our netlink socket already: apply them first, now, so
    // the event's snapshot (ADDRESSES, gateway) holds every kernel fact that happened before it,
    // whichever socket the event loop would have read first.
    this.kernel.catchUp();
    this.hookFeed.backendFacts(facts);
  }

  /** Record an event and (unless it is a record only) hand it to the hook dispatcher. The one path for every source. */
  emit(job: HookJob, runHooks = true): void {
    const e = job.event;
    this.history.addEvent(e);
    // the hook first (its start is on the event's latency path), then the record of the event
    if (runHooks) this.dispatcher.submit(job);
    this.compactor.touch();
    metrics.events.inc({ source: e.source, event: e.event });
    this.log.info("event", { event: e.event, link: e.link, index: e.index, id: e.id, source: e.source, replay: e.replay, changed: e.changed });
    this.sinks.submit(e);
  }

  private async runJob(job: HookJob): Promise<void> {
    try {
      const results = await runHookDir(hookBaseDirs(this.config, job), job, {
        timeoutSec: this.config.hooks.timeout_sec,
        daemonUid: this.hookOwnerUid,
        log: this.log.child({ source: "hooks" }),
        daemonEnv: process.env,
        signal: this.hookAbort.signal,
        skips: this.hookSkips,
        ...(this.o.hookRunner ? { runner: this.o.hookRunner } : {}),
      });
      recordHookResults(job, results, this.history);
    } catch (err) {
      this.log.error("hook dispatch failed", { event: job.event.event, link: job.event.link, err });
    }
  }

  private onKernelFacts(facts: Fact[], model: NetworkModel): void {
    logKernelFacts(facts, this.config, this.log);
    this.updateGauges();
    this.hookFeed.kernelFacts(facts, model);
    warnDadFailures(facts, this.log);
    for (const f of facts) if (f.fact === "link-removed") this.backend?.linkRemoved?.(f.link.index);
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
      kernel: this.kernel.health(),
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

  /** Fire a hook dir by hand (API/CLI trigger). */
  trigger(linkName: string, event: string): { ok: true; eventId: string } | { ok: false; status: number; error: string } {
    const t = triggerJob(this.kernel.model, linkName, event, this.backend?.backend ?? "kernel", this.derive, this.events);
    if (!t.ok) return t;
    this.emit(t.job);
    return { ok: true, eventId: t.job.event.id };
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
      const refusal = reloadRefusal(this.config, config);
      if (refusal !== undefined) throw new Error(refusal);
      this.config = config;
      this.log.setLevel(config.system.log_level);
      this.history.resize(config.events.history_size);
      this.log.info("config reloaded", { file });
      this.routing.schedule("reload");
      this.lastReload = { at: isoTime(), ok: true };
      metrics.reloadSuccessful.set(1);
      metrics.reloadSuccessTime.set(Date.now() / 1000);
      void this.sinks.apply(config).catch((err: Error) => this.log.error("sink reload failed", { err: err.message }));
      return { ok: true };
    } catch (err) {
      const msg = err instanceof ConfigError ? err.message : (err as Error).message;
      this.log.error("config reload rejected; keeping the running config", { file: this.o.configFile, problems: msg });
      this.lastReload = { at: isoTime(), ok: false, problems: msg.split("\n").filter(Boolean) };
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
    this.follower?.stop();
    this.backend?.stop();
    this.hostnameSource?.stop();
    this.dns.stop();
    await this.routing.stop();
    this.kernel.close();
    await hooksDone;
    hookLauncher().close();
    // last: events of the shutdown itself are spooled too
    await this.sinks.close();
  }
}
