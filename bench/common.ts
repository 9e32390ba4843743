// Shared plumbing for the benchmarks. Each benchmark runs inside a lab (scripts/bench.sh starts it
// through test/lab/harness.sh), prints human lines and ends with one JSON line `{"bench": ...}`.
// Benchmarks measure and report; they assert nothing against targets.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { watch, chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cpus, loadavg } from "node:os";
import { lab, tempDir } from "../test/lab/lab.js";
import { RtnlMonitor } from "../src/netlink/rtnl.js";
import { RTNLGRP_LINK } from "../src/netlink/constants.js";

export { DaemonProcess, hookTree, ip, ipSrv, lab, sh, sleep, tempDir, waitFor, writeConfig, type LogRecord } from "../test/lab/lab.js";

/**
 * One long-lived `ip -n <srv netns> -batch -`: each command is written to its stdin, so a flap costs
 * no process start and this process's event loop stays idle while the kernel event arrives.
 */
export class IpBatch {
  private readonly child: ChildProcess;
  constructor(netns: string) {
    this.child = spawn("ip", ["-n", netns, "-force", "-batch", "-"], { stdio: ["pipe", "ignore", "inherit"] });
  }
  run(command: string): void {
    this.child.stdin!.write(command + "\n");
  }
  close(): void {
    this.child.stdin!.end();
  }
}

/** Stop with a clear message when started outside a lab (the benchmarks touch links and run daemons). */
export function requireLab(name: string): void {
  if (!process.env.NETEVD_LAB_NS_CLI) {
    process.stderr.write(`${name}: run me inside a lab: scripts/bench.sh (or test/lab/harness.sh -- node dist/bench/${name}.js)\n`);
    process.exit(2);
  }
}

/** CLOCK_MONOTONIC in ns (libuv's hrtime): the same clock the hookstamp binary records. */
export const monoNs = (): bigint => process.hrtime.bigint();

let rtOffset: bigint | undefined;
/**
 * CLOCK_REALTIME − CLOCK_MONOTONIC in ns, read back to back by the hookstamp binary (the tightest of
 * 20 samples): converts the wall-clock stamps of shell hooks (`date +%s%N`, $EPOCHREALTIME) to the
 * monotonic clock without relying on performance.timeOrigin's accuracy.
 */
export function realtimeOffsetNs(): bigint {
  if (rtOffset === undefined) {
    const line = execFileSync(hookstamp(), ["--offset"], { encoding: "utf8" }).trim();
    rtOffset = BigInt(line);
  }
  return rtOffset;
}

export interface Dist {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles, rounded to 0.01. */
export function dist(values: number[]): Dist {
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
  const r = (x: number) => Math.round(x * 100) / 100;
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { n: s.length, min: r(s[0] ?? NaN), p50: r(q(50)), p90: r(q(90)), p99: r(q(99)), max: r(s.at(-1) ?? NaN), mean: r(mean) };
}

export function fmtDist(d: Dist, unit = "ms"): string {
  return `p50 ${d.p50} ${unit}, p90 ${d.p90}, p99 ${d.p99}, max ${d.max} (min ${d.min}, n=${d.n})`;
}

export function say(line: string): void {
  process.stdout.write(`  ${line}\n`);
}

/** The machine-readable result: one JSON line per benchmark (scripts/bench.sh collects them). */
export function report(bench: string, result: Record<string, unknown>): void {
  // other work on the machine shows up as latency: keep the load next to the figures
  process.stdout.write(JSON.stringify({ bench, ...result, loadavg: loadavg().map((x) => Math.round(x * 100) / 100), cpus: cpus().length }) + "\n");
}

// A hook that records its own exec start and nothing else: a static binary whose first action is
// clock_gettime(CLOCK_MONOTONIC). No shell start-up, no dynamic loader, no fork of `date`. It finds
// where to write from its own path (argv[0] is the script's real path for binaries under netevd, and
// the path for networkd-dispatcher): <base>/<event>.d/<name> appends "<ns>\n" to <base>/out/<event>.
// Called as NetworkManager-dispatcher calls its scripts (argv: interface, action), it appends to
// <base>/out/<action> instead (e.g. /etc/NetworkManager/out/down).
const HOOKSTAMP_C = `
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static long long ns(struct timespec t) { return (long long)t.tv_sec * 1000000000LL + t.tv_nsec; }
int main(int argc, char **argv) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  if (argc == 2 && strcmp(argv[1], "--offset") == 0) {
    long long best = -1, off = 0;
    for (int i = 0; i < 20; i++) {
      struct timespec a, r, b;
      clock_gettime(CLOCK_MONOTONIC, &a);
      clock_gettime(CLOCK_REALTIME, &r);
      clock_gettime(CLOCK_MONOTONIC, &b);
      long long w = ns(b) - ns(a);
      if (best < 0 || w < best) { best = w; off = ns(r) - (ns(a) + w / 2); }
    }
    printf("%lld\\n", off);
    return 0;
  }
  char path[4096], line[64];
  snprintf(path, sizeof path, "%s", argv[0]);
  char *name = strrchr(path, '/');
  if (!name) return 2;
  *name = 0;
  char *dir = strrchr(path, '/');
  if (!dir) return 2;
  *dir = 0;
  char event[256];
  snprintf(event, sizeof event, "%s", dir + 1);
  size_t n = strlen(event);
  if (n > 2 && strcmp(event + n - 2, ".d") == 0) event[n - 2] = 0;
  if (argc == 3 && strcmp(event, "dispatcher") == 0) { /* NetworkManager-dispatcher: argv[2] is the action */
    const char *a = argv[2];
    size_t k = 0;
    for (; a[k]; k++) if (!((a[k] >= 'a' && a[k] <= 'z') || (a[k] >= '0' && a[k] <= '9') || a[k] == '-')) return 6;
    if (k == 0 || k > 64) return 6;
    snprintf(event, sizeof event, "%s", a);
  }
  char out[4400];
  snprintf(out, sizeof out, "%s/out/%s", path, event);
  int fd = open(out, O_WRONLY | O_APPEND | O_CREAT, 0666);
  if (fd < 0) return 3;
  int len = snprintf(line, sizeof line, "%lld\\n", ns(ts));
  if (write(fd, line, len) != len) return 4;
  return close(fd) == 0 ? 0 : 5;
}
`;

let hookstampPath: string | undefined;

/** Compile the hookstamp binary once (cc is on every machine the project builds on). */
export function hookstamp(): string {
  if (hookstampPath) return hookstampPath;
  const dir = tempDir("netevd-bench-cc-");
  writeFileSync(join(dir, "hookstamp.c"), HOOKSTAMP_C);
  execFileSync("cc", ["-O2", "-static", "-o", join(dir, "hookstamp"), join(dir, "hookstamp.c")]);
  hookstampPath = join(dir, "hookstamp");
  return hookstampPath;
}

/** Hook bodies that record their start time, by how they take it. */
export const STAMP_SCRIPTS = {
  /** static binary: exec start (the closest a hook can get to "the exec happened") */
  binary: null,
  /** /bin/sh (dash) + a fork/exec of date: what a typical shell hook pays before its first line runs */
  "sh+date": `#!/bin/sh\ndate +%s%N >> "$OUT/$EVENTNAME"\n`,
  /** bash without a fork: $EPOCHREALTIME (µs) after bash's own start-up */
  "bash-epochrealtime": `#!/bin/bash\nt=\${EPOCHREALTIME/./}\necho "\${t}000" >> "$OUT/$EVENTNAME"\n`,
} as const;
export type StampKind = keyof typeof STAMP_SCRIPTS;

/**
 * A root-owned scripts dir with one stamping hook `10-stamp` in each of `events` (<event>.d), writing
 * to <base>/out/<event>. Returns the base and out dirs.
 */
export function stampTree(events: string[], kind: StampKind): { base: string; out: string } {
  const base = tempDir("netevd-bench-hooks-");
  const out = join(base, "out");
  mkdirSync(out, { mode: 0o1777 });
  chmodSync(out, 0o1777);
  for (const ev of events) {
    const d = join(base, `${ev}.d`);
    mkdirSync(d, { mode: 0o755 });
    const file = join(d, "10-stamp");
    const body = STAMP_SCRIPTS[kind];
    if (body === null) copyFileSync(hookstamp(), file);
    else writeFileSync(file, body.replaceAll("$OUT", out).replaceAll("$EVENTNAME", ev));
    chmodSync(file, 0o755);
  }
  return { base, out };
}

/**
 * Timestamps a stamping hook wrote to <out>/<event>, as CLOCK_MONOTONIC ns (shell hooks write
 * CLOCK_REALTIME: converted); a line being written is left for later.
 */
export function stamps(out: string, event: string, kind: StampKind = "binary"): bigint[] {
  const off = kind === "binary" ? 0n : realtimeOffsetNs();
  let text: string;
  try {
    text = readFileSync(join(out, event), "utf8");
  } catch {
    return [];
  }
  return text
    .slice(0, text.lastIndexOf("\n") + 1)
    .split("\n")
    .filter(Boolean)
    .map((l) => BigInt(l.trim()) - off);
}

/** Sum a counter over all threads of a process (/proc/<pid>/task/<tid>/status). */
export function threadStatusSum(pid: number, key: string): number {
  let sum = 0;
  for (const t of readdirSafe(`/proc/${pid}/task`)) {
    try {
      const m = new RegExp(`^${key}:\\s*(\\d+)`, "m").exec(readFileSync(`/proc/${pid}/task/${t}/status`, "utf8"));
      if (m) sum += Number(m[1]);
    } catch {
      /* thread gone */
    }
  }
  return sum;
}

export function statusKb(pid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s*(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

function readdirSafe(p: string): string[] {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
}

export const mb = (kb: number): number => Math.round(kb / 102.4) / 10;

/** Carrier transitions of lab0 as this process saw them, with their arrival time. */
export class CarrierWatch {
  readonly downs: bigint[] = [];
  readonly ups: bigint[] = [];
  private last: boolean | undefined;
  private readonly mon: RtnlMonitor;
  constructor() {
    this.mon = new RtnlMonitor({
      groups: [RTNLGRP_LINK],
      // the reference timestamps: never paused by flood coalescing (the daemon's socket may be)
      floodHoldMs: 0,
      onMessages: (msgs) => {
        const t = monoNs();
        for (const m of msgs) {
          if (m.kind !== "link" || m.op !== "new" || m.link.name !== lab.ifname) continue;
          if (m.link.carrier !== this.last) (m.link.carrier ? this.ups : this.downs).push(t);
          this.last = m.link.carrier;
        }
      },
      onOverflow: () => {
        throw new Error("bench monitor overflowed");
      },
    });
  }
  close(): void {
    this.mon.close();
  }
}

/**
 * Wait until ok() holds, re-checking when a file in dir changes (inotify) or every 50 ms: no busy
 * polling, so this process is idle when the kernel event it timestamps arrives.
 */
export function waitChange(dir: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = watch(dir);
    const check = () => {
      if (ok()) {
        done();
        resolve();
      }
    };
    const tick = setInterval(check, 50);
    const timer = setTimeout(() => {
      done();
      reject(new Error("timeout"));
    }, timeoutMs);
    const done = () => {
      clearInterval(tick);
      clearTimeout(timer);
      w.close();
    };
    w.on("change", check);
    check();
  });
}
