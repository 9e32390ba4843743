// Policy routing next to the real systemd-networkd, whose ManageForeignRoutingPolicyRules= (default
// yes) deletes rules it did not create whenever it starts: netevd warns about it at startup and
// puts its rules back once networkd has settled.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { DaemonProcess, ip, lab, labFile, sh, sleep, waitFor, writeConfig } from "./lab.js";
import { ifindex, ourRoutes, ourRules, waitRules, waitTable } from "./uplinks.js";

const LEASE = "10.77.0.50";
const GW = "10.77.0.1";

const start = () =>
  DaemonProcess.start(["run", "-c", writeConfig(`system:\n  backend: systemd-networkd\nhooks:\n  replay_on_start: false\nrouting:\n  policy_rules: [${lab.ifname}]\n`)]);

const warnedAboutNetworkd = (d: DaemonProcess) => d.records.some((r) => r.level === "warn" && r.setting === "ManageForeignRoutingPolicyRules");

if (labFile(import.meta.url, { backend: "networkd" })) {
  test("startup warning when networkd deletes foreign rules (its default); none with ManageForeignRoutingPolicyRules=no", async () => {
    const d = start();
    try {
      await d.waitRecord((r) => r.msg === "ready", 10_000);
      assert.ok(warnedAboutNetworkd(d), "warned with networkd's default");
    } finally {
      await d.stop();
    }
    mkdirSync("/etc/systemd/networkd.conf.d", { recursive: true });
    writeFileSync("/etc/systemd/networkd.conf.d/50-netevd.conf", "[Network]\nManageForeignRoutingPolicyRules=no\n");
    const d2 = start();
    try {
      await d2.waitRecord((r) => r.msg === "ready", 10_000);
      await sleep(200);
      assert.equal(warnedAboutNetworkd(d2), false, "no warning when networkd leaves foreign rules alone");
    } finally {
      await d2.stop();
      rmSync("/etc/systemd/networkd.conf.d/50-netevd.conf");
    }
  });

  test("networkd restarted with foreign-rule management on: it deletes our rules, netevd puts them back once it settles", async () => {
    const table = 200 + (await ifindex(lab.ifname));
    const rules = [`32765 from ${LEASE} lookup ${table}`, `32766 to ${LEASE} lookup ${table}`];
    const routes = [`10.77.0.0/24 dev ${lab.ifname} src ${LEASE} proto 110`, `default via ${GW} dev ${lab.ifname} proto 110`];
    const d = start();
    const monitor = spawn("ip", ["-o", "monitor", "rule"], { stdio: ["ignore", "pipe", "ignore"] });
    let seen = "";
    monitor.stdout.on("data", (b: Buffer) => {
      seen += b.toString();
    });
    try {
      await d.waitRecord((r) => r.msg === "ready", 10_000);
      await waitRules(rules);
      await waitTable(table, routes);

      const pid = Number((await sh(["pgrep", "-x", "systemd-network"])).trim().split("\n")[0]);
      assert.ok(pid > 0, "networkd runs in the lab");
      const gone = d.records.length;
      process.kill(pid, "SIGTERM");
      await waitFor("networkd exited", async () => (await sh(["pgrep", "-x", "systemd-network"], { allowFail: true })).trim() === "", 10_000);
      await d.waitRecord((r) => r.backend === "systemd-networkd" && r.presence === "absent", 10_000, gone);
      const nd = spawn("/lib/systemd/systemd-networkd", [], { stdio: "ignore", detached: true });
      nd.unref();
      await d.waitRecord((r) => r.msg === "systemd-networkd attached", 15_000, gone);
      await waitFor("networkd configured lab0 again", async () => (await ip("-4", "-o", "addr", "show", "dev", lab.ifname)).includes(LEASE), 15_000);

      // networkd really deleted our rules (the scenario happened), and they are back
      await waitFor("networkd deleted our rules", () => /Deleted .*proto 110/.test(seen), 10_000);
      await waitRules(rules, 10_000);
      await waitTable(table, routes, 10_000);
      await sleep(1500); // networkd may still be settling: our rules must stay, once each
      assert.deepEqual(await ourRules(), [...rules].sort());
      assert.deepEqual(await ourRoutes(), [...routes].sort());
      const deleted = seen.split("\n").filter((l) => /^Deleted .*proto 110/.test(l));
      console.log(`# networkd deleted ${deleted.length} of our rules; netevd re-asserted them`);
    } finally {
      monitor.kill();
      await d.stop();
    }
  });
}
