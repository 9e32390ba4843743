// NetworkManager's numbers and their names: device states, manager states, state-change reasons,
// and the backend fields of one device transition. A leaf of the NM source: pure tables, no I/O.
import { NM_DEVICE_STATES } from "../hook-dirs.js";

/** NM_STATE_* (the manager's State) by number. */
export const NM_MANAGER_STATES: Readonly<Record<number, string>> = {
  0: "unknown",
  10: "asleep",
  20: "disconnected",
  30: "disconnecting",
  40: "connecting",
  50: "connected_local",
  60: "connected_site",
  70: "connected_global",
};

/** NM_DEVICE_STATE_REASON_* by number, named after the constant (NM_DEVICE_STATE_REASON_USER_REQUESTED → user-requested). */
export const NM_DEVICE_STATE_REASONS: Readonly<Record<number, string>> = {
  0: "none",
  1: "unknown",
  2: "now-managed",
  3: "now-unmanaged",
  4: "config-failed",
  5: "ip-config-unavailable",
  6: "ip-config-expired",
  7: "no-secrets",
  8: "supplicant-disconnect",
  9: "supplicant-config-failed",
  10: "supplicant-failed",
  11: "supplicant-timeout",
  12: "ppp-start-failed",
  13: "ppp-disconnect",
  14: "ppp-failed",
  15: "dhcp-start-failed",
  16: "dhcp-error",
  17: "dhcp-failed",
  18: "shared-start-failed",
  19: "shared-failed",
  20: "autoip-start-failed",
  21: "autoip-error",
  22: "autoip-failed",
  23: "modem-busy",
  24: "modem-no-dial-tone",
  25: "modem-no-carrier",
  26: "modem-dial-timeout",
  27: "modem-dial-failed",
  28: "modem-init-failed",
  29: "gsm-apn-failed",
  30: "gsm-registration-not-searching",
  31: "gsm-registration-denied",
  32: "gsm-registration-timeout",
  33: "gsm-registration-failed",
  34: "gsm-pin-check-failed",
  35: "firmware-missing",
  36: "removed",
  37: "sleeping",
  38: "connection-removed",
  39: "user-requested",
  40: "carrier",
  41: "connection-assumed",
  42: "supplicant-available",
  43: "modem-not-found",
  44: "bt-failed",
  45: "gsm-sim-not-inserted",
  46: "gsm-sim-pin-required",
  47: "gsm-sim-puk-required",
  48: "gsm-sim-wrong",
  49: "infiniband-mode",
  50: "dependency-failed",
  51: "br2684-failed",
  52: "modem-manager-unavailable",
  53: "ssid-not-found",
  54: "secondary-connection-failed",
  55: "dcb-fcoe-failed",
  56: "teamd-control-failed",
  57: "modem-failed",
  58: "modem-available",
  59: "sim-pin-incorrect",
  60: "new-activation",
  61: "parent-changed",
  62: "parent-managed-changed",
  63: "ovsdb-failed",
  64: "ip-address-duplicate",
  65: "ip-method-unsupported",
  66: "sriov-configuration-failed",
  67: "peer-not-found",
  68: "device-handler-failed",
};

const name = (table: Readonly<Record<number, string>>, n: number): string => table[n] ?? "unknown";
export const deviceStateName = (n: number): string => name(NM_DEVICE_STATES, n);
export const managerStateName = (n: number): string => name(NM_MANAGER_STATES, n);
export const reasonName = (n: number): string => name(NM_DEVICE_STATE_REASONS, n);

/** A D-Bus `u` as NM sends it; anything else is not a state/reason we act on. */
export function nmNumber(v: unknown): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v : undefined;
}

/** The backend fields of one device transition: the signal's own arguments, numbers and names. */
export function transitionFields(state: number, old: number | undefined, reason: number | undefined): Record<string, string> {
  const f: Record<string, string> = { NMDeviceState: String(state), NMDeviceStateName: deviceStateName(state) };
  if (old !== undefined) {
    f.NMOldState = String(old);
    f.NMOldStateName = deviceStateName(old);
  }
  if (reason !== undefined) {
    f.NMReason = String(reason);
    f.NMReasonName = reasonName(reason);
  }
  return f;
}
