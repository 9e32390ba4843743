// Privilege separation. Started as root, `netevd run` execs (replaces itself with) setpriv, which
// execs the same command as the unprivileged user with only CAP_NET_ADMIN (plus what
// hooks.capabilities opts into) in its permitted, effective, inheritable, ambient and bounding sets,
// and NoNewPrivs: ambient capabilities survive the exec and, unlike setuid+capset in-process, hold
// for every thread. No root process stays behind. Whether to drop depends on the uid alone: no
// environment variable can skip it. Early in the new process the ambient set is cleared, so hook
// scripts inherit nothing unless configured.
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

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
    "setpriv",
    `--reuid=${user.uid}`,
    `--regid=${user.gid}`,
    "--init-groups",
    "--no-new-privs",
    `--inh-caps=${list}`,
    `--ambient-caps=${list}`,
    `--bounding-set=${list}`,
    "--",
    ...command,
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

/** setpriv's absolute path (execve does not search PATH). */
export function setprivPath(): string | undefined {
  return ["/usr/bin/setpriv", "/bin/setpriv", "/usr/sbin/setpriv", "/sbin/setpriv"].find((p) => existsSync(p));
}

/** The user's supplementary groups (what setpriv --init-groups gives it), from /etc/group. */
export function groupsOf(user: PasswdEntry, group = "/etc/group"): Set<number> {
  const out = new Set<number>([user.gid]);
  let text = "";
  try {
    text = readFileSync(group, "utf8");
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length >= 4 && f[3]!.split(",").includes(user.name)) out.add(Number(f[2]));
  }
  return out;
}

/**
 * The first of `files` (or a directory above one) that `user` cannot read (files) or search
 * (directories), judged by the mode bits as the kernel does for an unprivileged user; undefined
 * when all are reachable. The unprivileged daemon must load the program it is exec'd into.
 */
export function unreadableFor(user: PasswdEntry, files: readonly string[]): string | undefined {
  const groups = groupsOf(user);
  const allowed = (path: string, bit: number): boolean => {
    const st = statSync(path);
    const mode = Number(st.mode);
    if (Number(st.uid) === user.uid) return ((mode >> 6) & bit) === bit;
    if (groups.has(Number(st.gid))) return ((mode >> 3) & bit) === bit;
    return (mode & bit) === bit;
  };
  const seen = new Set<string>();
  for (const file of files) {
    const dirs: string[] = [];
    for (let d = dirname(file); ; d = dirname(d)) {
      dirs.unshift(d);
      if (d === "/" || d === ".") break;
    }
    for (const d of dirs) {
      if (seen.has(d)) continue;
      seen.add(d);
      try {
        if (!allowed(d, 1)) return d;
      } catch {
        return d;
      }
    }
    try {
      if (!allowed(file, 4)) return file;
    } catch {
      return file;
    }
  }
  return undefined;
}
