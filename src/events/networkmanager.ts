// NetworkManager device/manager states → hook events. (Being written: issue 5.)
import type { NetworkModel } from "../state/model.js";
import type { HookJob } from "./types.js";
import type { DeriveContext, EventFactory } from "./factory.js";
import type { BackendFact, ManagerFact } from "./backends.js";

export function nmJobs(_fact: BackendFact, _m: NetworkModel, _ctx: DeriveContext, _f: EventFactory): HookJob[] {
  return [];
}
export function nmManagerJobs(_fact: ManagerFact, _f: EventFactory): HookJob[] {
  return [];
}
export function nmReplayJobs(_m: NetworkModel, _ctx: DeriveContext, _f: EventFactory): HookJob[] {
  return [];
}
