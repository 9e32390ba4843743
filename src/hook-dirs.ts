// The fixed allow-list of hook directories. A state name from outside (networkd, NM, a lease)
// becomes a directory only by being looked up here: nothing external is ever joined into a path.

export const KERNEL_DIRS = ["carrier", "no-carrier", "link-added", "link-removed", "address-added", "address-removed", "address-dad-failed", "mtu", "routes"] as const;

export const NETWORKD_OPER_DIRS = ["off", "no-carrier", "dormant", "degraded-carrier", "carrier", "degraded", "enslaved", "routable", "missing"] as const;

export const NETWORKD_ADMIN_DIRS = ["configuring", "configured", "failed", "linger", "unmanaged"] as const;

/** networkd-dispatcher's states (its ADMIN_STATES and OPER_STATES): its <state>.d directories. */
export const ND_ADMIN_STATES = ["configured", "configuring", "failed", "pending", "unmanaged", "linger", "initialized"] as const;
export const ND_OPER_STATES = ["carrier", "degraded", "degraded-carrier", "dormant", "enslaved", "missing", "no-carrier", "off", "routable"] as const;

/** NetworkManager device states (NM_DEVICE_STATE_*) by number. */
export const NM_DEVICE_STATES: Readonly<Record<number, string>> = {
  0: "unknown",
  10: "unmanaged",
  20: "unavailable",
  30: "disconnected",
  40: "prepare",
  50: "config",
  60: "need-auth",
  70: "ip-config",
  80: "ip-check",
  90: "secondaries",
  100: "activated",
  110: "deactivating",
  120: "failed",
};

export const HOOK_EVENTS = [
  ...new Set<string>([
    ...KERNEL_DIRS,
    ...NETWORKD_OPER_DIRS,
    ...NETWORKD_ADMIN_DIRS,
    ...Object.values(NM_DEVICE_STATES).filter((s) => s !== "unknown"),
    ...ND_ADMIN_STATES,
    ...ND_OPER_STATES,
    "manager",
    // NetworkManager-dispatcher's events: lease options changed without a state change, the
    // manager's connectivity, and the host name (systemd-hostnamed or the kernel, every backend)
    "dhcp4-change",
    "dhcp6-change",
    "connectivity-change",
    "hostname",
  ]),
] as readonly string[];

const allowed = new Set(HOOK_EVENTS);

/** The directory name for an event, or undefined when the name is not on the allow-list. */
export function hookDirName(event: string): string | undefined {
  return allowed.has(event) ? `${event}.d` : undefined;
}

/**
 * Coalescing is per (link, hook dir), except carrier.d and no-carrier.d, which are the two states
 * of one thing: they share a key, so they never run at the same time for a link and after a flap
 * storm only the latest state runs.
 */
export function coalesceGroup(event: string): string {
  return event === "no-carrier" ? "carrier" : event;
}
