// hostname.d's source: hostnamed only when the daemon is on the system bus anyway, else the kernel's
// notification; and the kernel source's validation and dedup (the watch itself is faked here; the
// lab test drives the real one with sethostname()).
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultConfig, type Config } from "../../src/config/index.js";
import { chooseHostnameWatch } from "../../src/sources/hostname-watch.js";
import { KernelHostnameSource } from "../../src/sources/kernel-hostname.js";
import type { HostnameChange } from "../../src/sources/hostnamed.js";
import { recordingLog } from "./recording-log.js";

function config(dhclient: Partial<Config["backends"]["dhclient"]> = {}): Config {
  const c = defaultConfig();
  return { ...c, backends: { ...c.backends, dhclient: { ...c.backends.dhclient, ...dhclient } } };
}

test("hostnamed when a D-Bus backend is in use", () => {
  assert.equal(chooseHostnameWatch(config(), "systemd-networkd", false).kind, "hostnamed");
  assert.equal(chooseHostnameWatch(config(), "NetworkManager", false).kind, "hostnamed");
});

test("hostnamed when auto follows the bus for a manager, whatever it picked", () => {
  assert.equal(chooseHostnameWatch(config(), "dhclient", true).kind, "hostnamed");
  assert.equal(chooseHostnameWatch(config(), "systemd-networkd", true).kind, "hostnamed");
});

test("dhclient: hostnamed only when lease values are pushed over the bus", () => {
  assert.equal(chooseHostnameWatch(config(), "dhclient", false).kind, "kernel");
  for (const key of ["use_dns", "use_domain", "use_hostname"] as const) {
    assert.equal(chooseHostnameWatch(config({ [key]: true }), "dhclient", false).kind, "hostnamed", key);
  }
});

test("the kernel for backend none, even with push keys set (pushes come only from dhclient leases)", () => {
  const choice = chooseHostnameWatch(config(), "none", false);
  assert.equal(choice.kind, "kernel");
  assert.ok(choice.reason.length > 0);
  assert.equal(chooseHostnameWatch(config({ use_dns: true, use_hostname: true }), "none", false).kind, "kernel");
});

/** A KernelHostnameSource on a faked watch: `set` changes the name and wakes it, as the kernel does. */
function kernelSource() {
  let name = "box";
  let wake: (() => void) | null = null;
  let closed = false;
  const changes: HostnameChange[] = [];
  const { log, lines } = recordingLog();
  const source = new KernelHostnameSource(
    log,
    (c) => changes.push(c),
    () => name,
    (onChange) => {
      wake = onChange;
      return { close: () => (closed = true) };
    },
  );
  return {
    source,
    changes,
    lines,
    set(n: string) {
      name = n;
      wake!();
    },
    get closed() {
      return closed;
    },
  };
}

test("kernel source: a change fires once with the previous name; the same name again fires nothing", async () => {
  const k = kernelSource();
  await k.source.start();
  k.set("box2");
  k.set("box2");
  k.set("box3");
  assert.deepEqual(k.changes, [
    { hostname: "box2", previous: "box" },
    { hostname: "box3", previous: "box2" },
  ]);
  k.source.stop();
  assert.ok(k.closed);
});

test("kernel source: an invalid name fires nothing and is warned about once; the next valid one fires against the last valid", async () => {
  const k = kernelSource();
  await k.source.start();
  k.set("bad;name");
  k.set("bad;name"); // another namespace's change wakes us with our name unchanged
  assert.deepEqual(k.changes, []);
  assert.equal(k.lines.filter((l) => l.level === "warn").length, 1);
  k.set("box");
  assert.deepEqual(k.changes, [], "back to the last valid name: no change");
  k.set("good");
  assert.deepEqual(k.changes, [{ hostname: "good", previous: "box" }]);
});

test("kernel source: a watch that cannot open is logged, not thrown", async () => {
  const { log, lines } = recordingLog();
  const source = new KernelHostnameSource(
    log,
    () => assert.fail("no change"),
    () => "box",
    () => {
      throw Object.assign(new Error("open failed: ENOENT"), { code: "ENOENT" });
    },
  );
  await source.start();
  assert.equal(lines.filter((l) => l.level === "warn").length, 1);
  source.stop();
});
