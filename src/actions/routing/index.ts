// Policy routing reconciler. (Being written: issue 7.)
import type { Config } from "../../config/index.js";
import type { Logger } from "../../log.js";
import type { RtnlRequester } from "../../netlink/rtnl.js";
import type { Fact, NetworkModel } from "../../state/model.js";
import type { EventFactory } from "../../events/factory.js";
import type { HookJob } from "../../events/types.js";

export interface RoutingOptions {
  log: Logger;
  config(): Config;
  model(): NetworkModel;
  requester(): RtnlRequester;
  /** record a reconcile action as an event in the history (no hooks run for it) */
  record(job: HookJob): void;
  events: EventFactory;
}

export class RoutingReconciler {
  constructor(private readonly o: RoutingOptions) {}
  schedule(_reason: string): void {}
  onFacts(_facts: Fact[]): void {}
  async stop(): Promise<void> {}
}
