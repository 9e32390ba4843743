// Privilege separation. Started as root, `netevd run` re-executes itself through setpriv as the
// unprivileged user with only CAP_NET_ADMIN (plus what hooks.capabilities opts into) in its
// permitted, effective, inheritable, ambient and bounding sets: ambient capabilities survive the
// exec and, unlike setuid+capset in-process, hold for every thread. Then, early in the new
// process, the ambient set is cleared so hook scripts inherit nothing unless configured.
import { readFileSync } from "node:fs";

export const REEXEC_MARK = "NETEVD_PRIVILEGES_DROPPED";

export interface PasswdEntry { name: string; uid: number; gid: number }

export function lookupUser(name: string, passwd = "/etc/passwd"): PasswdEntry | undefined {
  let text: string;
  try {
    text = readFileSync(passwd, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f.length >= 4) return { name, uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

const CAP_NAMES: Record<string, string> = { CAP_NET_ADMIN: "net_admin", CAP_NET_RAW: "net_raw", CAP_NET_BIND_SERVICE: "net_bind_service" };

/**
 * argv for setpriv that runs `command` as `user` keeping exactly CAP_NET_ADMIN (the daemon, when
 * `daemon` is true) plus `caps` (allow-listed names from hooks.capabilities).
 */
export function setprivArgv(user: PasswdEntry, caps: readonly string[], command: string[], daemon = true): string[] {
  const set = [...new Set([...(daemon ? ["net_admin"] : []), ...caps.map((c) => CAP_NAMES[c]).filter((c): c is string => !!c)])];
  const list = ["-all", ...set.map((c) => `+${c}`)].join(",");
  return [
    "setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups",
    `--inh-caps=${list}`, `--ambient-caps=${list}`, `--bounding-set=${list}`, "--", ...command,
  ];
}

/** CapEff of this process's main thread as a number (bit 12 = CAP_NET_ADMIN). */
export function effectiveCaps(status = "/proc/self/status"): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync(status, "utf8"));
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

export const CAP_NET_ADMIN_BIT = 1n << 12n;

/** Capability numbers (linux/capability.h) of the allow-listed names. */
export const CAP_NUMBERS: Readonly<Record<string, number>> = { CAP_NET_BIND_SERVICE: 10, CAP_NET_ADMIN: 12, CAP_NET_RAW: 13 };
