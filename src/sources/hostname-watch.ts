// Which source follows the host name for hostname.d. systemd-hostnamed's signals also say the static
// name, but need a D-Bus client (dbus-next and what it pulls in: about 3 MB of RSS); the kernel's
// own notification needs nothing. So hostnamed is followed only when the daemon is on the system
// bus anyway; otherwise the kernel is. Decided once, at start.
import type { Config } from "../config/index.js";
import type { BackendName } from "./auto.js";

export type HostnameWatchKind = "hostnamed" | "kernel";

export interface HostnameWatchChoice {
  kind: HostnameWatchKind;
  reason: string;
}

/**
 * Pure: the host name source for the backend in use (`backend`: system.backend, or what auto
 * picked; `follow`: auto watches the bus for a manager to appear).
 */
export function chooseHostnameWatch(config: Config, backend: BackendName, follow: boolean): HostnameWatchChoice {
  if (backend === "systemd-networkd" || backend === "NetworkManager") return { kind: "hostnamed", reason: `the ${backend} backend uses the system bus` };
  if (follow) return { kind: "hostnamed", reason: "system.backend auto watches the system bus for a network manager" };
  const d = config.backends.dhclient;
  // lease values are pushed only from dhclient's leases (actions/dns.ts)
  if (backend === "dhclient" && (d.use_dns || d.use_domain || d.use_hostname)) {
    return { kind: "hostnamed", reason: "lease values are pushed over the system bus (backends.dhclient.use_*)" };
  }
  return { kind: "kernel", reason: "nothing else uses the system bus" };
}
