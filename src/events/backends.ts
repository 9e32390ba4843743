// Which backend turns its link/manager facts into which hook events. Each backend's derivation
// lives in its own file; this table is the only place that knows them all.
import type { NetworkModel } from "../state/model.js";
import type { HookJob } from "./types.js";
import type { DeriveContext, EventFactory } from "./factory.js";
import { networkdJobs, networkdManagerJobs, networkdReplayJobs } from "./networkd.js";
import { nmJobs, nmManagerJobs, nmReplayJobs } from "./networkmanager.js";
import { dhclientJobs, dhclientReplayJobs } from "./dhclient.js";

/** A backend-state fact (see src/state/model.ts). */
export interface BackendFact {
  backend: string;
  index: number;
  name?: string;
  changes: Record<string, [string | undefined, string]>;
  fields: Record<string, string>;
}

export interface ManagerFact {
  backend: string;
  changes: Record<string, [string | undefined, string]>;
  fields: Record<string, string>;
}

export interface BackendEvents {
  linkJobs(fact: BackendFact, m: NetworkModel, ctx: DeriveContext, f: EventFactory): HookJob[];
  managerJobs?(fact: ManagerFact, f: EventFactory): HookJob[];
  /** startup replay of the backend's current state */
  replay?(m: NetworkModel, ctx: DeriveContext, f: EventFactory): HookJob[];
}

export const BACKEND_EVENTS: Readonly<Record<string, BackendEvents>> = {
  "systemd-networkd": { linkJobs: networkdJobs, managerJobs: networkdManagerJobs, replay: networkdReplayJobs },
  NetworkManager: { linkJobs: nmJobs, managerJobs: nmManagerJobs, replay: nmReplayJobs },
  dhclient: { linkJobs: dhclientJobs, replay: dhclientReplayJobs },
};
