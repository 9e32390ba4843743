// NetworkManager device and manager states → hook events. Each device StateChanged(new, old, reason)
// is one backend-state fact (src/sources/networkmanager.ts) and becomes one event in the dir named
// after the new state; the manager's state becomes manager.d.
import { ARPHRD_LOOPBACK } from "../netlink/constants.js";
import type { BackendFact, ManagerFact, NetworkModel } from "../state/model.js";
import type { HookJob } from "./types.js";
import { hookDirName, NM_DEVICE_STATES } from "../hook-dirs.js";
import { managerStateName, nmNumber } from "../sources/networkmanager-states.js";
import { linkFor, managerJob, snapshotOf, type DeriveContext, type EventFactory } from "./factory.js";

/** The hook dir a device state enters, or undefined (unknown state numbers fire nothing). */
export function deviceStateDir(state: number): string | undefined {
  const dir = NM_DEVICE_STATES[state];
  return dir && dir !== "unknown" && hookDirName(dir) ? dir : undefined;
}

/** NetworkManager's variables for a device event: numbers in NM_*, names in NM_*_NAME. */
export function nmDeviceEnv(iface: string, fields: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { DEVICE_IFACE: iface };
  const put = (k: string, v: string | undefined) => {
    if (v !== undefined) env[k] = v;
  };
  put("NM_STATE", fields.NMDeviceState);
  put("NM_STATE_NAME", fields.NMDeviceStateName);
  put("NM_OLD_STATE", fields.NMOldState);
  put("NM_OLD_STATE_NAME", fields.NMOldStateName);
  put("NM_REASON", fields.NMReason);
  put("NM_REASON_NAME", fields.NMReasonName);
  Object.assign(env, nmdEnv(fields.NMDispatcherEnv));
  return env;
}

const NMD_NAME = /^(CONNECTION_(ID|UUID|FILENAME)|DEVICE_IP_IFACE|IP[46]_(NUM_ADDRESSES|ADDRESS_[0-9]{1,2}|GATEWAY|NAMESERVERS|DOMAINS)|DHCP[46]_[A-Z0-9_]{1,64})$/;

/**
 * NetworkManager-dispatcher's variables, as the source read them (a JSON object in the model): only
 * names of NMD's set pass; the values are validated again when the environment is built.
 */
export function nmdEnv(json: string | undefined): Record<string, string> {
  if (!json) return {};
  let obj: unknown;
  try {
    obj = JSON.parse(json);
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) return out;
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) if (NMD_NAME.test(k) && typeof v === "string") out[k] = v;
  return out;
}

const list = (s: string | undefined): string[] => (s ? s.split(" ").filter(Boolean) : []);

/** A device state transition (NMDeviceState, or NMOldState for the same state entered again) → its dir. */
export function nmJobs(fact: BackendFact, m: NetworkModel, ctx: DeriveContext, f: EventFactory, replay = false): HookJob[] {
  const state = nmNumber(Number(fact.fields.NMDeviceState));
  let dir: string | undefined;
  if (fact.changes.NMDeviceState || fact.changes.NMOldState) {
    dir = state === undefined ? undefined : deviceStateDir(state);
  } else if (state === NM_ACTIVATED && (fact.changes.NMDhcp4 || fact.changes.NMDhcp6)) {
    // NetworkManager-dispatcher's dhcp4-change/dhcp6-change: the lease's options changed while the
    // device stays activated (a renewal that changes nothing but the expiry fires nothing)
    const lost = (k: "NMDhcp4" | "NMDhcp6") => fact.changes[k]?.[1] === "";
    dir = fact.changes.NMDhcp4 && !lost("NMDhcp4") ? "dhcp4-change" : fact.changes.NMDhcp6 && !lost("NMDhcp6") ? "dhcp6-change" : undefined;
  }
  const l = linkFor(m, fact.index, fact.name);
  if (!dir || !l || !ctx.selected(l.name)) return [];
  // addresses as the kernel has them; gateway and DNS as NetworkManager configured them
  const snap = snapshotOf(m, l, ctx.extraState?.(l.index), list(fact.fields.NMDns));
  const gateway = list(fact.fields.NMGateway)[0];
  if (gateway) snap.gateway = gateway;
  const event = f.make({ event: dir, link: l.name, index: l.index, source: "NetworkManager", snap, changed: Object.keys(fact.changes), replay });
  const out: HookJob[] = [{ event, state: dir, env: nmDeviceEnv(fact.name ?? l.name, fact.fields) }];
  // both leases changed at once: dhcp6-change too
  if (dir === "dhcp4-change" && fact.changes.NMDhcp6 && fact.changes.NMDhcp6[1] !== "") {
    const e6 = f.make({ event: "dhcp6-change", link: l.name, index: l.index, source: "NetworkManager", snap, changed: Object.keys(fact.changes), replay });
    out.push({ event: e6, state: "dhcp6-change", env: nmDeviceEnv(fact.name ?? l.name, fact.fields) });
  }
  return out;
}

const NM_ACTIVATED = 100;

/** The manager's State changed → manager.d with STATE = its name. */
export function nmManagerJobs(fact: ManagerFact, f: EventFactory): HookJob[] {
  const out: HookJob[] = [];
  const conn = fact.changes.NMConnectivity;
  // the first value (attach) is where we start from, not a change
  if (conn && conn[0] !== undefined && fact.fields.NMConnectivityName) {
    const job = managerJob("NetworkManager", fact.fields.NMConnectivityName, fact.fields, Object.keys(fact.changes), f);
    job.event.event = "connectivity-change";
    job.env = { CONNECTIVITY_STATE: fact.fields.NMConnectivityName };
    out.push(job);
  }
  return [...out, ...nmStateJobs(fact, f)];
}

function nmStateJobs(fact: ManagerFact, f: EventFactory): HookJob[] {
  const change = fact.changes.NMState;
  const state = change ? nmNumber(Number(change[1])) : undefined;
  if (!change || state === undefined) return [];
  const job = managerJob("NetworkManager", managerStateName(state), fact.fields, Object.keys(fact.changes), f);
  job.env = { NM_STATE: String(state), NM_STATE_NAME: managerStateName(state) };
  const old = change[0] === undefined ? undefined : nmNumber(Number(change[0]));
  if (old !== undefined) {
    job.env.NM_OLD_STATE = String(old);
    job.env.NM_OLD_STATE_NAME = managerStateName(old);
  }
  return [job];
}

/** Startup replay: each device's current state dir once; loopback and unmanaged (< unavailable) devices are skipped. */
export function nmReplayJobs(m: NetworkModel, ctx: DeriveContext, f: EventFactory): HookJob[] {
  const out: HookJob[] = [];
  for (const [index, st] of [...m.backend].sort((a, b) => a[0] - b[0])) {
    if (st.backend !== "NetworkManager" || m.links.get(index)?.type === ARPHRD_LOOPBACK) continue;
    const state = nmNumber(Number(st.fields.NMDeviceState));
    if (state === undefined || state < 20) continue;
    const changes: Record<string, [string | undefined, string]> = { NMDeviceState: [undefined, String(state)] };
    out.push(...nmJobs({ fact: "backend-state", backend: st.backend, index, name: st.name, changes, fields: st.fields }, m, ctx, f, true));
  }
  return out;
}
