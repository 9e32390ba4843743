// Pure parts of the dispatcher compatibility: NetworkManager-dispatcher's variables and events,
// networkd-dispatcher's address variables, hostnamed's signal, the merge of hook directories.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { LinkRecord } from "../../src/netlink/types.js";
import { applyBackendState, applyManagerState, applyMessage, emptyModel } from "../../src/state/model.js";
import { EventFactory, type DeriveContext } from "../../src/events/derive.js";
import { nmDeviceEnv, nmJobs, nmManagerJobs } from "../../src/events/networkmanager.js";
import { transitionFields } from "../../src/sources/networkmanager-states.js";
import { leaseKey, nmdVariables } from "../../src/sources/networkmanager.js";
import { networkctlAddresses, networkdDispatcherAddresses, networkdDispatcherJobs } from "../../src/events/networkd.js";
import { hostnamedChange } from "../../src/sources/hostnamed.js";
import { discoverMerged } from "../../src/actions/hooks/merge.js";
import { chainProblem } from "../../src/actions/hooks/discover.js";
import { Dispatcher } from "../../src/actions/hooks/dispatcher.js";

const v = (signature: string, value: unknown) => ({ signature, value });
const lab0: LinkRecord = { index: 2, name: "lab0", flags: 0, carrier: true, up: true, mtu: 1500, operstate: "up", type: 1 };
const ctx = (m: ReturnType<typeof emptyModel>): DeriveContext => ({
  ownRoute: () => false, selected: () => true, extraState: (i) => m.backend.get(i)?.fields,
});

test("NMD variables: read from NM's objects, validated, bounded", () => {
  const env = nmdVariables({
    device: { IpInterface: v("s", "lab0") },
    ip4: {
      AddressData: v("aa{sv}", [{ address: v("s", "10.77.0.50"), prefix: v("u", 24) }, { address: v("s", "10.77.0.51"), prefix: v("u", 24) }]),
      Gateway: v("s", "10.77.0.1"), NameserverData: v("aa{sv}", [{ address: v("s", "10.77.0.1") }]), Domains: v("as", ["lab.test", "bad domain;"]),
    },
    active: { Id: v("s", "lab"), Uuid: v("s", "0F0F0F0F-4E56-4000-8000-000000000001"), Connection: v("o", "/org/freedesktop/NetworkManager/Settings/1") },
    settings: { Filename: v("s", "/etc/NetworkManager/system-connections/lab.nmconnection") },
    dhcp4: { Options: v("a{sv}", { ip_address: v("s", "10.77.0.50"), domain_name_servers: v("s", "10.77.0.1"), "bad-name": v("s", "x"), evil: v("s", "a\nb"), expiry: v("s", "1796036571") }) },
  });
  assert.deepEqual(env, {
    CONNECTION_ID: "lab", CONNECTION_UUID: "0f0f0f0f-4e56-4000-8000-000000000001",
    CONNECTION_FILENAME: "/etc/NetworkManager/system-connections/lab.nmconnection", DEVICE_IP_IFACE: "lab0",
    IP4_NUM_ADDRESSES: "2", IP4_ADDRESS_0: "10.77.0.50/24 10.77.0.1", IP4_ADDRESS_1: "10.77.0.51/24 10.77.0.1",
    IP4_GATEWAY: "10.77.0.1", IP4_NAMESERVERS: "10.77.0.1", IP4_DOMAINS: "lab.test",
    DHCP4_DOMAIN_NAME_SERVERS: "10.77.0.1", DHCP4_EXPIRY: "1796036571", DHCP4_IP_ADDRESS: "10.77.0.50",
  });
  // the expiry alone does not make a lease change
  assert.equal(leaseKey(env, "DHCP4_"), leaseKey({ ...env, DHCP4_EXPIRY: "1" }, "DHCP4_"));
  assert.notEqual(leaseKey(env, "DHCP4_"), leaseKey({ ...env, DHCP4_DOMAIN_NAME_SERVERS: "10.77.0.53" }, "DHCP4_"));
  // in the environment: only NMD's names
  const e = nmDeviceEnv("lab0", { ...transitionFields(100, 90, 0), NMDispatcherEnv: JSON.stringify({ ...env, LD_PRELOAD: "/x", PATH: "/tmp" }) });
  assert.equal(e.IP4_ADDRESS_0, "10.77.0.50/24 10.77.0.1");
  assert.equal(e.LD_PRELOAD, undefined);
  assert.equal(e.PATH, undefined);
});

test("dhcp4-change: lease options changed while activated; not during activation, not on a renewal that only moves the expiry", () => {
  const m = emptyModel();
  applyMessage(m, { kind: "link", op: "new", link: lab0 });
  const f = new EventFactory();
  const jobs = (fields: Record<string, string>) => applyBackendState(m, "NetworkManager", 2, fields, "lab0")
    .flatMap((fact) => fact.fact === "backend-state" ? nmJobs(fact, m, ctx(m), f) : []);
  assert.deepEqual(jobs({ ...transitionFields(70, 50, 0), NMDhcp4: "a" }).map((j) => j.event.event), ["ip-config"]);
  assert.deepEqual(jobs({ NMDhcp4: "b" }).map((j) => j.event.event), [], "not activated yet");
  assert.deepEqual(jobs({ ...transitionFields(100, 90, 0), NMDhcp4: "c" }).map((j) => j.event.event), ["activated"]);
  assert.deepEqual(jobs({ NMDhcp4: "c" }).map((j) => j.event.event), [], "same options");
  const [j] = jobs({ NMDhcp4: "d", NMDispatcherEnv: JSON.stringify({ DHCP4_DOMAIN_NAME_SERVERS: "10.77.0.53" }) });
  assert.equal(j?.event.event, "dhcp4-change");
  assert.equal(j?.env.DHCP4_DOMAIN_NAME_SERVERS, "10.77.0.53");
  assert.deepEqual(jobs({ NMDhcp4: "", NMDhcp6: "x" }).map((x) => x.event.event), ["dhcp6-change"]);
});

test("connectivity-change from the manager's Connectivity, not for its first value", () => {
  const m = emptyModel();
  const f = new EventFactory();
  const jobs = (u: Record<string, string>) => applyManagerState(m, "NetworkManager", u).flatMap((fact) => fact.fact === "manager-state" ? nmManagerJobs(fact, f) : []);
  assert.deepEqual(jobs({ NMConnectivity: "1", NMConnectivityName: "NONE" }), []);
  const [j] = jobs({ NMConnectivity: "4", NMConnectivityName: "FULL" });
  assert.equal(j?.event.event, "connectivity-change");
  assert.equal(j?.env.CONNECTIVITY_STATE, "FULL");
  assert.equal(j?.event.link, null);
});

test("networkd-dispatcher's addresses: networkctl's order (v4 first, by scope, by address), 127.* and fe80:* out of the lists, ADDR the first", () => {
  const m = emptyModel();
  applyMessage(m, { kind: "link", op: "new", link: lab0 });
  const add = (family: 4 | 6, address: string, scope: number, flags = 0) =>
    applyMessage(m, { kind: "addr", op: "new", addr: { family, index: 2, address, prefixlen: family === 4 ? 24 : 64, scope, flags, tentative: false } });
  add(6, "fe80::1", 253);
  add(6, "2001:db8::20", 0);
  add(4, "10.77.0.9", 0);
  add(4, "10.77.0.10", 0);
  add(6, "2001:db8::5", 0, 0x20); // deprecated: networkctl leaves it out
  assert.deepEqual(networkctlAddresses(m, 2), ["10.77.0.9", "10.77.0.10", "2001:db8::20", "fe80::1"]);
  assert.deepEqual(networkdDispatcherAddresses(m, 2), { ADDR: "10.77.0.9", IP_ADDRS: "10.77.0.9 10.77.0.10", IP6_ADDRS: "2001:db8::20" });
});

test("networkd-dispatcher jobs: the administrative state, then the operational one, each once; carrier/no-carrier are not coalesced together", () => {
  const m = emptyModel();
  applyMessage(m, { kind: "link", op: "new", link: lab0 });
  const f = new EventFactory();
  const jobs = (u: Record<string, string>) => applyBackendState(m, "systemd-networkd", 2, u, "lab0")
    .flatMap((fact) => fact.fact === "backend-state" ? networkdDispatcherJobs(fact, m, ctx(m), f) : []);
  const first = jobs({ AdministrativeState: "configuring", OperationalState: "carrier" });
  assert.deepEqual(first.map((j) => j.state), ["configuring", "carrier"]);
  assert.deepEqual(jobs({ AdministrativeState: "configuring", OperationalState: "carrier" }), [], "no change, no run");
  const [nc] = jobs({ OperationalState: "no-carrier" });
  assert.equal(nc?.env.STATE, undefined, "STATE is the daemon's: job.state");
  assert.equal(nc?.state, "no-carrier");
  assert.equal(nc?.env.IFACE, "lab0");
  assert.equal(nc?.env.OperationalState, "no-carrier");
  assert.equal(nc?.env.AdministrativeState, "configuring");
  assert.notEqual(Dispatcher.keyOf(first[1]!), Dispatcher.keyOf(nc));
});

test("hostnamed: only hostname1's name properties count", () => {
  assert.deepEqual(hostnamedChange(["org.freedesktop.hostname1", { StaticHostname: v("s", "box"), Hostname: v("s", "box") }, []]), { staticHostname: "box" });
  assert.deepEqual(hostnamedChange(["org.freedesktop.hostname1", {}, ["Hostname"]]), {});
  assert.deepEqual(hostnamedChange(["org.freedesktop.hostname1", { StaticHostname: v("s", "a;reboot") }, []]), {});
  assert.equal(hostnamedChange(["org.freedesktop.hostname1", { Chassis: v("s", "vm") }, []]), undefined);
  assert.equal(hostnamedChange(["org.freedesktop.timedate1", { Hostname: v("s", "x") }, []]), undefined);
});

test("merged hook directories: /etc replaces by name, a /dev/null link masks, a broken admin copy still claims the name", (t) => {
  // hook directories need a chain of directories nobody else can write: next to this file, not /tmp
  // (a clone under /tmp is not: then, as root, /run)
  const uid = process.getuid?.() ?? 0;
  const here = [dirname(fileURLToPath(import.meta.url)), "/run"].find((d) => !chainProblem(d, uid));
  if (here === undefined) { t.skip("neither this directory nor /run is a trusted directory chain"); return; }
  const root = mkdtempSync(join(here, "tmp-merge-"));
  try {
    const etc = join(root, "etc"), usr = join(root, "usr");
    for (const d of [etc, usr]) { mkdirSync(join(d, "routable.d"), { recursive: true }); chmodSync(d, 0o755); chmodSync(join(d, "routable.d"), 0o755); chmodSync(root, 0o755); }
    const put = (dir: string, name: string, mode = 0o755) => { writeFileSync(join(dir, "routable.d", name), "#!/bin/sh\n"); chmodSync(join(dir, "routable.d", name), mode); };
    put(usr, "10-a"); put(usr, "20-b"); put(usr, "30-c"); put(usr, "40-d");
    put(etc, "20-b");
    symlinkSync("/dev/null", join(etc, "routable.d", "30-c"));
    put(etc, "40-d", 0o644);
    put(etc, "50-e");
    const d = discoverMerged([etc, usr], "routable", uid);
    assert.deepEqual(d.scripts.map((s) => [s.name, s.origin]), [["10-a", usr], ["20-b", etc], ["50-e", etc]]);
    assert.deepEqual(d.scripts.find((s) => s.name === "20-b")?.overrides, [join(usr, "routable.d", "20-b")]);
    assert.deepEqual(d.masked.map((x) => [x.name, x.masks]), [["30-c", [join(usr, "routable.d", "30-c")]]]);
    assert.deepEqual(d.skipped.map((x) => [x.name, x.reason]), [["40-d", "not executable"]]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
