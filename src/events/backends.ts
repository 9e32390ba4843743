// Which backend turns its link/manager facts into which hook events. Each backend's derivation
// lives in its own file; this table is the only place that knows them all.
import type { BackendFact, BackendLinkState, ManagerFact, NetworkModel } from "../state/model.js";
import type { HookJob } from "./types.js";
import type { DeriveContext, EventFactory, LinkSnapshot } from "./factory.js";
import { networkdEnv, networkdJobs, networkdManagerJobs, networkdReplayJobs } from "./networkd.js";
import { nmDeviceEnv, nmJobs, nmManagerJobs, nmReplayJobs } from "./networkmanager.js";
import { dhclientJobs, dhclientReplayJobs } from "./dhclient.js";

export interface BackendEvents {
  linkJobs(fact: BackendFact, m: NetworkModel, ctx: DeriveContext, f: EventFactory): HookJob[];
  managerJobs?(fact: ManagerFact, f: EventFactory): HookJob[];
  /** startup replay of the backend's current state */
  replay?(m: NetworkModel, ctx: DeriveContext, f: EventFactory): HookJob[];
  /** the backend's variables on a kernel carrier event, from its last known state of the link */
  carrierEnv?(snap: LinkSnapshot, name: string, st: BackendLinkState): Record<string, string>;
}

export const BACKEND_EVENTS: Readonly<Record<string, BackendEvents>> = {
  "systemd-networkd": {
    linkJobs: networkdJobs,
    managerJobs: networkdManagerJobs,
    replay: networkdReplayJobs,
    carrierEnv: (snap, name, st) => networkdEnv(snap, name, st.fields),
  },
  NetworkManager: {
    linkJobs: nmJobs,
    managerJobs: nmManagerJobs,
    replay: nmReplayJobs,
    carrierEnv: (_snap, name, st) => nmDeviceEnv(st.name ?? name, st.fields),
  },
  dhclient: { linkJobs: dhclientJobs, replay: dhclientReplayJobs },
};

/** A backend's variables on a kernel carrier event, when it knows the link. */
export function backendCarrierEnv(m: NetworkModel, index: number, name: string, snap: LinkSnapshot): Record<string, string> | undefined {
  const st = m.backend.get(index);
  return st ? BACKEND_EVENTS[st.backend]?.carrierEnv?.(snap, name, st) : undefined;
}
