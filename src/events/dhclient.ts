// dhclient leases → routable.d events. (Being written: issue 6.)
import type { NetworkModel } from "../state/model.js";
import type { HookJob } from "./types.js";
import type { DeriveContext, EventFactory } from "./factory.js";
import type { BackendFact } from "./backends.js";

export function dhclientJobs(_fact: BackendFact, _m: NetworkModel, _ctx: DeriveContext, _f: EventFactory): HookJob[] {
  return [];
}
export function dhclientReplayJobs(_m: NetworkModel, _ctx: DeriveContext, _f: EventFactory): HookJob[] {
  return [];
}
