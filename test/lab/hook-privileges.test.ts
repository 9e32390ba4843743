// Who runs what, checked on the real processes: `netevd run` started as root execs into the
// unprivileged daemon (no root process stays, except the hook runner when hooks.user is root);
// default hooks get NoNewPrivs, no capabilities and fds 0-2 only; root hooks really are root;
// descendants of a hook die with it, at the timeout and when the daemon stops or dies.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DaemonProcess, hookTree, ip, ipSrv, lab, labFile, repoRoot, sleep, tempDir, waitFor, writeConfig } from "./lab.js";

const netevdUid = (): number => Number(readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("netevd:"))!.split(":")[2]);

async function lab0Up(): Promise<void> {
  await ip("link", "set", lab.ifname, "up");
  await ipSrv("link", "set", lab.peer, "up");
  await waitFor("lab0 carrier", async () => (await ip("-o", "link", "show", lab.ifname)).includes("LOWER_UP"), 5000);
}

interface Proc { pid: number; uid: number; cmdline: string[]; status: string }

/** Live processes whose command line contains `needle`. */
function procsWith(needle: string): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8");
      if (!cmd.includes(needle)) continue;
      const status = readFileSync(`/proc/${d}/status`, "utf8");
      if (/^State:\s+Z/m.test(status)) continue;
      out.push({ pid: Number(d), uid: Number(/^Uid:\s+(\d+)/m.exec(status)![1]), cmdline: cmd.split("\0").filter(Boolean), status });
    } catch { /* raced with exit */ }
  }
  return out;
}

const field = (status: string, name: string): string => new RegExp(`^${name}:\\s*(\\S+)`, "m").exec(status)?.[1] ?? "";

const startDaemon = (base: string, extra = "", env: NodeJS.ProcessEnv = {}) => {
  const cfg = writeConfig(`system:\n  backend: none\n  scripts_dir: ${base}\napi:\n  enabled: false\nmonitoring:\n  interfaces: [${lab.ifname}]\n${extra}`);
  return { cfg, d: DaemonProcess.start(["run", "-c", cfg], env) };
};

if (labFile(import.meta.url)) {
  test.beforeEach(lab0Up);

  test("default hooks: NoNewPrivs, no capabilities, fds 0-2 only, $0 real, no arguments, a setuid-root binary gives nothing; the env cannot skip the drop", async () => {
    const bins = tempDir("suid-");
    copyFileSync("/usr/bin/id", join(bins, "id"));
    chmodSync(join(bins, "id"), 0o4755);
    copyFileSync("/usr/bin/cat", join(bins, "cat"));
    chmodSync(join(bins, "cat"), 0o4755);
    const { base, out } = hookTree({
      "carrier.d": {
        "lib.sh": "", // not executable: skipped, but sourced by 10-probe
        // exec: ls replaces the shell (whose own script fd is close-on-exec); ls adds one fd, its directory
        "05-fds": "#!/bin/sh\nexec ls -l /proc/self/fd > $OUT/fds\n",
        "10-probe": `#!/bin/sh
. "$(dirname "$0")/lib.sh"
echo "$0" > $OUT/argv0
echo "$#" > $OUT/argc
echo "$LIB_LOADED" > $OUT/lib
grep -E '^(NoNewPrivs|CapInh|CapPrm|CapEff|CapAmb):' /proc/$$/status > $OUT/status
${bins}/id -u > $OUT/suid-euid
${bins}/cat /proc/self/status | grep -E '^(Uid|CapEff|CapPrm):' > $OUT/suid-status
touch $OUT/done
`,
      },
    });
    writeFileSync(join(base, "carrier.d", "lib.sh"), "LIB_LOADED=yes\n");
    chmodSync(join(base, "carrier.d", "lib.sh"), 0o644);
    // started with two extra inherited fds (3, 4) and NETEVD_PRIVILEGES_DROPPED=1 in its environment
    const cfg = writeConfig(`system:\n  backend: none\n  scripts_dir: ${base}\napi:\n  enabled: false\nmonitoring:\n  interfaces: [${lab.ifname}]\n`);
    const d = new DaemonProcess(spawn(join(repoRoot, "bin/netevd"), ["run", "-c", cfg], {
      env: { PATH: process.env.PATH, NETEVD_LOG_FORMAT: "json", NETEVD_PRIVILEGES_DROPPED: "1" },
      stdio: ["ignore", "pipe", "pipe", "pipe", "pipe"],
    }));
    try {
      await waitFor("hook ran", () => existsSync(join(out, "done")), 8000);
      const script = join(base, "carrier.d", "10-probe");
      assert.equal(readFileSync(join(out, "argv0"), "utf8").trim(), script);
      assert.equal(readFileSync(join(out, "argc"), "utf8").trim(), "0");
      assert.equal(readFileSync(join(out, "lib"), "utf8").trim(), "yes", "sourcing $(dirname $0)/lib.sh works");
      const st = readFileSync(join(out, "status"), "utf8");
      assert.equal(field(st, "NoNewPrivs"), "1");
      for (const set of ["CapInh", "CapPrm", "CapEff", "CapAmb"]) assert.equal(field(st, set), "0000000000000000", set);
      const fds = readFileSync(join(out, "fds"), "utf8").split("\n").map((l) => /(\d+) -> (.*)$/.exec(l)).filter((m) => m !== null);
      const extra = fds.filter((m) => !["0", "1", "2"].includes(m[1]!));
      assert.equal(extra.length, 1, JSON.stringify(fds.map((m) => m[0])));
      assert.match(extra[0]![2]!, /^\/proc\/\d+\/fd$/, "the only other fd is ls's own directory handle");
      assert.notEqual(readFileSync(join(out, "suid-euid"), "utf8").trim(), "0", "setuid-root id: euid is not 0");
      assert.equal(Number(readFileSync(join(out, "suid-euid"), "utf8").trim()), netevdUid());
      const suid = readFileSync(join(out, "suid-status"), "utf8");
      assert.equal(field(suid, "CapEff"), "0000000000000000");
      assert.equal(field(suid, "CapPrm"), "0000000000000000");
      // NETEVD_PRIVILEGES_DROPPED=1 changed nothing: every process of this daemon runs as netevd
      const procs = procsWith(cfg);
      assert.ok(procs.length >= 1, "the daemon is found");
      for (const p of procs) assert.equal(p.uid, netevdUid(), `${p.cmdline.join(" ")} runs as netevd`);
      assert.equal(field(procs[0]!.status, "CapEff"), "0000000000001000");
      assert.equal(procs[0]!.pid, d.child.pid, "started as root, the process became the daemon (exec, no root parent)");
    } finally {
      await d.stop();
    }
  });

  test("hooks.user: root: the hook adds and flushes a route as root; the daemon is netevd with CAP_NET_ADMIN only; the only root process is the runner", async () => {
    const { base, out } = hookTree({
      "carrier.d": {
        "10-route": `#!/bin/sh
id -u > $OUT/uid
ip route add 10.98.0.0/24 dev ${lab.ifname} proto static 2> $OUT/add.err && echo added > $OUT/added
ip route show 10.98.0.0/24 > $OUT/seen
ip route flush 10.98.0.0/24 && echo flushed > $OUT/flushed
touch $OUT/done
`,
      },
    });
    const { cfg, d } = startDaemon(base, "hooks:\n  user: root\n");
    try {
      await waitFor("root hook ran", () => existsSync(join(out, "done")), 8000);
      assert.equal(readFileSync(join(out, "uid"), "utf8").trim(), "0");
      assert.equal(readFileSync(join(out, "added"), "utf8").trim(), "added", readFileSync(join(out, "add.err"), "utf8"));
      assert.match(readFileSync(join(out, "seen"), "utf8"), /^10\.98\.0\.0\/24 dev lab0/);
      assert.equal(readFileSync(join(out, "flushed"), "utf8").trim(), "flushed");
      assert.equal((await ip("route", "show", "10.98.0.0/24")).trim(), "", "flushed");
      const procs = procsWith(cfg);
      const daemon = procs.find((p) => p.pid === d.child.pid);
      assert.ok(daemon, "the daemon is the process that was started (exec)");
      assert.equal(daemon.uid, netevdUid());
      assert.equal(field(daemon.status, "CapEff"), "0000000000001000");
      const root = procs.filter((p) => p.uid === 0);
      assert.equal(root.length, 1, JSON.stringify(procs.map((p) => [p.uid, p.cmdline.join(" ")])));
      assert.ok(root[0]!.cmdline.includes("hook-runner"), "the one root process is the hook runner");
      // the runner ends with the daemon
      await d.stop();
      await waitFor("runner gone", () => procsWith(cfg).length === 0, 5000);
    } finally {
      await d.stop();
    }
  });

  test("hooks.user: root with admin and vendor directories: the runner runs the merged scripts (the admin copy wins)", async () => {
    const admin = hookTree({ "carrier.d": { "10-both": "#!/bin/sh\necho admin >> $OUT/ran\n" } });
    const vendor = hookTree({ "carrier.d": { "10-both": "#!/bin/sh\necho vendor >> $OUT/ran\n", "20-vendor": "#!/bin/sh\nid -u > $OUT/vendor-uid.tmp && mv $OUT/vendor-uid.tmp $OUT/vendor-uid\n" } });
    const cfg = writeConfig(`system:\n  backend: none\n  scripts_dirs: [${admin.base}, ${vendor.base}]\napi:\n  enabled: false\n` +
      `monitoring:\n  interfaces: [${lab.ifname}]\nhooks:\n  user: root\n`);
    const d = DaemonProcess.start(["run", "-c", cfg]);
    try {
      await waitFor("vendor hook ran", () => existsSync(join(vendor.out, "vendor-uid")), 8000);
      assert.equal(readFileSync(join(vendor.out, "vendor-uid"), "utf8").trim(), "0");
      assert.equal(readFileSync(join(admin.out, "ran"), "utf8"), "admin\n");
      assert.equal(existsSync(join(vendor.out, "ran")), false, "the vendor copy of 10-both is overridden");
    } finally {
      await d.stop();
    }
  });

  test("a root hook outside a root-owned chain is refused by discovery (daemon-user-owned scripts do not run as root)", async () => {
    const { base, out } = hookTree({ "carrier.d": { "10-mine": `#!/bin/sh\ntouch $OUT/ran\n` } });
    const { chownSync } = await import("node:fs");
    chownSync(join(base, "carrier.d", "10-mine"), netevdUid(), netevdUid());
    const { d } = startDaemon(base, "hooks:\n  user: root\n");
    try {
      const skip = await d.waitRecord((r) => r.msg === "hook skipped" && r.script === "10-mine", 8000);
      assert.match(String(skip.reason), /owned by uid/);
      await sleep(300);
      assert.equal(existsSync(join(out, "ran")), false);
    } finally {
      await d.stop();
    }
  });

  test("under systemd (socket activation): the runner serves only the daemon's user; the daemon started as netevd runs root hooks through it", async () => {
    const { base, out } = hookTree({ "carrier.d": { "10-root": "#!/bin/sh\nid -u > $OUT/uid.tmp && mv $OUT/uid.tmp $OUT/uid\n" } });
    const cfg = writeConfig(`system:\n  backend: none\n  scripts_dir: ${base}\napi:\n  enabled: false\nmonitoring:\n  interfaces: [${lab.ifname}]\nhooks:\n  user: root\n`);
    const sock = "/run/netevd-hook-runner.sock";
    const env = { PATH: process.env.PATH, NETEVD_LOG_FORMAT: "json" };
    // what netevd-hook-runner.socket + .service do: root runner on a socket only netevd may use
    const runner = new DaemonProcess(spawn("systemd-socket-activate", ["-l", sock, "--", join(repoRoot, "bin/netevd"), "hook-runner", "-c", cfg],
      { env, stdio: ["ignore", "pipe", "pipe"] }));
    let daemon: DaemonProcess | undefined;
    let runner2: DaemonProcess | undefined;
    try {
      await waitFor("runner socket", () => existsSync(sock), 5000);
      const { chownSync } = await import("node:fs");
      chownSync(sock, netevdUid(), netevdUid());
      chmodSync(sock, 0o600);
      // what netevd.service does: start directly as netevd with CAP_NET_ADMIN only
      daemon = new DaemonProcess(spawn("setpriv", [`--reuid=${netevdUid()}`, `--regid=${netevdUid()}`, "--init-groups",
        "--inh-caps=-all,+net_admin", "--ambient-caps=-all,+net_admin", "--bounding-set=-all,+net_admin", "--no-new-privs", "--",
        join(repoRoot, "bin/netevd"), "run", "-c", cfg], { env, stdio: ["ignore", "pipe", "pipe"] }));
      await waitFor("root hook ran", () => existsSync(join(out, "uid")), 10000);
      assert.equal(readFileSync(join(out, "uid"), "utf8").trim(), "0");
      await runner.waitRecord((r) => r.msg === "hook runner ready" && r.mode === "socket");
      // anyone else is refused on SO_PEERCRED, even when the socket's mode lets them connect
      chmodSync(sock, 0o666);
      const { rmSync } = await import("node:fs");
      rmSync(join(out, "uid"));
      const envOk = JSON.stringify({ PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LINK: lab.ifname, STATE: "carrier", EVENT: "carrier" });
      const req = `{"id":1,"event":"carrier","script":"10-root","eventId":"x-1","link":"${lab.ifname}","env":${envOk},"timeoutSec":5}\n`;
      const stranger = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", process.execPath, "-e",
        `const s=require("net").connect(${JSON.stringify(sock)});s.on("connect",()=>s.write(${JSON.stringify(req)}));s.on("close",()=>process.exit(0));s.on("error",(e)=>{if(e.code==="ECONNRESET"||e.code==="EPIPE")process.exit(0);console.error(e.code);process.exit(3)});setTimeout(()=>process.exit(2),3000)`],
      { encoding: "utf8" });
      assert.equal(stranger.status, 0, `the runner closes the stranger's connection (${stranger.stderr})`);
      const refused = await runner.waitRecord((r) => r.msg === "hook runner: connection refused");
      assert.equal(refused.peerUid, 65534);
      await sleep(300);
      assert.equal(existsSync(join(out, "uid")), false, "nothing ran for the stranger");

      // the runner restarts (systemctl restart netevd-hook-runner): the next run connects again
      await runner.stop();
      rmSync(sock, { force: true });
      runner2 = new DaemonProcess(spawn("systemd-socket-activate", ["-l", sock, "--", join(repoRoot, "bin/netevd"), "hook-runner", "-c", cfg],
        { env, stdio: ["ignore", "pipe", "pipe"] }));
      await waitFor("runner socket again", () => existsSync(sock), 5000);
      chownSync(sock, netevdUid(), netevdUid());
      chmodSync(sock, 0o600);
      await ipSrv("link", "set", lab.peer, "down");
      await sleep(200);
      await ipSrv("link", "set", lab.peer, "up");
      await waitFor("root hook ran through the restarted runner", () => existsSync(join(out, "uid")), 10000);
      assert.equal(readFileSync(join(out, "uid"), "utf8").trim(), "0");
      await daemon.waitRecord((r) => r.msg === "hook runner connected again");
    } finally {
      await daemon?.stop();
      await runner.stop();
      await runner2?.stop();
    }
  });

  test("system.user: root exits 1 pointing to hooks.user", () => {
    const cfg = writeConfig("system:\n  user: root\n  backend: none\n");
    const r = spawnSync(join(repoRoot, "bin/netevd"), ["run", "-c", cfg], { encoding: "utf8" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /hooks\.user: root/);
    assert.match(r.stderr, /never runs as root/);
  });

  for (const how of ["SIGTERM", "SIGKILL"] as const) {
    test(`a hook's setsid grandchild is gone after the daemon stops (${how})`, async () => {
      const { base, out } = hookTree({
        "carrier.d": {
          "10-escape": `#!/bin/sh
setsid sh -c 'trap "" TERM; sleep 1201' </dev/null >/dev/null 2>&1 &
touch $OUT/started
trap '' TERM
sleep 1202
`,
        },
      });
      const { d } = startDaemon(base, "hooks:\n  timeout_sec: 60\n");
      try {
        await waitFor("hook started", () => existsSync(join(out, "started")), 8000);
        await waitFor("grandchild running", () => procsWith("sleep\u00001201").length === 1, 3000);
        const t0 = Date.now();
        if (how === "SIGTERM") {
          await d.stop("SIGTERM");
        } else {
          await d.stop("SIGKILL");
        }
        await waitFor("no process left", () => procsWith("sleep\u00001201").length === 0 && procsWith("sleep\u00001202").length === 0, 5000);
        assert.ok(Date.now() - t0 < 5000);
      } finally {
        await d.stop();
      }
    });
  }

  test("a hook's setsid grandchild is gone after the timeout", async () => {
    const { base, out } = hookTree({
      "carrier.d": {
        "10-escape": `#!/bin/sh
setsid sh -c 'trap "" TERM; sleep 1203' </dev/null >/dev/null 2>&1 &
touch $OUT/started
exec sleep 1204
`,
      },
    });
    const { d } = startDaemon(base, "hooks:\n  timeout_sec: 1\n");
    try {
      await waitFor("hook started", () => existsSync(join(out, "started")), 8000);
      const rec = await d.waitRecord((r) => r.msg === "hook timed out", 8000);
      assert.equal(rec.script, "10-escape");
      await waitFor("no process left", () => procsWith("sleep\u00001203").length === 0 && procsWith("sleep\u00001204").length === 0, 4000);
    } finally {
      await d.stop();
    }
  });

  test("bin/netevd run from a 0700 directory fails with one line naming the unreadable path", () => {
    const secret = join(tempDir("private-"), "root-home");
    mkdirSync(secret, { mode: 0o700 });
    chmodSync(secret, 0o700);
    const clone = join(secret, "netevd");
    mkdirSync(clone);
    // the checkout, seen under a 0700 directory (private mount namespace: gone with the lab)
    assert.equal(spawnSync("mount", ["--bind", repoRoot, clone]).status, 0);
    try {
      const cfg = writeConfig("system:\n  backend: none\napi:\n  enabled: false\n");
      const r = spawnSync(join(clone, "bin/netevd"), ["run", "-c", cfg], { encoding: "utf8", timeout: 20000 });
      assert.equal(r.status, 1, r.stderr);
      const lines = r.stderr.split("\n").filter(Boolean);
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, new RegExp(`cannot read ${secret}\\b`));
      assert.match(lines[0]!, /chmod o\+rx|\/usr\/lib\/netevd/);
    } finally {
      spawnSync("umount", [clone]);
    }
  });

  test("netevd test runs the script as a hook would: argv [real path], as netevd, NoNewPrivs", () => {
    const { base, out } = hookTree({ "carrier.d": { "10-t": `#!/bin/sh\necho "argv0=$0 argc=$# uid=$(id -u) link=$LINK"\ngrep NoNewPrivs /proc/$$/status\n` } });
    const cfg = writeConfig(`system:\n  backend: none\n  scripts_dir: ${base}\n`);
    const script = join(base, "carrier.d", "10-t");
    const r = spawnSync(join(repoRoot, "bin/netevd"), ["test", script, "--link", lab.ifname, "--event", "carrier", "-c", cfg], { encoding: "utf8", timeout: 20000 });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`stdout: argv0=${script} argc=0 uid=${netevdUid()} link=${lab.ifname}`));
    assert.match(r.stdout, /stdout: NoNewPrivs:\s+1/);
    void out;
  });
}
