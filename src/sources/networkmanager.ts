// NetworkManager over the system bus. (Being written: issue 5; until then only presence is followed.)
import type { Logger } from "../log.js";
import { BusNameWatch } from "./presence.js";
import type { BackendSink, BackendSource, SourceHealth } from "./backend.js";

export class NetworkManagerSource implements BackendSource {
  readonly backend = "NetworkManager" as const;
  readonly watch: BusNameWatch;
  constructor(log: Logger, sink: BackendSink) {
    this.watch = new BusNameWatch({ name: "org.freedesktop.NetworkManager", label: "NetworkManager", log, onPresent: () => sink.attached(true), onUnavailable: () => sink.unavailable() });
  }
  start(): void { this.watch.start(); }
  stop(): void { this.watch.stop(); }
  ownsCarrier(): boolean { return false; }
  health(): SourceHealth { return { state: this.watch.state, ok: this.watch.state === "present" }; }
}
