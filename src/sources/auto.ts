// system.backend: auto. The backend is chosen by what runs or is installed; when the chosen manager
// is not running, the others are watched on the system bus, and the first one to appear while the
// chosen one is still not healthy takes over.
import type { Config } from "../config/index.js";
import type { Logger } from "../log.js";
import { BUS_NAMES, chooseBackend, probeBackends, type BackendProbe } from "./detect.js";
import { BusNameWatch, type PresenceOptions } from "./presence.js";

type Followed = keyof typeof BUS_NAMES;
export type BackendName = Exclude<Config["system"]["backend"], "auto">;

/** system.backend, or what `auto` picks (logged with why); follow: the pick is not running, watch the others. */
export async function resolveBackend(
  config: Config,
  log: Logger,
  probe: () => Promise<BackendProbe> = () => probeBackends(config.backends.dhclient.lease_files, log),
): Promise<{ backend: BackendName; follow: boolean }> {
  const configured = config.system.backend;
  if (configured !== "auto") return { backend: configured, follow: false };
  const choice = chooseBackend(await probe());
  log.info("backend chosen (system.backend: auto)", { backend: choice.backend, reason: choice.reason });
  return { backend: choice.backend, follow: !choice.running };
}

export interface FollowOptions {
  /** the backend in use: not watched */
  current: string;
  /** keep what is in use (it became healthy, or the daemon is stopping): nothing switches */
  stay(): boolean;
  /** `name` appeared: switch to it (called once; the watches end after it) */
  switchTo(name: Followed): void;
  /** opens a watch (default: a BusNameWatch); tests pass fakes */
  watch?: (o: PresenceOptions) => { start(): void; stop(): void };
  /** runs `fn` after the current callback (default setImmediate): a watch is not stopped from inside its own callback */
  later?: (fn: () => void) => void;
}

const quiet: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => quiet, setLevel() {}, enabled: () => false };

export class BackendFollower {
  private watches: Array<{ start(): void; stop(): void }> = [];

  constructor(private readonly o: FollowOptions) {}

  start(): void {
    const open = this.o.watch ?? ((p: PresenceOptions) => new BusNameWatch(p));
    for (const [name, busName] of Object.entries(BUS_NAMES) as [Followed, string][]) {
      if (name === this.o.current) continue;
      // their comings and goings are not news: only an appearance that switches is logged (by the caller)
      const watch = open({
        name: busName,
        label: name,
        log: quiet,
        onPresent: () => {
          if (this.o.stay() || this.watches.length === 0) return;
          this.stopLater();
          this.o.switchTo(name);
        },
      });
      this.watches.push(watch);
      watch.start();
    }
  }

  /** All watches end now (the daemon stops). */
  stop(): void {
    const watches = this.watches;
    this.watches = [];
    for (const w of watches) w.stop();
  }

  private stopLater(): void {
    const watches = this.watches;
    this.watches = [];
    (this.o.later ?? setImmediate)(() => {
      for (const w of watches) w.stop();
    });
  }
}
