// `system.backend: auto`: which network manager this host uses. What is running wins (its
// well-known name on the system bus), then a DHCP client's leases, then what is installed (and for
// systemd-networkd, enabled: its binary ships with every systemd). The choice and the reason are
// logged; when the chosen one is not running, the daemon follows the one that appears later.
import { connectSystemBus } from "../dbus/connect.js";
import { existsSync, readdirSync } from "node:fs";
import { basename, dirname } from "node:path";
import type { Logger } from "../log.js";
import { globMatch } from "../config/index.js";

export type ManagedBackend = "systemd-networkd" | "NetworkManager" | "dhclient";

export const BUS_NAMES: Record<"systemd-networkd" | "NetworkManager", string> = {
  "systemd-networkd": "org.freedesktop.network1",
  NetworkManager: "org.freedesktop.NetworkManager",
};

export interface BackendProbe {
  /** owners of the bus names; null: no system bus */
  running: { "systemd-networkd": boolean; NetworkManager: boolean } | null;
  /** a dhclient lease file matches backends.dhclient.lease_files */
  dhclientLeases: boolean;
  installed: { NetworkManager: boolean; networkdEnabled: boolean; dhclient: boolean };
}

export interface BackendChoice {
  backend: ManagedBackend;
  reason: string;
  /** the chosen one runs now (else the daemon follows whichever appears) */
  running: boolean;
}

/** Pure: the choice from what was found. */
export function chooseBackend(p: BackendProbe): BackendChoice {
  if (p.running?.NetworkManager) return { backend: "NetworkManager", running: true, reason: "NetworkManager is on the system bus" };
  if (p.running?.["systemd-networkd"]) return { backend: "systemd-networkd", running: true, reason: "systemd-networkd is on the system bus" };
  if (p.dhclientLeases) return { backend: "dhclient", running: true, reason: "dhclient lease files exist (ifupdown/dhclient host)" };
  if (p.installed.NetworkManager) return { backend: "NetworkManager", running: false, reason: "NetworkManager is installed but not running" };
  if (p.installed.networkdEnabled) return { backend: "systemd-networkd", running: false, reason: "systemd-networkd is enabled but not running" };
  if (p.installed.dhclient) return { backend: "dhclient", running: false, reason: "dhclient is installed (no leases yet)" };
  return {
    backend: "systemd-networkd",
    running: false,
    reason:
      p.running === null ? "no system bus and no network manager found; waiting for systemd-networkd" : "no network manager is running or installed; waiting for systemd-networkd",
  };
}

const NM_BINARIES = ["/usr/sbin/NetworkManager", "/sbin/NetworkManager"];
const DHCLIENT_BINARIES = ["/usr/sbin/dhclient", "/sbin/dhclient"];
const NETWORKD_WANTS = ["/etc/systemd/system/multi-user.target.wants/systemd-networkd.service", "/etc/systemd/system/dbus-org.freedesktop.network1.service"];

function anyLeaseFile(patterns: readonly string[]): boolean {
  for (const pattern of patterns) {
    const dir = dirname(pattern);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    const file = basename(pattern);
    if (names.some((n) => globMatch(file, n))) return true;
  }
  return false;
}

/** Look at the host: bus names (bounded by timeoutMs), lease files, installed binaries. */
export async function probeBackends(leasePatterns: readonly string[], log: Logger, timeoutMs = 2000): Promise<BackendProbe> {
  let running: BackendProbe["running"] = null;
  try {
    let timer: NodeJS.Timeout | undefined;
    const bus = await Promise.race([
      connectSystemBus(),
      new Promise<never>((_r, rej) => {
        timer = setTimeout(() => rej(new Error("timed out")), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    try {
      const [nd, nm] = await Promise.all([bus.nameHasOwner(BUS_NAMES["systemd-networkd"]), bus.nameHasOwner(BUS_NAMES.NetworkManager)]);
      running = { "systemd-networkd": nd, NetworkManager: nm };
    } finally {
      bus.disconnect();
    }
  } catch (err) {
    log.debug("backend auto: no system bus", { err: (err as Error).message });
  }
  return {
    running,
    dhclientLeases: anyLeaseFile(leasePatterns),
    installed: {
      NetworkManager: NM_BINARIES.some((f) => existsSync(f)),
      networkdEnabled: NETWORKD_WANTS.some((f) => existsSync(f)),
      dhclient: DHCLIENT_BINARIES.some((f) => existsSync(f)),
    },
  };
}
