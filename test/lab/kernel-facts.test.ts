// The kernel source against the real kernel: `netevd run` in a lab reports what `ip` does, in order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DaemonProcess, ip, ipSrv, lab, labFile, writeConfig as configFile, type LogRecord } from "./lab.js";

const factsOf = (d: DaemonProcess, link: string | string[], from = 0): LogRecord[] => {
  const names = Array.isArray(link) ? link : [link];
  return d.facts(from).filter((r) => names.includes(r.link as string));
};

if (labFile(import.meta.url)) {
  test("facts for a veth's life: add, carrier flaps, mtu, v4+v6 addresses and routes, rename, delete", async () => {
    const cfg = configFile("system:\n  backend: none\n  log_level: debug\nhooks:\n  replay_on_start: false\n");
    const d = DaemonProcess.start(["run", "-c", cfg]);
    try {
      await d.waitRecord((r) => r.msg === "ready");
      await ip("link", "add", "vt0", "type", "veth", "peer", "name", "vt0p", "netns", lab.nsSrv);
      await d.waitRecord((r) => r.fact === "link-added" && r.link === "vt0");
      await ip("link", "set", "vt0", "up");
      await ipSrv("link", "set", "vt0p", "up");
      await d.waitRecord((r) => r.fact === "carrier-up" && r.link === "vt0");
      const flapStart = d.records.length;
      await ipSrv("link", "set", "vt0p", "down");
      await d.waitRecord((r) => r.fact === "carrier-down" && r.link === "vt0", 5000, flapStart);
      await ipSrv("link", "set", "vt0p", "up");
      await d.waitRecord((r) => r.fact === "carrier-up" && r.link === "vt0", 5000, flapStart);
      await ip("link", "set", "vt0", "mtu", "1400");
      await d.waitRecord((r) => r.fact === "mtu" && r.link === "vt0");

      await ip("addr", "add", "192.0.2.10/24", "dev", "vt0");
      await ip("-6", "addr", "add", "2001:db8::10/64", "dev", "vt0", "nodad");
      // the same address again (replace): a duplicate RTM_NEWADDR, which must not be a second fact
      await ip("addr", "replace", "192.0.2.10/24", "dev", "vt0");
      await ip("route", "add", "198.51.100.0/24", "via", "192.0.2.1", "dev", "vt0", "metric", "55");
      await ip("-6", "route", "add", "2001:db8:1::/64", "via", "2001:db8::1", "dev", "vt0", "table", "1234");
      await d.waitRecord((r) => r.fact === "route-added" && r.dst === "2001:db8:1::/64");
      await ip("route", "del", "198.51.100.0/24", "via", "192.0.2.1", "dev", "vt0", "metric", "55");
      await ip("-6", "route", "del", "2001:db8:1::/64", "via", "2001:db8::1", "dev", "vt0", "table", "1234");
      await ip("addr", "del", "192.0.2.10/24", "dev", "vt0");
      await ip("-6", "addr", "del", "2001:db8::10/64", "dev", "vt0");
      await d.waitRecord((r) => r.fact === "address-removed" && r.address === "2001:db8::10/64");

      await ip("link", "set", "vt0", "down");
      await ip("link", "set", "vt0", "name", "vt1");
      await d.waitRecord((r) => r.fact === "link-renamed" && r.link === "vt1");
      await ip("link", "del", "vt1");
      await d.waitRecord((r) => r.fact === "link-removed" && r.link === "vt1");

      const seq = factsOf(d, ["vt0", "vt1"])
        .filter((r) => !(r.fact === "route-added" || r.fact === "route-removed") || r.dst === "198.51.100.0/24" || r.dst === "2001:db8:1::/64")
        .filter((r) => r.fact !== "operstate" && r.fact !== "admin-up" && r.fact !== "admin-down")
        .filter((r) => !(r.family === "inet6" && String(r.address ?? "").startsWith("fe80:")))
        .map((r) => `${r.fact} ${r.link}${r.address ? " " + r.address : ""}${String(r.fact).startsWith("route") ? " " + r.dst + " table=" + r.table : ""}`);
      assert.deepEqual(seq, [
        "link-added vt0",
        "carrier-up vt0",
        "carrier-down vt0",
        "carrier-up vt0",
        "mtu vt0",
        "address-added vt0 192.0.2.10/24",
        "address-added vt0 2001:db8::10/64",
        "route-added vt0 198.51.100.0/24 table=254",
        "route-added vt0 2001:db8:1::/64 table=1234",
        "route-removed vt0 198.51.100.0/24 table=254",
        "route-removed vt0 2001:db8:1::/64 table=1234",
        "address-removed vt0 192.0.2.10/24",
        "address-removed vt0 2001:db8::10/64",
        "carrier-down vt0", // set down: the kernel clears IFF_LOWER_UP too
        "link-renamed vt1",
        "link-removed vt1",
      ]);
      const mtu = d.facts().find((r) => r.fact === "mtu" && r.link === "vt0")!;
      assert.equal(mtu.mtu, 1400);
      assert.equal(mtu.previous, 1500);
      const route = d.facts().find((r) => r.fact === "route-added" && r.dst === "198.51.100.0/24")!;
      assert.equal(route.gateway, "192.0.2.1");
      assert.equal(route.priority, 55);
      assert.equal(d.facts().find((r) => r.fact === "link-renamed")!.oldName, "vt0");
      assert.equal(d.child.exitCode, null, "daemon still running");
    } finally {
      assert.equal(await d.stop(), 0, "SIGTERM ends the daemon with exit 0");
    }
  });

  test("monitoring.interfaces filters which links produce facts (globs)", async () => {
    const cfg = configFile('system:\n  backend: none\n  log_level: debug\nmonitoring:\n  interfaces: ["vf*"]\nhooks:\n  replay_on_start: false\n');
    const d = DaemonProcess.start(["run", "-c", cfg]);
    try {
      await d.waitRecord((r) => r.msg === "ready");
      await ipSrv("link", "set", lab.peer, "down"); // lab0 loses carrier: not monitored
      await ip("link", "add", "vf0", "type", "veth", "peer", "name", "vf0p", "netns", lab.nsSrv);
      await d.waitRecord((r) => r.fact === "link-added" && r.link === "vf0");
      await ipSrv("link", "set", lab.peer, "up");
      await ip("link", "del", "vf0");
      await d.waitRecord((r) => r.fact === "link-removed" && r.link === "vf0");
      assert.deepEqual(factsOf(d, lab.ifname), [], "no facts for lab0");
    } finally {
      await d.stop();
    }
  });

  test("a route that used a removed address as its source is seen to go; a plain address removal re-reads nothing", async () => {
    const cfg = configFile("system:\n  backend: none\n  log_level: debug\nhooks:\n  replay_on_start: false\n");
    const d = DaemonProcess.start(["run", "-c", cfg]);
    try {
      await d.waitRecord((r) => r.msg === "ready");
      await ip("link", "add", "vs0", "type", "veth", "peer", "name", "vs0p", "netns", lab.nsSrv);
      await ip("link", "set", "vs0", "up");
      // an address removal whose routes the kernel announces itself: no re-dump
      await ip("addr", "add", "192.0.2.20/24", "dev", "vs0");
      const plain = d.records.length;
      await ip("addr", "del", "192.0.2.20/24", "dev", "vs0");
      await d.waitRecord((r) => r.fact === "address-removed" && r.address === "192.0.2.20/24", 5000, plain);
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(d.records.slice(plain).filter((r) => r.msg === "kernel resync done").length, 0, "no route re-read for a plain address removal");
      // a route using the address as its source: the kernel drops it with the address (older kernels
      // silently: then the model still holds it and the routes are re-read)
      await ip("addr", "add", "192.0.2.21/24", "dev", "vs0");
      await ip("addr", "add", "192.0.2.30/24", "dev", "vs0");
      await ip("route", "add", "198.51.100.0/24", "dev", "vs0", "src", "192.0.2.21");
      await d.waitRecord((r) => r.fact === "route-added" && r.dst === "198.51.100.0/24");
      const from = d.records.length;
      await ip("addr", "del", "192.0.2.21/24", "dev", "vs0");
      assert.equal((await ip("route", "show", "198.51.100.0/24")).trim(), "", "the kernel dropped the route");
      const gone = await d.waitRecord((r) => r.fact === "route-removed" && r.dst === "198.51.100.0/24", 5000, from);
      assert.equal(gone.link, "vs0");
    } finally {
      await ip("link", "del", "vs0");
      await d.stop();
    }
  });

  test("configured backend not on the bus: said plainly, kernel facts keep flowing", async () => {
    const cfg = configFile("system:\n  backend: systemd-networkd\n  log_level: debug\nhooks:\n  replay_on_start: false\n");
    const d = DaemonProcess.start(["run", "-c", cfg]);
    try {
      const absent = await d.waitRecord((r) => r.backend === "systemd-networkd" && r.presence === "absent");
      assert.equal(absent.level, "warn");
      await ip("link", "add", "vb0", "type", "veth", "peer", "name", "vb0p", "netns", lab.nsSrv);
      await d.waitRecord((r) => r.fact === "link-added" && r.link === "vb0");
      assert.equal(d.child.exitCode, null);
    } finally {
      await ip("link", "del", "vb0");
      await d.stop();
    }
  });

  test("validate: a typo'd key exits 1 and names the key", async () => {
    const bad = configFile("system:\n  backend: none\nhooks:\n  timout_sec: 5\n");
    const d = DaemonProcess.start(["validate", "-c", bad]);
    const code = await d.exited;
    assert.equal(code, 1);
    assert.match(d.stderr.join("\n"), /hooks\.timout_sec/);
    const good = DaemonProcess.start(["validate", "-c", configFile("system:\n  backend: none\n")]);
    assert.equal(await good.exited, 0);
  });
}
