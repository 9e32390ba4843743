// DNS and hostname pushes to systemd-resolved / hostnamed / networkd. (Being written: issue 6.)
import type { Config } from "../config/index.js";
import type { Logger } from "../log.js";
import type { Fact, NetworkModel } from "../state/model.js";

export interface DnsOptions {
  log: Logger;
  config(): Config;
  model(): NetworkModel;
}

export class DnsActions {
  constructor(private readonly o: DnsOptions) {}
  /** backend facts (a lease's DNS, domain, host name) */
  onFacts(_facts: Fact[]): void {}
  stop(): void {}
}
