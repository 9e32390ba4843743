// A Debian 13 container booted by real systemd (`systemd-nspawn -b`), for the tests of the
// installed package under a service manager. The host has no systemd as PID 1, so the container is
// driven with nsenter into its PID 1's namespaces. Lab hygiene: nspawn runs as PID 1 of a private
// pid namespace (unshare --kill-child) under `setpriv --pdeathsig KILL`, so if the test process
// dies, even by SIGKILL, the whole container dies with it; its root is the cached debootstrap tree
// with a tmpfs overlay on top (--volatile=overlay): the cache is never written, and the container's
// network is its own (--private-network).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { repoRoot, sleep } from "./lab.js";

const run = promisify(execFile);

export interface CtResult { code: number; stdout: string; stderr: string }

/** The trixie root (built once by scripts/lab-rootfs.sh; the first build takes minutes). */
export async function labRootfs(): Promise<string> {
  const { stdout } = await run("bash", [resolve(repoRoot, "scripts/lab-rootfs.sh")], { timeout: 20 * 60_000, maxBuffer: 1 << 20 });
  return stdout.trim().split("\n").pop()!;
}

/** `npm run package` into a temporary directory; returns the .deb's path. */
export async function buildPackage(): Promise<{ dir: string; deb: string }> {
  const dir = mkdtempSync(join(tmpdir(), "netevd-release-"));
  await run("bash", [resolve(repoRoot, "scripts/package.sh")], { env: { ...process.env, NETEVD_RELEASE_DIR: dir, NETEVD_PACKAGE_KEEP_BUILD: "1" }, timeout: 10 * 60_000, maxBuffer: 1 << 22 });
  const deb = readdirSync(dir).find((f) => f.endsWith(".deb"));
  if (!deb) throw new Error(`no .deb in ${dir}`);
  return { dir, deb: join(dir, deb) };
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(e));
    } catch { /* gone */ }
  }
  return out;
}

const comm = (pid: number): string => { try { return readFileSync(`/proc/${pid}/comm`, "utf8").trim(); } catch { return ""; } };

export class Container {
  private leader = 0;
  private constructor(readonly child: ChildProcess, readonly log: string[], readonly binds: string, private readonly keepBinds: boolean) {}

  /** Boot the root with `binds` (a host directory) mounted read-only at /mnt/host; waits for systemd. */
  static async boot(rootfs: string, binds: string, opts: { keepBinds?: boolean; timeoutMs?: number } = {}): Promise<Container> {
    const timeoutMs = opts.timeoutMs ?? 180_000;
    const name = `netevd-lab-${process.pid}`;
    const child = spawn("setpriv", [
      "--pdeathsig", "KILL", "--",
      "unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private", "--",
      "systemd-nspawn", "-b", "-q", "-D", rootfs, "--volatile=overlay", "--private-network", "--register=no", "--keep-unit",
      "--console=passive", "-M", name, `--bind-ro=${binds}:/mnt/host`,
    ], {
      stdio: ["ignore", "pipe", "pipe"],
      // the container's systemd (257) supports only the unified cgroup hierarchy; on a host with the
      // hybrid one nspawn must be told to give it cgroup v2
      env: { ...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: "1" },
    });
    const log: string[] = [];
    child.stdout.on("data", (d: Buffer) => log.push(d.toString()));
    child.stderr.on("data", (d: Buffer) => log.push(d.toString()));
    const c = new Container(child, log, binds, opts.keepBinds ?? false);
    try {
      await c.waitBooted(timeoutMs);
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  private async waitBooted(timeoutMs: number): Promise<void> {
    const { child, log } = this;
    const t0 = Date.now();
    // setpriv execs unshare; unshare forks nspawn; nspawn forks the container's systemd
    while (!this.leader) {
      if (child.exitCode !== null) throw new Error(`systemd-nspawn exited ${child.exitCode}: ${log.join("")}`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`the container did not start: ${log.join("")}`);
      for (const nspawn of childrenOf(child.pid!)) {
        const init = childrenOf(nspawn).find((p) => comm(p) === "systemd");
        if (init) this.leader = init;
      }
      if (!this.leader) await sleep(100);
    }
    // "running" or "degraded" once booted; before its bus is up, systemctl cannot even ask
    let last = "";
    for (;;) {
      const r = await this.ct(["systemctl", "is-system-running"], 30_000);
      last = `${r.stdout}${r.stderr}`.trim();
      if (/^(running|degraded)/.test(r.stdout)) return;
      if (Date.now() - t0 > timeoutMs) throw new Error(`the container's systemd did not boot: ${last}`);
      await sleep(250);
    }
  }

  /** Run a command in the container (all its namespaces), with a clean environment. Never on the host. */
  async ct(argv: string[], timeoutMs = 60_000): Promise<CtResult> {
    if (!(this.leader > 1) || comm(this.leader) !== "systemd") throw new Error("container is not running");
    try {
      const { stdout, stderr } = await run("nsenter", ["-t", String(this.leader), "-a", "--",
        "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", ...argv], { timeout: timeoutMs, maxBuffer: 1 << 22 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number | string; stdout?: string; stderr?: string; killed?: boolean };
      if (typeof e.code !== "number") throw new Error(`${argv.join(" ")}: ${String(e.code)}${e.killed ? " (timed out)" : ""} ${e.stderr ?? ""}`);
      return { code: e.code, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  }

  /** Run and require exit 0. */
  async ok(argv: string[], timeoutMs?: number): Promise<string> {
    const r = await this.ct(argv, timeoutMs);
    if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  /** Power off (bounded), then make sure nothing is left. */
  async stop(): Promise<void> {
    const exited = new Promise<void>((res) => { if (this.child.exitCode !== null) res(); else this.child.once("exit", () => res()); });
    if (this.child.exitCode === null) this.child.kill("SIGKILL"); // --kill-child takes the container with it
    await Promise.race([exited, sleep(10_000)]);
    if (!this.keepBinds) rmSync(this.binds, { recursive: true, force: true });
  }
}

/** Poll `fn` until it returns a truthy value or `timeoutMs` passes (generous: 2 cores, shared). */
export async function eventually<T>(what: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<NonNullable<T>> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

export const haveNspawn = (): boolean => existsSync("/usr/bin/systemd-nspawn") && existsSync("/usr/sbin/debootstrap");
