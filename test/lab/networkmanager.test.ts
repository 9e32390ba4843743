// The NetworkManager backend against the real NetworkManager (DHCP from the lab's dnsmasq).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { splitEventId } from "../../src/api/query.js";

/** an event's sequence number within the daemon run */
const seq = (id: string): number => splitEventId(id)?.[1] ?? NaN;
import type { NetevdEvent } from "../../src/events/types.js";
import { busNamePid, DaemonProcess, readJsonLines, hookTree, ip, ipSrv, lab, labFile, processGone, sh, sleep, waitFor, writeConfig } from "./lab.js";

const NM_DIRS = ["unmanaged", "unavailable", "disconnected", "prepare", "config", "need-auth", "ip-config", "ip-check", "secondaries", "activated", "deactivating", "failed"];
const DIRS = [...NM_DIRS, "carrier", "no-carrier", "manager"].map((d) => `${d}.d`);
const VARS = [
  "LINK",
  "STATE",
  "BACKEND",
  "ADDRESSES",
  "EVENT",
  "NETEVD_REPLAY",
  "DEVICE_IFACE",
  "NM_STATE",
  "NM_STATE_NAME",
  "NM_OLD_STATE",
  "NM_OLD_STATE_NAME",
  "NM_REASON",
  "NM_REASON_NAME",
];

// One JSON line per run, written with a single printf (runs of different dirs are concurrent):
// the dir, argv, the variables, when, and the contract event itself.
const recorder = (dir: string) => `#!/bin/sh
line=$(printf '{"dir":"%s","argv1":"%s","argv2":"%s","t":"%s"' "${dir}" "$1" "$2" "$(date +%s%N)")
for v in ${VARS.join(" ")}; do
  eval "val=\\\${$v-__unset__}"; line="$line$(printf ',"%s":"%s"' "$v" "$val")"; done
printf '%s,"ev":%s}\\n' "$line" "$NETEVD_EVENT" >> $OUT/runs.jsonl
`;

interface Run {
  dir: string;
  argv1: string;
  argv2: string;
  t: string;
  ev: NetevdEvent;
  [k: string]: string | NetevdEvent;
}
/** Runs in the order the daemon emitted their events. */
const runs = (out: string): Run[] => readJsonLines<Run>(join(out, "runs.jsonl")).sort((a, b) => seq(a.ev.id) - seq(b.ev.id));
const nmDirs = (rs: Run[]) => rs.filter((r) => r.ev.source === "NetworkManager" && r.dir !== "manager.d").map((r) => r.dir.replace(".d", ""));
const ms = (r: Run) => Number(BigInt(r.t) / 1_000_000n);

const tree = () => hookTree(Object.fromEntries(DIRS.map((d) => [d, { "50-rec": recorder(d) }])));

/** The daemon with the NetworkManager backend; `interfaces` is monitoring.interfaces ([] = all). */
const start = (base: string, extra = "", interfaces = [lab.ifname]) =>
  DaemonProcess.start(["run", "-c", writeConfig(`system:\n  backend: NetworkManager\n  scripts_dir: ${base}\nmonitoring:\n  interfaces: [${interfaces.join(", ")}]\n${extra}`)]);
const NO_REPLAY = "hooks:\n  replay_on_start: false\n";

/** Wait until no new run appears for quietMs. */
async function settle(out: string, quietMs = 1000): Promise<Run[]> {
  let n = -1;
  while (runs(out).length !== n) {
    n = runs(out).length;
    await sleep(quietMs);
  }
  return runs(out);
}

const nmcli = (...args: string[]) => sh(["nmcli", ...args]);
const lab0State = async () => (await nmcli("-g", "GENERAL.STATE", "device", "show", lab.ifname)).trim();
const lab0Activated = () => waitFor("NetworkManager activated lab0", async () => (await lab0State()).startsWith("100"), 30_000, 200);
const hasLease = async () => (await ip("-4", "-o", "addr", "show", "dev", lab.ifname)).includes("10.77.0.50");

/** NetworkManager's pid, from the bus (the lab has its own pid namespace, so it is the lab's NM). */
async function nmPid(): Promise<number> {
  const pid = await busNamePid("org.freedesktop.NetworkManager");
  assert.ok(pid > 1, `NetworkManager pid: ${pid}`);
  return pid;
}

async function stopNm(): Promise<void> {
  const pid = await nmPid();
  process.kill(pid, "SIGTERM");
  await waitFor("NetworkManager gone", () => processGone(pid), 10_000, 50);
}

/** Start NetworkManager again the way harness.sh does (this process already is in the lab's namespaces). */
function startNm(): void {
  const log = openSync(join(lab.dir, "logs", "nm-restarted.log"), "a");
  const nm = spawn("NetworkManager", ["--debug"], { stdio: ["ignore", log, log], detached: true });
  nm.unref();
}

if (labFile(import.meta.url, { backend: "nm" })) {
  test("replay at start: activated.d once with NM's state, the lease address, and NM's gateway and DNS", async () => {
    const { base, out } = tree();
    const d = start(base, "", []); // all interfaces: NM 1.42 has lo activated (externally), and it is not replayed
    try {
      await d.waitRecord((r) => r.msg === "ready");
      await waitFor("activated.d", () => runs(out).some((r) => r.dir === "activated.d"), 5000);
      const r = await settle(out, 800);
      assert.deepEqual(nmDirs(r), ["activated"], "only lab0's current state is replayed (lo and unmanaged devices are not)");
      const a = r.find((x) => x.dir === "activated.d")!;
      assert.equal(a.NETEVD_REPLAY, "1");
      assert.equal(a.argv1, "", "argv is [path]: no $1");
      assert.equal(a.STATE, "activated");
      assert.equal(a.BACKEND, "NetworkManager");
      assert.equal(a.DEVICE_IFACE, lab.ifname);
      assert.equal(a.NM_STATE, "100");
      assert.equal(a.NM_STATE_NAME, "activated");
      assert.match(a.ADDRESSES as string, /(^| )10\.77\.0\.50( |$)/);
      assert.equal(a.ev.gateway, "10.77.0.1");
      assert.deepEqual(a.ev.dns, ["10.77.0.1"]);
      assert.ok(a.ev.addresses.includes("10.77.0.50/24"), `${a.ev.addresses}`);
      // carrier.d comes from the kernel source, BACKEND is still the running backend's name
      const carrier = r.filter((x) => x.dir === "carrier.d");
      assert.equal(carrier.length, 1);
      assert.equal(carrier[0]!.BACKEND, "NetworkManager");
      assert.equal(carrier[0]!.ev.source, "kernel");
    } finally {
      await d.stop();
    }
  });

  test("nmcli disconnect: deactivating.d then disconnected.d (reason 39 user-requested); connect: prepare.d … activated.d; manager.d follows", async () => {
    const { base, out } = tree();
    const d = start(base, NO_REPLAY);
    try {
      await d.waitRecord((r) => r.msg === "NetworkManager attached");
      await d.waitRecord((r) => r.msg === "ready");
      await nmcli("device", "disconnect", lab.ifname);
      await waitFor("disconnected.d", () => runs(out).some((r) => r.dir === "disconnected.d"), 10_000);
      const down = await settle(out);
      assert.deepEqual(nmDirs(down), ["deactivating", "disconnected"]);
      const deact = down.find((x) => x.dir === "deactivating.d")!;
      const disc = down.find((x) => x.dir === "disconnected.d")!;
      for (const [x, state, old] of [
        [deact, "110", "100"],
        [disc, "30", "110"],
      ] as const) {
        assert.equal(x.BACKEND, "NetworkManager");
        assert.equal(x.LINK, lab.ifname);
        assert.equal(x.DEVICE_IFACE, lab.ifname);
        assert.equal(x.NM_STATE, state);
        assert.equal(x.NM_OLD_STATE, old);
        assert.equal(x.NM_REASON, "39");
        assert.equal(x.NM_REASON_NAME, "user-requested");
        assert.equal(x.NETEVD_REPLAY, "__unset__");
      }
      assert.equal(disc.NM_STATE_NAME, "disconnected");
      assert.equal(disc.NM_OLD_STATE_NAME, "deactivating");
      assert.deepEqual(disc.ev.dns, [], "no DNS from NetworkManager once disconnected");

      const before = runs(out).length;
      await nmcli("device", "connect", lab.ifname);
      await waitFor(
        "activated.d",
        () =>
          runs(out)
            .slice(before)
            .some((r) => r.dir === "activated.d"),
        15_000,
      );
      const all = await settle(out);
      const up = all.filter((x) => seq(x.ev.id) > seq(disc.ev.id));
      assert.deepEqual(nmDirs(up), ["prepare", "config", "ip-config", "ip-check", "secondaries", "activated"]);
      const a = up.find((x) => x.dir === "activated.d")!;
      assert.equal(a.NM_STATE, "100");
      assert.equal(a.NM_OLD_STATE, "90");
      assert.equal(a.NM_REASON, "0");
      assert.equal(a.NM_REASON_NAME, "none");
      assert.match(a.ADDRESSES as string, /(^| )10\.77\.0\.50( |$)/);
      assert.equal(a.ev.gateway, "10.77.0.1");
      assert.deepEqual(a.ev.dns, ["10.77.0.1"]);
      assert.equal(a.ev.state.NMDeviceStateName, "activated");
      assert.ok(a.ev.changed.includes("NMDeviceState"), `${a.ev.changed}`);

      // manager.d: every run names a manager state; the latest is where NM ended up
      const mgr = all.filter((x) => x.dir === "manager.d");
      assert.ok(mgr.length >= 2, `manager.d ran on the way down and up: ${mgr.map((x) => x.STATE)}`);
      for (const x of mgr) {
        assert.equal(x.BACKEND, "NetworkManager");
        assert.equal(x.LINK, "__unset__");
        assert.ok(["disconnecting", "disconnected", "connecting", "connected_local", "connected_site", "connected_global"].includes(x.STATE as string), `${x.STATE}`);
        assert.match(x.NM_STATE as string, /^[0-9]+$/);
        assert.equal(x.NM_STATE_NAME, x.STATE);
      }
      const last = mgr.at(-1)!;
      assert.equal(last.STATE, "connected_global");
      assert.equal(last.NM_STATE, "70");
    } finally {
      await d.stop();
    }
  });

  test("carrier loss from the peer: no-carrier.d from the kernel at once, NM's own unavailable.d seconds later", async () => {
    const { base, out } = tree();
    const d = start(base, NO_REPLAY);
    try {
      await d.waitRecord((r) => r.msg === "ready");
      await ipSrv("link", "set", lab.peer, "down");
      const cut = Date.now();
      await waitFor("no-carrier.d", () => runs(out).some((r) => r.dir === "no-carrier.d"), 5000);
      await waitFor("unavailable.d", () => runs(out).some((r) => r.dir === "unavailable.d"), 20_000, 100);
      const r = await settle(out);
      const nc = r.filter((x) => x.dir === "no-carrier.d");
      assert.equal(nc.length, 1);
      assert.equal(nc[0]!.BACKEND, "NetworkManager");
      assert.equal(nc[0]!.ev.source, "kernel");
      // NetworkManager's last known state of the device rides along (it has not noticed yet)
      assert.equal(nc[0]!.NM_STATE, "100");
      assert.equal(nc[0]!.DEVICE_IFACE, lab.ifname);
      assert.ok(ms(nc[0]!) - cut < 2000, `no-carrier.d ran ${ms(nc[0]!) - cut} ms after the cut`);
      const un = r.find((x) => x.dir === "unavailable.d")!;
      assert.equal(un.BACKEND, "NetworkManager");
      assert.equal(un.NM_STATE, "20");
      assert.equal(un.NM_OLD_STATE, "100");
      assert.equal(un.NM_REASON, "40");
      assert.equal(un.NM_REASON_NAME, "carrier");
      const lag = ms(un) - ms(nc[0]!);
      assert.ok(lag > 2000, `NM reports carrier loss after its carrier defer, not at once: ${lag} ms`);
      console.log(`# no-carrier.d ${ms(nc[0]!) - cut} ms after the cut; unavailable.d ${lag} ms after no-carrier.d`);
    } finally {
      // carrier back: NM activates lab0 again; stop the daemon once that has settled
      await ipSrv("link", "set", lab.peer, "up");
      await lab0Activated();
      await settle(out, 500);
      await d.stop();
    }
  });

  test("devices NetworkManager learns about at runtime are followed under their own ifindex, also when a name comes back", async () => {
    const { base, out } = tree();
    const name = "nvtest0";
    const d = start(base, NO_REPLAY, [lab.ifname, name]);
    const indexOf = async () => Number(JSON.parse(await ip("-j", "link", "show", name))[0].ifindex);
    const nmLog = () =>
      readFileSync(join(lab.dir, "logs", "nm.log"), "utf8")
        .split("\n")
        .filter((l) => l.includes(`(${name})`) && l.includes("state change"))
        .join("\n");
    /** NM events for the device since `from`, once NM's own state for it is the last one's */
    const eventsUntilSettled = async (from: number) => {
      await waitFor(
        `NM events for ${name} up to NetworkManager's current state`,
        async () => {
          const r = runs(out)
            .slice(from)
            .filter((x) => x.LINK === name && x.ev.source === "NetworkManager");
          const st = (await nmcli("-g", "GENERAL.STATE", "device", "show", name).catch(() => "")).trim().split(" ")[0];
          return r.length > 0 && r.at(-1)!.NM_STATE === st;
        },
        10_000,
        100,
      ).catch((err: Error) => {
        throw new Error(
          `${err.message}\nevents: ${runs(out)
            .slice(from)
            .filter((x) => x.LINK === name)
            .map((x) => x.dir)}\nNM:\n${nmLog()}`,
        );
      });
      return runs(out)
        .slice(from)
        .filter((x) => x.LINK === name && x.ev.source === "NetworkManager");
    };
    try {
      await d.waitRecord((r) => r.msg === "ready");
      await ip("link", "add", name, "type", "veth", "peer", "name", "nvtest1");
      const first = await indexOf();
      for (const x of await eventsUntilSettled(0)) {
        assert.equal(x.DEVICE_IFACE, name);
        assert.equal(x.ev.index, first);
        assert.ok(NM_DIRS.includes(x.STATE as string), `${x.STATE}`);
      }
      // gone: NM reports it unmanaged (it is being removed), then removes the device
      let from = runs(out).length;
      await ip("link", "del", name);
      await waitFor(
        "unmanaged.d as the device goes",
        () =>
          runs(out)
            .slice(from)
            .some((x) => x.LINK === name && x.dir === "unmanaged.d"),
        10_000,
      ).catch((err: Error) => {
        const seen = d.records
          .filter((r) => r.link === name || r.index === first)
          .map((r) => `${r.msg} ${r.fact ?? r.event ?? ""} ${JSON.stringify(r.changes ?? r.changed ?? "")}`);
        throw new Error(
          `${err.message}\nhooks run: ${runs(out)
            .slice(from)
            .map((x) => x.dir)}\ndaemon records:\n${seen.slice(-20).join("\n")}\nNM:\n${nmLog()}`,
        );
      });
      // the same name again is another link: its events carry the new ifindex
      await sleep(300);
      from = runs(out).length;
      await ip("link", "add", name, "type", "veth", "peer", "name", "nvtest1");
      const second = await indexOf();
      assert.notEqual(second, first);
      const again = await eventsUntilSettled(from);
      for (const x of again) assert.equal(x.ev.index, second, `${x.dir} of the new ${name}`);
    } finally {
      await ip("link", "del", name).catch(() => "");
      await d.stop();
    }
  });

  test("NetworkManager killed and restarted mid-run: netevd reattaches by itself and the next transition fires", async () => {
    const { base, out } = tree();
    const d = start(base, NO_REPLAY);
    try {
      await d.waitRecord((r) => r.msg === "NetworkManager attached");
      await d.waitRecord((r) => r.msg === "ready");
      const gone = d.records.length;
      await stopNm();
      await d.waitRecord((r) => r.backend === "NetworkManager" && r.presence === "absent", 10_000, gone);
      const back = d.records.length;
      startNm();
      await d.waitRecord((r) => r.msg === "NetworkManager attached", 20_000, back);
      await lab0Activated();
      await waitFor("lab0 keeps its lease", hasLease, 15_000, 200);
      const afterRestart = await settle(out, 1500);
      // NM re-runs lab0's states when it takes the device over again: real transitions, each once
      const seq = nmDirs(afterRestart);
      console.log(`# after the NetworkManager restart: ${seq.join(" ") || "(no device events)"}`);
      assert.ok(seq.filter((x) => x === "activated").length <= 1, `activated.d at most once after the restart: ${seq}`);
      const before = afterRestart.length;
      await nmcli("device", "disconnect", lab.ifname);
      await waitFor(
        "disconnected.d after the restart",
        () =>
          runs(out)
            .slice(before)
            .some((r) => r.dir === "disconnected.d"),
        10_000,
      );
      const next = runs(out).slice(before);
      assert.deepEqual(nmDirs(await settle(out)).slice(seq.length), ["deactivating", "disconnected"]);
      assert.equal(next.find((x) => x.dir === "disconnected.d")!.NM_REASON, "39");
    } finally {
      await nmcli("device", "connect", lab.ifname).catch(() => "");
      await settle(out, 500);
      await d.stop();
    }
  });

  test("NetworkManager absent at start: said in the log, the daemon gets ready, attaches when NM appears", async () => {
    const { base, out } = tree();
    await stopNm();
    const d = start(base, NO_REPLAY);
    try {
      await d.waitRecord((r) => r.backend === "NetworkManager" && r.presence === "absent", 10_000);
      await d.waitRecord((r) => r.msg === "ready", 10_000);
      startNm();
      await d.waitRecord((r) => r.msg === "NetworkManager attached", 20_000);
      await lab0Activated();
      await settle(out);
      const before = runs(out).length;
      await nmcli("device", "disconnect", lab.ifname);
      await waitFor(
        "disconnected.d",
        () =>
          runs(out)
            .slice(before)
            .some((r) => r.dir === "disconnected.d"),
        10_000,
      );
      assert.equal(
        runs(out)
          .slice(before)
          .find((x) => x.dir === "disconnected.d")!.NM_REASON_NAME,
        "user-requested",
      );
    } finally {
      await nmcli("device", "connect", lab.ifname).catch(() => "");
      await settle(out, 500);
      await d.stop();
    }
  });
}
