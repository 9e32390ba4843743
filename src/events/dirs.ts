// The fixed allow-list of hook directories. A state name from outside (networkd, NM, a lease)
// becomes a directory only by being looked up here: nothing external is ever joined into a path.

export const KERNEL_DIRS = [
  "carrier", "no-carrier", "link-added", "link-removed", "address-added", "address-removed", "mtu", "routes",
] as const;

export const NETWORKD_OPER_DIRS = [
  "off", "no-carrier", "dormant", "degraded-carrier", "carrier", "degraded", "enslaved", "routable", "missing",
] as const;

export const NETWORKD_ADMIN_DIRS = ["configuring", "configured", "failed", "linger", "unmanaged"] as const;

/** NetworkManager device states (NM_DEVICE_STATE_*) by number. */
export const NM_DEVICE_STATES: Readonly<Record<number, string>> = {
  0: "unknown", 10: "unmanaged", 20: "unavailable", 30: "disconnected", 40: "prepare", 50: "config",
  60: "need-auth", 70: "ip-config", 80: "ip-check", 90: "secondaries", 100: "activated",
  110: "deactivating", 120: "failed",
};

export const HOOK_EVENTS = [
  ...new Set<string>([
    ...KERNEL_DIRS,
    ...NETWORKD_OPER_DIRS,
    ...NETWORKD_ADMIN_DIRS,
    ...Object.values(NM_DEVICE_STATES).filter((s) => s !== "unknown"),
    "manager",
  ]),
] as readonly string[];

const allowed = new Set(HOOK_EVENTS);

/** The directory name for an event, or undefined when the name is not on the allow-list. */
export function hookDirName(event: string): string | undefined {
  return allowed.has(event) ? `${event}.d` : undefined;
}

const groups = new Map<string, string>();
for (const e of ["carrier", "no-carrier"]) groups.set(e, "carrier");
for (const e of NETWORKD_OPER_DIRS) if (e !== "carrier" && e !== "no-carrier") groups.set(e, "operational");
for (const e of NETWORKD_ADMIN_DIRS) groups.set(e, "administrative");
for (const e of Object.values(NM_DEVICE_STATES)) if (!groups.has(e)) groups.set(e, "nm-device");

/**
 * Events that are states of one state machine coalesce together: a link's carrier.d and
 * no-carrier.d never run at the same time, and after a burst only the latest state runs.
 * Other events (address-added, mtu, routes, ...) coalesce per dir.
 */
export function coalesceGroup(event: string): string {
  return groups.get(event) ?? event;
}
