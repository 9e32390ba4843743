// compat.networkd_dispatcher: netevd runs networkd-dispatcher's scripts from its directories, its
// way. Which directories a job's scripts come from, and what start-up says about the takeover.
import type { Config } from "../../config/index.js";
import type { Logger } from "../../log.js";
import type { HookJob } from "../../events/types.js";
import { HOOK_EVENTS } from "../../hook-dirs.js";
import { processesNamed } from "../../sources/processes.js";
import { discoverMerged } from "./merge.js";

/** compat.networkd_dispatcher, which only means something under the networkd backend. */
export function networkdDispatcherOn(config: Config): boolean {
  return config.compat.networkd_dispatcher && config.system.backend === "systemd-networkd";
}

/** The base directories of a job's scripts: netevd's, or networkd-dispatcher's for its runs. */
export function hookBaseDirs(config: Config, job: Pick<HookJob, "compat">): readonly string[] {
  return job.compat === "networkd-dispatcher" ? config.compat.networkd_dispatcher_dirs : config.system.scripts_dirs;
}

export interface TakeoverSeams {
  /** the paths of the effective scripts of one event over the base dirs */
  scripts?: (dirs: readonly string[], event: string) => string[];
  /** pids of running processes of that name */
  processes?: (name: string) => number[];
}

/**
 * Start-up: how many networkd-dispatcher scripts netevd took over and as whom, whether
 * networkd-dispatcher runs too (both would run them), or why they will not run at all.
 */
export function reportNetworkdDispatcherTakeover(config: Config, log: Logger, ownerUid: number, runsAsRoot: boolean, seams: TakeoverSeams = {}): void {
  if (!config.compat.networkd_dispatcher) return;
  if (config.system.backend !== "systemd-networkd") {
    log.warn("compat.networkd_dispatcher needs system.backend: systemd-networkd; its scripts will not run", { backend: config.system.backend });
    return;
  }
  const scriptsOf = seams.scripts ?? ((dirs, event) => discoverMerged(dirs, event, ownerUid).scripts.map((s) => s.path));
  const dirs = config.compat.networkd_dispatcher_dirs;
  const scripts = new Set<string>();
  for (const event of HOOK_EVENTS) for (const path of scriptsOf(dirs, event)) scripts.add(path);
  log.info("networkd-dispatcher scripts taken over", { scripts: scripts.size, dirs: dirs.join(":"), user: runsAsRoot ? "root" : config.system.user });
  const pids = (seams.processes ?? processesNamed)("networkd-dispatcher");
  if (pids.length) {
    log.warn("networkd-dispatcher is running too: both will run its scripts; stop and disable it (systemctl disable --now networkd-dispatcher)", { pids });
  }
}
