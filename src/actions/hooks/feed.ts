// Facts → hook jobs → emit, with the backend's own $JSON where it has one (networkd:
// Link.Describe(), when backends.systemd_networkd.emit_json is on) and networkd-dispatcher's runs
// (compat.networkd_dispatcher). Describe() costs a D-Bus round trip per event, so it is asked only
// when a script will read it; a link's described events stay in order (the backend chains them).
import type { Config } from "../../config/index.js";
import type { Logger } from "../../log.js";
import type { Fact, NetworkModel } from "../../state/model.js";
import type { BackendSource } from "../../sources/backend.js";
import { backendReplayJobs, jobsFromFacts, replayJobs, type DeriveContext, type EventFactory } from "../../events/derive.js";
import { networkdDispatcherAddresses, networkdDispatcherJobs, networkdDispatcherReplayJobs } from "../../events/networkd.js";
import type { HookJob } from "../../events/types.js";
import { hookBaseDirs, networkdDispatcherOn } from "./compat.js";
import { discoverMerged } from "./merge.js";

export interface HookFeedDeps {
  config(): Config;
  /** the backend in use, if any */
  backend(): BackendSource | null;
  /** the kernel's model as the backend's events read it (addresses for networkd-dispatcher's variables) */
  model(): NetworkModel;
  derive: DeriveContext;
  events: EventFactory;
  /** owners a hook script may have besides root */
  ownerUid(): number;
  /** records the job and hands it to the dispatcher */
  emit(job: HookJob): void;
  log: Logger;
  /** whether `<dir>/<event>.d` over the base dirs has a script to run (default: the merged discovery) */
  hasScripts?(dirs: readonly string[], event: string): boolean;
}

export class HookFeed {
  constructor(private readonly d: HookFeedDeps) {}

  private hasScripts(dirs: readonly string[], event: string): boolean {
    return this.d.hasScripts ? this.d.hasScripts(dirs, event) : discoverMerged(dirs, event, this.d.ownerUid()).scripts.length > 0;
  }

  private wantBackendJson(): boolean {
    return this.d.backend()?.backend !== "systemd-networkd" || this.d.config().backends.systemd_networkd.emit_json;
  }

  /** Kernel facts: their events, a carrier event with the backend's last $JSON (it cannot wait for a new one). */
  kernelFacts(facts: Fact[], model: NetworkModel): void {
    for (const job of jobsFromFacts(facts, model, this.d.derive, this.d.events)) this.d.emit(this.withLastJson(job));
  }

  /** The backend's initial state (before start-up's replay, which covers its events): only its links' $JSON is read. */
  initialBackendFacts(facts: Fact[]): void {
    for (const f of facts) if (f.fact === "backend-state") this.refresh(f.index);
  }

  /**
   * Backend facts: their events and networkd-dispatcher's runs, each described first when a script
   * reads $JSON; a link without a described event gets its last Describe() refreshed instead.
   */
  backendFacts(facts: Fact[]): void {
    const { derive, events } = this.d;
    const m = this.d.model();
    const described = new Set<number>();
    for (const job of jobsFromFacts(facts, m, derive, events)) {
      if (this.emitDescribed(job) && job.event.index !== null) described.add(job.event.index);
    }
    if (networkdDispatcherOn(this.d.config())) {
      for (const f of facts) {
        if (f.fact !== "backend-state" || f.backend !== "systemd-networkd") continue;
        for (const job of networkdDispatcherJobs(f, m, derive, events)) {
          if (this.emitDescribed(job) && job.event.index !== null) described.add(job.event.index);
        }
      }
    }
    for (const f of facts) if (f.fact === "backend-state" && !described.has(f.index)) this.refresh(f.index);
  }

  /** Start-up replay (hooks.replay_on_start): the kernel's carrier states, the backend's states, networkd-dispatcher's startup triggers. */
  replay(): void {
    const config = this.d.config();
    if (!config.hooks.replay_on_start) return;
    const { derive, events } = this.d;
    const m = this.d.model();
    for (const job of replayJobs(m, derive, events)) this.d.emit(this.withLastJson(job));
    const backend = this.d.backend();
    if (backend) for (const job of backendReplayJobs(backend.backend, m, derive, events)) this.emitDescribed(job);
    if (networkdDispatcherOn(config)) for (const job of networkdDispatcherReplayJobs(m, derive, events)) this.emitDescribed(job);
  }

  /** A kernel carrier event carries the backend's last $JSON (networkd: the last Link.Describe() of the link). */
  private withLastJson(job: HookJob): HookJob {
    const e = job.event;
    if ((e.event === "carrier" || e.event === "no-carrier") && e.index !== null && this.wantBackendJson()) {
      const json = this.d.backend()?.lastDescribe?.(e.index);
      if (json !== undefined) {
        job.json = json;
        job.env.json = json;
      }
    }
    return job;
  }

  /**
   * A backend job, described first (in the link's order) when a script will read $JSON, else at
   * once. Returns whether it was described (which also refreshes the link's last Describe()).
   */
  private emitDescribed(job: HookJob): boolean {
    const index = job.event.index;
    const backend = this.d.backend();
    // no script to read $JSON: skip the round trip (it costs milliseconds while networkd is busy)
    const wantJson = this.wantBackendJson() || job.compat !== undefined;
    if (!backend?.describeInOrder || index === null || job.event.source === "kernel" || !wantJson || !this.hasScripts(hookBaseDirs(this.d.config(), job), job.event.event)) {
      this.d.emit(job);
      return false;
    }
    backend.describeInOrder(index, (json, err) => {
      if (err) {
        this.d.log.warn("backend Describe failed; $JSON falls back to the event contract", { link: job.event.link, err: err.message });
      } else {
        if (json !== undefined) {
          job.json = json;
          job.env.json = json;
        }
        // networkd-dispatcher reads the addresses when it runs the scripts: so do we, now that the
        // kernel's notifications of what networkd just did have been read
        if (job.compat === "networkd-dispatcher") Object.assign(job.env, networkdDispatcherAddresses(this.d.model(), index));
      }
      this.d.emit(job);
    });
    return true;
  }

  /**
   * Keep the link's last Describe() current for kernel carrier events, off the events' chain; only
   * when a carrier script will read it (no extra round trips while networkd is busy).
   */
  private refresh(index: number): void {
    const backend = this.d.backend();
    if (!backend?.refreshDescribe || !this.wantBackendJson()) return;
    const dirs = this.d.config().system.scripts_dirs;
    if (!this.hasScripts(dirs, "carrier") && !this.hasScripts(dirs, "no-carrier")) return;
    backend.refreshDescribe(index);
  }
}
