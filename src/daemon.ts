// `netevd run`: wires sources → model → events → actions. The only place that knows all parts.
import type { Config } from "./config/index.js";
import { interfaceSelected, loadConfig, ConfigError } from "./config/index.js";
import type { Logger } from "./log.js";
import { KernelSource } from "./sources/kernel.js";
import { BusNameWatch } from "./sources/presence.js";
import { factFields } from "./state/describe.js";
import { factLink, type Fact, type NetworkModel } from "./state/model.js";
import { sdNotify } from "./netlink/native.js";

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
  private stopping = false;

  constructor(private readonly o: DaemonOptions) {
    this.config = o.config;
    this.kernel = new KernelSource({ log: o.log.child({ source: "kernel" }), onFacts: (f, m) => this.onKernelFacts(f, m) });
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

  private onKernelFacts(facts: Fact[], _model: NetworkModel): void {
    const monitored = this.config.monitoring.interfaces;
    for (const f of facts) {
      const link = factLink(f);
      if (link !== undefined && monitored.length && !interfaceSelected(this.config, link)) continue;
      this.log.info("fact", { source: "kernel", ...factFields(f) });
    }
  }

  /** Re-read the config; a bad file is rejected and the running config stays. */
  reload(): { ok: boolean; problems?: string } {
    try {
      const { config, file } = loadConfig({ path: this.o.configFile });
      this.config = config;
      this.log.setLevel(config.system.log_level);
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
  }
}
