// The event contract `netevd.event.v1`: what hooks get in NETEVD_EVENT, and what the API, the SSE
// stream and the history serve. Plain data only.

export type Backend = "kernel" | "systemd-networkd" | "NetworkManager" | "dhclient" | "hostnamed";

export interface NetevdEvent {
  schema: "netevd.event.v1";
  /** "<run prefix>-<counter>": the counter is monotonic within a run; the prefix (start time + 24 random bits) makes ids unique across runs */
  id: string;
  /** RFC 3339 with milliseconds, UTC */
  ts: string;
  /** the hook directory name without ".d" (an entry of HOOK_EVENTS) */
  event: string;
  /** interface name; null for manager-level events */
  link: string | null;
  index: number | null;
  /** the running backend (BACKEND), the same for every event of a run: "kernel" when there is none */
  backend: Backend;
  /** what produced this event: "kernel" (netlink) or the backend itself (a D-Bus signal, a lease) */
  source: Backend;
  /** everything known about the link's state now (carrier, operstate, mtu, backend states...) */
  state: Record<string, unknown>;
  /** the same fields before this change; null when there was no before (link added, replay) */
  previous: Record<string, unknown> | null;
  /** names of the fields of `state` (or "addresses", "gateway", "dns") that differ from `previous` */
  changed: string[];
  /** the link's addresses with prefix length, v4 first, link-local excluded: "192.0.2.1/24" */
  addresses: string[];
  gateway: string | null;
  dns: string[];
  /** true when fired by the startup replay */
  replay: boolean;
}

/**
 * One unit of work for the hook dispatcher: the contract event plus what becomes the script's
 * environment beyond the contract. Backends put their own variables in `env` (DHCP_*, NM_*,
 * networkd-dispatcher compatibility); every value is validated again before it reaches a script.
 */
export interface HookJob {
  event: NetevdEvent;
  /** STATE / argv[2] */
  state: string;
  /** extra environment from the backend */
  env: Record<string, string>;
  /** $JSON override (networkd: the verbatim Link.Describe()); default is the contract JSON */
  json?: string;
  /** run the scripts of another dispatcher's directories, its way (compat.networkd_dispatcher) */
  compat?: "networkd-dispatcher";
}
