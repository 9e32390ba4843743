// Lab test plumbing. A lab test file calls labFile(import.meta.url, opts) at its top:
// outside a lab it registers one test that re-runs the same file inside a fresh lab (harness.sh:
// private pid/mount/net namespaces that die with the test, even on SIGKILL); inside the lab it
// returns true and the file defines its real tests, which then see lab0, the lab bus, etc.
import { spawn, execFile, execFileSync, type ChildProcess } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { basename, dirname, join, resolve } from "node:path";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { promisify } from "node:util";
import { createInterface } from "node:readline";

export interface LabOptions {
  backend?: "none" | "networkd" | "nm" | "dhclient";
  resolved?: boolean;
  polkit?: boolean;
  /** seconds to wait for the backend to configure lab0 */
  wait?: number;
  /** whole-lab timeout, ms */
  timeoutMs?: number;
}

const here = dirname(fileURLToPath(import.meta.url));
/** Repository root (this file compiles to dist/test/lab/lab.js). */
export const repoRoot = resolve(here, "../../..");
export const harness = resolve(repoRoot, "test/lab/harness.sh");

/**
 * bin/netevd runs dist/netevd.cjs, the bundle of dist/src (scripts/bundle.mjs). After a bare `tsc`
 * the bundle would be older than the code under test: rebuild it then (writes are atomic renames,
 * so test files loading this at once do not see half a file).
 */
function ensureBundle(): void {
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((m, e) => Math.max(m, e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs), 0);
  const bundles = ["dist/netevd.cjs", "dist/netevd-dbus.cjs", "dist/netevd-yaml.cjs"].map((f) => resolve(repoRoot, f));
  const built = Math.min(...bundles.map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0)));
  if (built < newest(resolve(repoRoot, "dist/src"))) execFileSync(process.execPath, [resolve(repoRoot, "scripts/bundle.mjs")], { stdio: "inherit" });
}
ensureBundle();
export const RESOLVED_ROOT = "/var/lib/netevd-lab/resolved";

export function labFile(metaUrl: string, opts: LabOptions = {}): boolean {
  if (process.env.NETEVD_IN_LAB === "1") return true;
  const file = fileURLToPath(metaUrl);
  const name = `lab: ${basename(file, ".test.js")}`;
  if (process.getuid?.() !== 0) {
    test(name, { skip: "lab tests need root (network namespaces, mounts)" }, () => {});
    return false;
  }
  test(name, { timeout: opts.timeoutMs ?? 300_000 }, async () => {
    const args = ["-b", opts.backend ?? "none", "-w", String(opts.wait ?? 30)];
    if (opts.resolved) args.push("-r");
    if (opts.polkit) args.push("-p");
    const env: NodeJS.ProcessEnv = { ...process.env, NETEVD_IN_LAB: "1" };
    // set by an outer `node --test`: the inner runner would take itself for a nested run and skip the file
    delete env.NODE_TEST_CONTEXT;
    if (opts.resolved) env.NETEVD_LAB_RESOLVED_ROOT = RESOLVED_ROOT;
    if (opts.polkit) env.NETEVD_LAB_POLKIT_RULES_DIR = resolve(repoRoot, "config");
    const child = spawn(harness, [...args, "--", process.execPath, "--test", "--test-reporter=spec", "--test-concurrency=1", file], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const code = await new Promise<number | null>((res) => child.on("exit", (c) => res(c)));
    // the inner run's per-test report, indented under this test
    process.stdout.write(out.replace(/^/gm, "    "));
    if (code !== 0) throw new Error(`lab run of ${basename(file)} failed (exit ${code}); see the report above`);
  });
  return false;
}

/** Names of the lab, valid inside it. */
export const lab = {
  get nsCli(): string {
    return must("NETEVD_LAB_NS_CLI");
  },
  get nsSrv(): string {
    return must("NETEVD_LAB_NS_SRV");
  },
  get dir(): string {
    return must("NETEVD_LAB_DIR");
  },
  ifname: "lab0",
  peer: "p-lab0",
};

function must(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: not running inside a lab`);
  return v;
}

const execFileP = promisify(execFile);

/** Run a command (argv, no shell) and return stdout; throws with stderr on failure. */
export async function sh(argv: string[], opts: { allowFail?: boolean } = {}): Promise<string> {
  const [cmd, ...args] = argv;
  try {
    const { stdout } = await execFileP(cmd!, args, { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    if (opts.allowFail) return "";
    const err = e as { stderr?: string; message: string };
    throw new Error(`${argv.join(" ")}: ${err.stderr?.trim() || err.message}`);
  }
}

/** Whether process `pid` no longer exists (kill(pid, 0) fails). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** The pid of the process that owns a name on the lab's system bus (the bus's GetConnectionUnixProcessID). */
export async function busNamePid(name: string): Promise<number> {
  const out = await sh([
    "busctl",
    "--system",
    "--json=short",
    "call",
    "org.freedesktop.DBus",
    "/org/freedesktop/DBus",
    "org.freedesktop.DBus",
    "GetConnectionUnixProcessID",
    "s",
    name,
  ]);
  return (JSON.parse(out) as { data: [number] }).data[0];
}

/** `ip` in the client netns (where the test runs) or the server netns. */
export const ip = (...args: string[]) => sh(["ip", ...args]);
export const ipSrv = (...args: string[]) => sh(["ip", "-n", lab.nsSrv, ...args]);

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll until fn returns a truthy value or the deadline passes. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 5000, everyMs = 20): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timeout after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export type LogRecord = Record<string, unknown> & { msg: string; level: string };

/**
 * A `netevd run` child with its JSON log lines collected. Lines are what the daemon reports
 * (facts, hook results); tests assert on their fields, never on free text.
 */
export class DaemonProcess {
  readonly records: LogRecord[] = [];
  readonly stderr: string[] = [];
  private waiters: Array<() => void> = [];
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        this.records.push(JSON.parse(line) as LogRecord);
      } catch {
        this.stderr.push(`(stdout, not JSON) ${line}`);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    createInterface({ input: child.stderr! }).on("line", (line) => this.stderr.push(line));
    this.exited = new Promise((res) =>
      child.on("exit", (c) => {
        res(c);
        for (const w of this.waiters.splice(0)) w();
      }),
    );
  }

  /** bin/netevd with args; `prefix` runs it through another program (e.g. setpriv, as systemd's User= would). */
  static start(args: string[], env: NodeJS.ProcessEnv = {}, prefix: string[] = []): DaemonProcess {
    const argv = [...prefix, resolve(repoRoot, "bin/netevd"), ...args];
    const child = spawn(argv[0]!, argv.slice(1), {
      env: { PATH: process.env.PATH, NETEVD_LOG_FORMAT: "json", DBUS_SYSTEM_BUS_ADDRESS: process.env.DBUS_SYSTEM_BUS_ADDRESS, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new DaemonProcess(child);
  }

  /** Wait for the first record (at or after index `from`) that matches. */
  async waitRecord(pred: (r: LogRecord) => boolean, timeoutMs = 5000, from = 0): Promise<LogRecord> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.records.slice(from).find(pred);
      if (found) return found;
      const left = end - Date.now();
      if (left <= 0 || this.child.exitCode !== null) {
        throw new Error(
          `no matching log record within ${timeoutMs} ms; daemon exit=${this.child.exitCode}\n` +
            `last records:\n${this.records
              .slice(-15)
              .map((r) => JSON.stringify(r))
              .join("\n")}\nstderr:\n${this.stderr.slice(-15).join("\n")}`,
        );
      }
      await new Promise<void>((res) => {
        const t = setTimeout(res, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }

  facts(from = 0): LogRecord[] {
    return this.records.slice(from).filter((r) => typeof r.fact === "string");
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/**
 * Where lab tests create files: in the lab, /run/netevd-lab/tmp (the lab's private /run tmpfs, gone
 * with the lab), whose directory chain is root-owned and not world-writable, as hook scripts need
 * (/tmp is world-writable: a script below it is refused). Outside a lab, the OS temp dir.
 */
function tempBase(): string {
  if (!process.env.NETEVD_LAB_DIR) return tmpdir(); // not inside a lab (harness.sh sets it)
  const base = "/run/netevd-lab/tmp";
  mkdirSync(base, { recursive: true, mode: 0o755 });
  chmodSync(base, 0o755);
  return base;
}

/** A world-readable temp dir (the daemon drops to the netevd user and must read what tests write). */
export function tempDir(prefix = "netevd-test-"): string {
  const dir = mkdtempSync(join(tempBase(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

export function writeConfig(yaml: string): string {
  const path = join(tempDir("netevd-cfg-"), "netevd.yaml");
  writeFileSync(path, yaml);
  return path;
}

/**
 * A scripts dir laid out like /etc/netevd: root-owned, 0755 dirs, 0755 scripts. Returns the base.
 * `out` is a sticky world-writable dir the scripts can write their observations to.
 */
export function hookTree(scripts: Record<string, Record<string, string>>): { base: string; out: string } {
  const base = tempDir("netevd-hooks-");
  const out = join(base, "out");
  mkdirSync(out, { mode: 0o1777 });
  chmodSync(out, 0o1777);
  for (const [dir, files] of Object.entries(scripts)) {
    const d = join(base, dir);
    mkdirSync(d, { mode: 0o755 });
    for (const [name, body] of Object.entries(files)) {
      writeFileSync(join(d, name), body.replaceAll("$OUT", out), { mode: 0o755 });
    }
  }
  return { base, out };
}

const two = (n: number) => String(n).padStart(2, "0");
/** dhclient's lease time format: `<weekday> YYYY/MM/DD HH:MM:SS` in UTC. */
export function dhcpTime(d: Date): string {
  return `${d.getUTCDay()} ${d.getUTCFullYear()}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

/** JSON lines a hook appended to `path`; a line still being written (no newline yet) is left for later. */
export function readJsonLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, "utf8");
  const complete = text.slice(0, text.lastIndexOf("\n") + 1);
  return complete
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}
