// The systemd-networkd backend against the real systemd-networkd (DHCP from the lab's dnsmasq).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DaemonProcess, readJsonLines, hookTree, ip, ipSrv, lab, labFile, sh, sleep, waitFor, writeConfig } from "./lab.js";

const DIRS = ["carrier.d", "no-carrier.d", "routable.d", "configured.d", "configuring.d", "degraded.d", "off.d", "manager.d"];

// One JSON line per run: which dir, argv, the variables networkd users rely on, and $JSON. Written
// with one printf: runs of different dirs are concurrent (kernel carrier.d next to networkd's dirs).
const recorder = (dir: string) => `#!/bin/sh
line=$(printf '{"dir":"%s","argv1":"%s","argv2":"%s"' "${dir}" "$1" "$2")
for v in LINK STATE BACKEND ADDRESSES EVENT NETEVD_REPLAY IFACE OperationalState AdministrativeState IP_ADDRS; do
  eval "val=\\\${$v-__unset__}"; line="$line$(printf ',"%s":"%s"' "$v" "$val")"; done
printf '%s}\\n' "$line" >> $OUT/runs.jsonl
printf '%s\\n' "$JSON" > $OUT/${dir}.json
printf '%s\\n' "$NETEVD_EVENT" > $OUT/${dir}.event
`;

interface Run {
  dir: string;
  argv1: string;
  argv2: string;
  [k: string]: string;
}
const runs = (out: string): Run[] => readJsonLines<Run>(join(out, "runs.jsonl"));
const dirsOf = (rs: Run[]) => rs.filter((r) => r.dir !== "manager.d").map((r) => r.dir.replace(".d", ""));

function tree() {
  return hookTree(Object.fromEntries(DIRS.map((d) => [d, { "50-rec": recorder(d) }])));
}

const start = (base: string, extra = "") =>
  DaemonProcess.start(["run", "-c", writeConfig(`system:\n  backend: systemd-networkd\n  scripts_dir: ${base}\nmonitoring:\n  interfaces: [${lab.ifname}]\n${extra}`)]);

async function settle(out: string, quietMs = 1500): Promise<Run[]> {
  let n = -1;
  while (runs(out).length !== n) {
    n = runs(out).length;
    await sleep(quietMs);
  }
  return runs(out);
}

if (labFile(import.meta.url, { backend: "networkd" })) {
  test("replay at start: networkd's carrier, routable and configured once each, no kernel carrier.d twice", async () => {
    const { base, out } = tree();
    const d = start(base);
    try {
      await d.waitRecord((r) => r.msg === "ready");
      const r = await settle(out, 800);
      assert.deepEqual(dirsOf(r).sort(), ["carrier", "configured", "routable"]);
      for (const x of r) {
        assert.equal(x.NETEVD_REPLAY, "1");
        assert.equal(x.BACKEND, "systemd-networkd");
      }
    } finally {
      await d.stop();
    }
  });

  test("link up with DHCP: routable.d then configured.d once each, $JSON is networkd's Describe()", async () => {
    const { base, out } = tree();
    const d = start(base, "hooks:\n  replay_on_start: false\n");
    try {
      await d.waitRecord((r) => r.msg === "systemd-networkd attached");
      await d.waitRecord((r) => r.msg === "ready");
      await ip("link", "set", lab.ifname, "down");
      await waitFor("off", () => runs(out).some((r) => r.dir === "off.d"), 5000);
      const before = runs(out).length;
      await ip("link", "set", lab.ifname, "up");
      await waitFor(
        "configured.d",
        () =>
          runs(out)
            .slice(before)
            .some((r) => r.dir === "configured.d"),
        15000,
      );
      const r = (await settle(out)).slice(before);
      const seq = dirsOf(r);
      assert.equal(seq.filter((x) => x === "routable").length, 1, `routable once: ${seq}`);
      assert.equal(seq.filter((x) => x === "configured").length, 1, `configured once: ${seq}`);
      // the order of the events, not of the runs: runs of different dirs are concurrent
      const eventSeq = (dir: string) => Number((JSON.parse(readFileSync(join(out, `${dir}.d.event`), "utf8")) as { id: string }).id.split("-").pop());
      assert.ok(eventSeq("routable") < eventSeq("configured"), `routable before configured: ${eventSeq("routable")} ${eventSeq("configured")}`);
      const routable = r.find((x) => x.dir === "routable.d")!;
      assert.equal(routable.argv1, "", "argv is [path]: no $1");
      assert.equal(routable.STATE, "routable");
      assert.equal(routable.BACKEND, "systemd-networkd");
      assert.equal(routable.IFACE, lab.ifname);
      assert.equal(routable.OperationalState, "routable");
      assert.match(routable.ADDRESSES!, /(^| )10\.77\.0\.50( |$)/);
      assert.match(routable.IP_ADDRS!, /(^| )10\.77\.0\.50( |$)/);
      const json = JSON.parse(readFileSync(join(out, "configured.d.json"), "utf8"));
      assert.equal(json.Name, lab.ifname);
      assert.equal(json.AdministrativeState, "configured");
      const addrs = (json.Addresses as Array<{ Address: number[] }>).map((a) => a.Address.join("."));
      assert.ok(addrs.includes("10.77.0.50"), `Describe() holds the lease: ${addrs}`);
    } finally {
      await d.stop();
    }
  });

  test("carrier loss from the peer: no-carrier.d once; carrier back: carrier.d, then routable.d", async () => {
    const { base, out } = tree();
    const d = start(base, "hooks:\n  replay_on_start: false\n");
    try {
      await d.waitRecord((r) => r.msg === "ready");
      await ipSrv("link", "set", lab.peer, "down");
      await waitFor("no-carrier", () => runs(out).some((r) => r.dir === "no-carrier.d"), 5000);
      const down = dirsOf(await settle(out, 1000));
      assert.equal(down.filter((x) => x === "no-carrier").length, 1, `no-carrier once: ${down}`);
      const before = runs(out).length;
      await ipSrv("link", "set", lab.peer, "up");
      await waitFor(
        "routable again",
        () =>
          runs(out)
            .slice(before)
            .some((r) => r.dir === "routable.d"),
        15000,
      );
      const up = dirsOf((await settle(out)).slice(before));
      assert.equal(up.filter((x) => x === "carrier").length, 1, `carrier once: ${up}`);
      assert.ok(up.indexOf("carrier") < up.indexOf("routable"), `carrier then routable: ${up}`);
      const mgr = runs(out).filter((r) => r.dir === "manager.d");
      assert.ok(mgr.length >= 1, "manager.d ran on the manager's state change");
      assert.equal(mgr[0]!.BACKEND, "systemd-networkd");
      assert.ok(["no-carrier", "off", "carrier", "routable", "degraded", "degraded-carrier", "enslaved"].includes(mgr[0]!.STATE!), mgr[0]!.STATE);
    } finally {
      await d.stop();
    }
  });

  test("networkctl reconfigure: configuring.d then configured.d", async () => {
    const { base, out } = tree();
    const d = start(base, "hooks:\n  replay_on_start: false\n");
    try {
      await d.waitRecord((r) => r.msg === "ready");
      await sh(["networkctl", "reconfigure", lab.ifname]);
      await waitFor("configured.d", () => runs(out).some((r) => r.dir === "configured.d"), 15000);
      const seq = dirsOf(await settle(out, 1000));
      assert.ok(seq.includes("configuring") && seq.indexOf("configuring") < seq.indexOf("configured"), `${seq}`);
    } finally {
      await d.stop();
    }
  });

  test("networkd stopped and restarted mid-run: netevd recovers by itself, no duplicates, the next flap fires", async () => {
    const { base, out } = tree();
    const d = start(base, "hooks:\n  replay_on_start: false\n");
    try {
      await d.waitRecord((r) => r.msg === "systemd-networkd attached");
      const gone = d.records.length;
      await sh(["pkill", "-TERM", "-x", "systemd-network"], { allowFail: true });
      await d.waitRecord((r) => r.backend === "systemd-networkd" && r.presence === "absent", 10_000, gone);
      const nd = spawn("/lib/systemd/systemd-networkd", [], { stdio: "ignore", detached: true });
      nd.unref();
      const back = d.records.length;
      await d.waitRecord((r) => r.msg === "systemd-networkd attached", 15_000, back);
      await waitFor("networkd configured lab0 again", async () => (await ip("-4", "-o", "addr", "show", "dev", lab.ifname)).includes("10.77.0.50"), 15_000);
      await settle(out, 1000);
      const beforeFlap = runs(out).length;
      await ipSrv("link", "set", lab.peer, "down");
      await waitFor(
        "no-carrier after restart",
        () =>
          runs(out)
            .slice(beforeFlap)
            .some((r) => r.dir === "no-carrier.d"),
        10_000,
      );
      const after = dirsOf((await settle(out, 1000)).slice(beforeFlap));
      assert.equal(after.filter((x) => x === "no-carrier").length, 1, `${after}`);
      await ipSrv("link", "set", lab.peer, "up");
    } finally {
      await d.stop();
    }
  });

  test("the system bus goes away and comes back: netevd reconnects by itself and networkd events fire again", async () => {
    const { base, out } = tree();
    const d = start(base, "hooks:\n  replay_on_start: false\n");
    try {
      await d.waitRecord((r) => r.msg === "systemd-networkd attached");
      const from = d.records.length;
      // the lab's bus daemon dies; networkd loses it too and is restarted once a bus is back
      await sh(["pkill", "-KILL", "-x", "dbus-daemon"]);
      await sh(["pkill", "-TERM", "-x", "systemd-network"], { allowFail: true });
      await d.waitRecord((r) => r.msg === "system bus connection lost; reconnecting", 10_000, from);
      await d.waitRecord((r) => r.presence === "no-bus", 10_000, from);
      const bus = spawn("dbus-daemon", ["--config-file=/run/netevd-lab/bus.conf", "--nofork", "--nopidfile"], { stdio: "ignore", detached: true });
      bus.unref();
      await waitFor(
        "bus back",
        async () => (await sh(["busctl", "--system", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId"], { allowFail: true })) !== "",
        10_000,
        100,
      );
      const nd = spawn("/lib/systemd/systemd-networkd", [], { stdio: "ignore", detached: true });
      nd.unref();
      await d.waitRecord((r) => r.msg === "systemd-networkd attached", 30_000, from);
      await waitFor("networkd configured lab0 again", async () => (await ip("-4", "-o", "addr", "show", "dev", lab.ifname)).includes("10.77.0.50"), 15_000);
      await settle(out, 1000);
      const beforeFlap = runs(out).length;
      await ipSrv("link", "set", lab.peer, "down");
      await waitFor(
        "no-carrier after the bus came back",
        () =>
          runs(out)
            .slice(beforeFlap)
            .some((r) => r.dir === "no-carrier.d"),
        10_000,
      );
      const after = dirsOf((await settle(out, 1000)).slice(beforeFlap));
      assert.equal(after.filter((x) => x === "no-carrier").length, 1, `${after}`);
      assert.equal(d.child.exitCode, null, "the daemon stayed up");
      await ipSrv("link", "set", lab.peer, "up");
    } finally {
      await d.stop();
    }
  });
}
