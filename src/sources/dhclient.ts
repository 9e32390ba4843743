// dhclient lease files. (Being written: issue 6.)
import type { Config } from "../config/index.js";
import type { Logger } from "../log.js";
import type { BackendSink, BackendSource, SourceHealth } from "./backend.js";

export class DhclientSource implements BackendSource {
  readonly backend = "dhclient" as const;
  constructor(private readonly log: Logger, private readonly sink: BackendSink, private readonly config: () => Config) {}
  start(): void { this.sink.unavailable(); }
  stop(): void {}
  ownsCarrier(): boolean { return false; }
  health(): SourceHealth { return { state: "not-implemented", ok: false }; }
}
