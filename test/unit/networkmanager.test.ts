// NetworkManager backend, pure parts: D-Bus value handling, state → dir, environment, events from facts.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { LinkRecord } from "../../src/netlink/types.js";
import { applyBackendState, applyManagerState, applyMessage, emptyModel, type Fact } from "../../src/state/model.js";
import { EventFactory, jobsFromFacts, type DeriveContext } from "../../src/events/derive.js";
import { deviceStateDir, nmDeviceEnv, nmJobs, nmManagerJobs, nmReplayJobs } from "../../src/events/networkmanager.js";
import { nmNumber, reasonName, transitionFields } from "../../src/sources/networkmanager-states.js";
import { addressData, configPath, deviceIdentity, gatewayOf, indexFromSysfs, ip4Nameservers, ip6Nameservers, ipFields, isDevicePath } from "../../src/sources/networkmanager.js";

// dbus-next hands variants over as { signature, value }
const v = (signature: string, value: unknown) => ({ signature, value });

test("device object paths: only NetworkManager's Devices/N are followed", () => {
  assert.ok(isDevicePath("/org/freedesktop/NetworkManager/Devices/2"));
  assert.ok(isDevicePath("/org/freedesktop/NetworkManager/Devices/1234567890"));
  for (const p of [
    "/org/freedesktop/NetworkManager/Devices/",
    "/org/freedesktop/NetworkManager/Devices/2/x",
    "/org/freedesktop/NetworkManager/Devices/../1",
    "/org/freedesktop/network1/link/_32",
    "",
    2,
    null,
  ]) {
    assert.equal(isDevicePath(p), false, String(p));
  }
});

test('Ip4Config/Ip6Config paths: "/" means none, junk is ignored', () => {
  assert.equal(configPath("/org/freedesktop/NetworkManager/IP4Config/3"), "/org/freedesktop/NetworkManager/IP4Config/3");
  assert.equal(configPath("/org/freedesktop/NetworkManager/IP6Config/3"), "/org/freedesktop/NetworkManager/IP6Config/3");
  assert.equal(configPath("/"), undefined);
  assert.equal(configPath("/org/freedesktop/NetworkManager/Devices/3"), undefined);
  assert.equal(configPath(undefined), undefined);
});

test("numbers from D-Bus: a u is a non-negative integer, nothing else", () => {
  assert.equal(nmNumber(100), 100);
  assert.equal(nmNumber(0), 0);
  for (const x of [-1, 1.5, "100", NaN, 2 ** 32, undefined, null]) assert.equal(nmNumber(x), undefined, String(x));
});

test("device identity: a valid Interface, the MAC lower-cased; a bad name is no identity", () => {
  assert.deepEqual(deviceIdentity({ Interface: v("s", "lab0"), HwAddress: v("s", "02:4E:56:00:00:02") }), { iface: "lab0", hwaddr: "02:4e:56:00:00:02" });
  assert.deepEqual(deviceIdentity({ Interface: v("s", "wg0"), HwAddress: v("s", "") }), { iface: "wg0" });
  for (const name of ["../etc", "a/b", "", "x".repeat(16), ".."]) {
    assert.equal(deviceIdentity({ Interface: v("s", name) }), undefined, name);
  }
  assert.equal(deviceIdentity({ Interface: v("u", 3) }), undefined);
});

test("ifindex from sysfs: a positive integer, and only when the link's MAC is the one NM reports", () => {
  assert.equal(indexFromSysfs("2\n", "02:4e:56:00:00:02\n", "02:4e:56:00:00:02"), 2);
  assert.equal(indexFromSysfs("2\n", undefined, "02:4e:56:00:00:02"), 2);
  assert.equal(indexFromSysfs("7\n", "02:4e:56:00:00:02\n", undefined), 7);
  assert.equal(indexFromSysfs("2\n", "02:4e:56:00:00:99\n", "02:4e:56:00:00:02"), undefined, "the name belongs to another link now");
  for (const bad of ["0\n", "-1\n", "x\n", "", "2 3\n", "99999999999\n"]) assert.equal(indexFromSysfs(bad, undefined, undefined), undefined, bad);
});

test("AddressData: address/prefix per family, invalid entries dropped", () => {
  const data = v("aa{sv}", [
    { address: v("s", "10.77.0.50"), prefix: v("u", 24) },
    { address: v("s", "10.77.0.51; rm -rf /"), prefix: v("u", 24) },
    { address: v("s", "10.77.0.52"), prefix: v("u", 33) },
    { address: v("s", "2001:db8::5"), prefix: v("u", 64) },
    "junk",
  ]);
  assert.deepEqual(addressData(data, 4), ["10.77.0.50/24"]);
  assert.deepEqual(addressData(data, 6), ["2001:db8::5/64"]);
  assert.deepEqual(addressData(undefined, 4), []);
});

test("nameservers: NameserverData (1.14+), the older au in network byte order, and IPv6 aay", () => {
  assert.deepEqual(ip4Nameservers({ NameserverData: v("aa{sv}", [{ address: v("s", "10.77.0.1") }, { address: v("s", "nope") }]) }), ["10.77.0.1"]);
  // 10.77.0.1 as NM's guint32 (bytes 0a 4d 00 01 in memory)
  assert.deepEqual(ip4Nameservers({ Nameservers: v("au", [0x01004d0a]) }, true), ["10.77.0.1"]);
  assert.deepEqual(ip4Nameservers({ Nameservers: v("au", [0x0a4d0001]) }, false), ["10.77.0.1"]);
  const six = Buffer.from("20010db8000000000000000000000053", "hex");
  assert.deepEqual(ip6Nameservers({ Nameservers: v("aay", [six, Buffer.from([1, 2, 3])]) }), ["2001:db8::53"]);
});

test("gateway: an address of the config's family or nothing", () => {
  assert.equal(gatewayOf({ Gateway: v("s", "10.77.0.1") }, 4), "10.77.0.1");
  assert.equal(gatewayOf({ Gateway: v("s", "") }, 4), undefined);
  assert.equal(gatewayOf({ Gateway: v("s", "fe80::1") }, 4), undefined);
  assert.equal(gatewayOf({ Gateway: v("s", "fe80::1") }, 6), "fe80::1");
});

test("ipFields: space-separated validated lists, v4 first, v4 gateway preferred; no configs = empty", () => {
  const ip4 = {
    AddressData: v("aa{sv}", [{ address: v("s", "10.77.0.50"), prefix: v("u", 24) }]),
    Gateway: v("s", "10.77.0.1"),
    NameserverData: v("aa{sv}", [{ address: v("s", "10.77.0.1") }]),
  };
  const ip6 = {
    AddressData: v("aa{sv}", [{ address: v("s", "2001:db8::50"), prefix: v("u", 64) }]),
    Gateway: v("s", "2001:db8::1"),
    Nameservers: v("aay", [Buffer.from("20010db8000000000000000000000053", "hex")]),
  };
  assert.deepEqual(ipFields(ip4, ip6), { NMAddresses: "10.77.0.50/24 2001:db8::50/64", NMGateway: "10.77.0.1", NMDns: "10.77.0.1 2001:db8::53" });
  assert.deepEqual(ipFields(undefined, ip6), { NMAddresses: "2001:db8::50/64", NMGateway: "2001:db8::1", NMDns: "2001:db8::53" });
  assert.deepEqual(ipFields(undefined, undefined), { NMAddresses: "", NMGateway: "", NMDns: "" });
});

test("state → dir: every named NM device state, unknown and unlisted numbers fire nothing", () => {
  assert.equal(deviceStateDir(100), "activated");
  assert.equal(deviceStateDir(30), "disconnected");
  assert.equal(deviceStateDir(110), "deactivating");
  assert.equal(deviceStateDir(20), "unavailable");
  assert.equal(deviceStateDir(10), "unmanaged");
  assert.equal(deviceStateDir(0), undefined);
  assert.equal(deviceStateDir(55), undefined);
  assert.equal(reasonName(39), "user-requested");
  assert.equal(reasonName(40), "carrier");
  assert.equal(reasonName(9999), "unknown");
});

test("transition fields and env: numbers in NM_*, names in NM_*_NAME", () => {
  const f = transitionFields(30, 110, 39);
  assert.deepEqual(f, {
    NMDeviceState: "30",
    NMDeviceStateName: "disconnected",
    NMOldState: "110",
    NMOldStateName: "deactivating",
    NMReason: "39",
    NMReasonName: "user-requested",
  });
  assert.deepEqual(nmDeviceEnv("lab0", f), {
    DEVICE_IFACE: "lab0",
    NM_STATE: "30",
    NM_STATE_NAME: "disconnected",
    NM_OLD_STATE: "110",
    NM_OLD_STATE_NAME: "deactivating",
    NM_REASON: "39",
    NM_REASON_NAME: "user-requested",
  });
  assert.deepEqual(nmDeviceEnv("lab0", transitionFields(100, undefined, undefined)), { DEVICE_IFACE: "lab0", NM_STATE: "100", NM_STATE_NAME: "activated" });
});

const lab0: LinkRecord = { index: 2, name: "lab0", flags: 0, carrier: true, up: true, mtu: 1500, operstate: "up", type: 1 };
const lo: LinkRecord = { index: 1, name: "lo", flags: 0, carrier: true, up: true, mtu: 65536, operstate: "unknown", type: 772 };

function model() {
  const m = emptyModel();
  applyMessage(m, { kind: "link", op: "new", link: lo });
  applyMessage(m, { kind: "link", op: "new", link: lab0 });
  applyMessage(m, { kind: "addr", op: "new", addr: { family: 4, index: 2, address: "10.77.0.50", prefixlen: 24, scope: 0, flags: 0, tentative: false } });
  return m;
}
const ctx = (m: ReturnType<typeof model>): DeriveContext => ({
  ownRoute: () => false,
  selected: () => true,
  extraState: (i) => m.backend.get(i)?.fields,
});
const BE = "NetworkManager";
const ip = { NMAddresses: "10.77.0.50/24", NMGateway: "10.77.0.1", NMDns: "10.77.0.1" };

test("each StateChanged is one event in the new state's dir, with addresses from the kernel and gateway/DNS from NM", () => {
  const m = model();
  const f = new EventFactory();
  const jobs = (facts: Fact[]) => jobsFromFacts(facts, m, ctx(m), f);
  applyBackendState(m, BE, 2, { ...transitionFields(30, undefined, 0), NMAddresses: "", NMGateway: "", NMDns: "" }, "lab0");
  const seq: Array<[number, number, number]> = [
    [40, 30, 0],
    [50, 40, 0],
    [70, 50, 0],
    [80, 70, 0],
    [90, 80, 0],
    [100, 90, 0],
    [110, 100, 39],
    [30, 110, 39],
  ];
  const out = seq.flatMap(([n, o, r]) =>
    jobs(applyBackendState(m, BE, 2, { ...transitionFields(n, o, r), ...(n >= 70 && n <= 100 ? ip : { NMAddresses: "", NMGateway: "", NMDns: "" }) }, "lab0")),
  );
  assert.deepEqual(
    out.map((j) => j.state),
    ["prepare", "config", "ip-config", "ip-check", "secondaries", "activated", "deactivating", "disconnected"],
  );
  const act = out[5]!;
  assert.equal(act.event.source, "NetworkManager");
  assert.equal(act.event.link, "lab0");
  assert.deepEqual(act.event.addresses, ["10.77.0.50/24"]);
  assert.equal(act.event.gateway, "10.77.0.1");
  assert.deepEqual(act.event.dns, ["10.77.0.1"]);
  assert.equal(act.env.NM_STATE, "100");
  assert.equal(act.env.NM_OLD_STATE, "90");
  assert.equal(act.env.DEVICE_IFACE, "lab0");
  const disc = out[7]!;
  assert.equal(disc.env.NM_REASON, "39");
  assert.equal(disc.env.NM_REASON_NAME, "user-requested");
  assert.deepEqual(disc.event.dns, []);
  assert.equal(disc.event.gateway, null, "no NM gateway and no default route in the kernel model");
});

test("a resync that re-reports the same state fires nothing; a new IP config alone fires nothing", () => {
  const m = model();
  const f = new EventFactory();
  applyBackendState(m, BE, 2, { ...transitionFields(100, 90, 0), ...ip }, "lab0");
  assert.deepEqual(nmJobs({ fact: "backend-state", backend: BE, index: 2, name: "lab0", changes: {}, fields: m.backend.get(2)!.fields }, m, ctx(m), f), []);
  const facts = applyBackendState(m, BE, 2, { NMDeviceState: "100", NMDeviceStateName: "activated", ...ip }, "lab0");
  assert.deepEqual(facts, []);
  const dns = applyBackendState(m, BE, 2, { NMDns: "10.77.0.2" }, "lab0");
  assert.equal(dns.length, 1);
  assert.deepEqual(jobsFromFacts(dns, m, ctx(m), f), []);
});

test("the same state entered again by another transition is still an event", () => {
  const m = model();
  const f = new EventFactory();
  applyBackendState(m, BE, 2, transitionFields(30, 110, 39), "lab0");
  // a missed transition in between: 30 again, coming from 20
  const jobs = jobsFromFacts(applyBackendState(m, BE, 2, transitionFields(30, 20, 40), "lab0"), m, ctx(m), f);
  assert.deepEqual(
    jobs.map((j) => j.state),
    ["disconnected"],
  );
});

test("manager state → manager.d with STATE = the name, NM_STATE/NM_OLD_STATE numbers", () => {
  const m = model();
  const f = new EventFactory();
  applyManagerState(m, BE, { NMState: "20", NMStateName: "disconnected" });
  const facts = applyManagerState(m, BE, { NMState: "70", NMStateName: "connected_global" });
  const jobs = jobsFromFacts(facts, m, ctx(m), f);
  assert.equal(jobs.length, 1);
  assert.equal(jobs[0]!.state, "connected_global");
  assert.equal(jobs[0]!.event.event, "manager");
  assert.equal(jobs[0]!.event.link, null);
  assert.deepEqual(jobs[0]!.env, { NM_STATE: "70", NM_STATE_NAME: "connected_global", NM_OLD_STATE: "20", NM_OLD_STATE_NAME: "disconnected" });
  assert.deepEqual(nmManagerJobs({ fact: "manager-state", backend: BE, changes: { NMStateName: ["a", "b"] }, fields: {} }, f), []);
});

test("replay: each device's current state once; loopback and unmanaged devices are not replayed", () => {
  const m = model();
  const f = new EventFactory();
  applyBackendState(m, BE, 1, transitionFields(10, undefined, 0), "lo");
  applyBackendState(m, BE, 2, { ...transitionFields(100, undefined, 0), ...ip }, "lab0");
  const jobs = nmReplayJobs(m, ctx(m), f);
  assert.deepEqual(
    jobs.map((j) => [j.event.link, j.state, j.event.replay]),
    [["lab0", "activated", true]],
  );
  assert.equal(jobs[0]!.env.NM_STATE, "100");
  // lo activated (NM ≥ 1.42 may manage it) is still not replayed
  applyBackendState(m, BE, 1, transitionFields(100, 90, 0), "lo");
  assert.deepEqual(
    nmReplayJobs(m, ctx(m), f).map((j) => j.event.link),
    ["lab0"],
  );
  // not selected by monitoring.interfaces
  assert.deepEqual(nmReplayJobs(m, { ...ctx(m), selected: (n) => n !== "lab0" }, f), []);
});
