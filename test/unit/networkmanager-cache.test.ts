// NetworkManager's objects kept current from PropertiesChanged (no D-Bus daemon, no root): the
// cache's ordering of replies against signals, its bounds, and the source building a state event
// from it at the StateChanged, without a round trip.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { NmObjectCache, type Props } from "../../src/sources/networkmanager-cache.js";
import { NetworkManagerSource } from "../../src/sources/networkmanager.js";
import type { CallSpec, Signal, SystemBus } from "../../src/dbus/bus.js";
import type { BackendSink } from "../../src/sources/backend.js";
import { createLogger } from "../../src/log.js";

const v = (signature: string, value: unknown) => ({ signature, value });
/** Let the source run: microtasks, and its sysfs reads (the ifindex of "lo"). */
const settle = async () => {
  for (let j = 0; j < 3; j++) {
    for (let i = 0; i < 50; i++) await Promise.resolve();
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** A reader whose replies the test releases, each with the receive sequence it chooses. */
function heldReader() {
  const out: Array<{ path: string; iface: string; answer: (props: Props, seq: number) => void; fail: (e: Error) => void }> = [];
  const read = (path: string, iface: string) =>
    new Promise<{ props: Props; seq: number }>((resolve, reject) => {
      out.push({ path, iface, answer: (props, seq) => resolve({ props, seq }), fail: reject });
    });
  return { out, read };
}

describe("NmObjectCache", () => {
  const IP4 = "org.freedesktop.NetworkManager.IP4Config";
  const P = "/org/freedesktop/NetworkManager/IP4Config/2";

  it("a signal received after the reply wins, even when its callback runs before the reply's continuation", async () => {
    const r = heldReader();
    const c = new NmObjectCache(r.read);
    const done = c.track(P, IP4);
    assert.equal(c.get(P, IP4), undefined, "not read yet");
    assert.equal(c.pending(P), true);
    // the reply was received as message 5, the signal as message 6: the signal's callback ran first
    c.changed(P, IP4, { Gateway: v("s", "10.0.0.2") }, [], 6);
    r.out[0]!.answer({ Gateway: v("s", "10.0.0.1"), Domains: v("as", ["lab"]) }, 5);
    await done;
    assert.deepEqual(c.get(P, IP4)?.Gateway, v("s", "10.0.0.2"));
    assert.deepEqual(c.get(P, IP4)?.Domains, v("as", ["lab"]));
    assert.equal(c.pending(P), false);
  });

  it("a reply received after a signal is newer than it", async () => {
    const r = heldReader();
    const c = new NmObjectCache(r.read);
    const done = c.track(P, IP4);
    c.changed(P, IP4, { Gateway: v("s", "10.0.0.2") }, [], 3);
    r.out[0]!.answer({ Gateway: v("s", "10.0.0.9") }, 4);
    await done;
    assert.deepEqual(c.get(P, IP4)?.Gateway, v("s", "10.0.0.9"));
    // and later signals move it on
    c.changed(P, IP4, { Gateway: v("s", "10.0.0.3") }, [], 7);
    assert.deepEqual(c.get(P, IP4)?.Gateway, v("s", "10.0.0.3"));
    c.changed(P, IP4, {}, ["Gateway"], 8);
    assert.equal(c.get(P, IP4)?.Gateway, undefined, "an invalidated property is dropped");
  });

  it("signals of objects not tracked (or under another interface) are ignored", () => {
    const c = new NmObjectCache(heldReader().read);
    assert.equal(c.changed(P, IP4, { Gateway: v("s", "10.0.0.2") }, [], 1), false);
    assert.equal(c.has(P), false);
    c.track(P, IP4).catch(assert.fail);
    assert.equal(c.changed(P, "org.freedesktop.NetworkManager.IP6Config", { Gateway: v("s", "::1") }, [], 2), false);
  });

  it("an object whose every needed property came by signal is usable before its read answers", () => {
    const r = heldReader();
    const c = new NmObjectCache(r.read);
    const D = "/org/freedesktop/NetworkManager/DHCP4Config/5";
    c.track(D, "org.freedesktop.NetworkManager.DHCP4Config").catch(assert.fail);
    assert.equal(c.get(D, "org.freedesktop.NetworkManager.DHCP4Config", ["Options"]), undefined);
    c.changed(D, "org.freedesktop.NetworkManager.DHCP4Config", { Options: v("a{sv}", { ip_address: v("s", "10.77.0.50") }) }, [], 9);
    assert.ok(c.get(D, "org.freedesktop.NetworkManager.DHCP4Config", ["Options"]));
    assert.equal(c.get(D, "org.freedesktop.NetworkManager.DHCP4Config"), undefined, "not loaded without the list");
  });

  it("a failed read leaves the object unloaded and tells why; the next track reads again", async () => {
    const r = heldReader();
    const c = new NmObjectCache(r.read);
    const first = c.refresh(P, IP4);
    r.out[0]!.fail(new Error("org.freedesktop.DBus.Error.UnknownObject"));
    assert.match(String(await first), /UnknownObject/);
    assert.equal(c.get(P, IP4), undefined);
    assert.equal(c.pending(P), false);
    assert.equal(c.has(P), true, "known as unreadable");
    const again = c.track(P, IP4);
    assert.equal(r.out.length, 2);
    r.out[1]!.answer({ Gateway: v("s", "10.0.0.1") }, 3);
    assert.equal(await again, undefined);
    assert.ok(c.get(P, IP4));
  });

  it("a reply for an object forgotten meanwhile is dropped", async () => {
    const r = heldReader();
    const c = new NmObjectCache(r.read);
    const done = c.track(P, IP4);
    c.forget(P);
    r.out[0]!.answer({ Gateway: v("s", "10.0.0.1") }, 2);
    await done;
    assert.equal(c.has(P), false);
  });

  it("bounded: objects, properties per object; names from the bus cannot reach the prototype", async () => {
    const read = (_p: string, _i: string) => Promise.resolve({ props: {}, seq: 1 });
    const c = new NmObjectCache(read, 8);
    for (let i = 0; i < 20; i++) c.track(`/org/freedesktop/NetworkManager/IP4Config/${i}`, IP4).catch(assert.fail);
    assert.equal(c.size, 8);
    assert.equal(c.has("/org/freedesktop/NetworkManager/IP4Config/0"), false, "the oldest went first");
    await settle();
    const many = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`P${i}`, i]));
    const last = "/org/freedesktop/NetworkManager/IP4Config/19";
    c.changed(last, IP4, many, [], 2);
    assert.equal(Object.keys(c.get(last, IP4)!).length, 128);
    c.changed(last, IP4, JSON.parse('{"__proto__": {"polluted": true}}'), [], 3);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    c.retain(new Set([last]));
    assert.equal(c.size, 1);
  });

  it("the bound never evicts the pinned interface's objects (devices)", () => {
    const read = (_p: string, _i: string) => new Promise<{ props: Props; seq: number }>(() => {});
    const DEVICE = "org.freedesktop.NetworkManager.Device";
    const c = new NmObjectCache(read, 4, DEVICE);
    for (let i = 0; i < 6; i++) c.track(`/org/freedesktop/NetworkManager/Devices/${i}`, DEVICE).catch(assert.fail);
    for (let i = 0; i < 10; i++) c.track(`/org/freedesktop/NetworkManager/IP4Config/${i}`, IP4).catch(assert.fail);
    for (let i = 0; i < 6; i++) assert.ok(c.has(`/org/freedesktop/NetworkManager/Devices/${i}`));
    assert.equal(c.size, 6 + 4);
    assert.ok(c.has("/org/freedesktop/NetworkManager/IP4Config/9") && !c.has("/org/freedesktop/NetworkManager/IP4Config/5"));
  });
});

// ---------------------------------------------------------------------------------------------

const NM = "org.freedesktop.NetworkManager";
const DEV = "/org/freedesktop/NetworkManager/Devices/1";
const IP4P = "/org/freedesktop/NetworkManager/IP4Config/1";
const AC1 = "/org/freedesktop/NetworkManager/ActiveConnection/1";
const AC2 = "/org/freedesktop/NetworkManager/ActiveConnection/2";
const SET = "/org/freedesktop/NetworkManager/Settings/1";
const DH1 = "/org/freedesktop/NetworkManager/DHCP4Config/1";
const DH2 = "/org/freedesktop/NetworkManager/DHCP4Config/2";
const UUID = "0b7c0a8e-2a4e-4f4b-9d36-8f1c2f1e7a11";

/**
 * NetworkManager with one device, "lo" (its ifindex comes from /sys, readable without root), activated.
 * Every message gets a receive sequence, as SystemBus gives it; GetAll of paths in `hold` waits for the test.
 */
class FakeNm {
  seq = 0;
  calls: string[] = [];
  hold = new Set<string>();
  held: Array<() => void> = [];
  private cbs: Array<(s: Signal) => void> = [];
  objects = new Map<string, Props>([
    [
      DEV,
      {
        Interface: v("s", "lo"),
        IpInterface: v("s", "lo"),
        State: v("u", 100),
        StateReason: v("(uu)", [100, 0]),
        Ip4Config: v("o", IP4P),
        Ip6Config: v("o", "/"),
        Dhcp4Config: v("o", DH1),
        Dhcp6Config: v("o", "/"),
        ActiveConnection: v("o", AC1),
      },
    ],
    [IP4P, { AddressData: v("aa{sv}", [{ address: v("s", "10.77.0.50"), prefix: v("u", 24) }]), Gateway: v("s", "10.77.0.1") }],
    [DH1, { Options: v("a{sv}", { ip_address: v("s", "10.77.0.50") }) }],
    [DH2, { Options: v("a{sv}", {}) }],
    [AC1, { Id: v("s", "lab"), Uuid: v("s", UUID), Connection: v("o", SET) }],
    [AC2, { Id: v("s", "lab"), Uuid: v("s", UUID), Connection: v("o", SET) }],
    [SET, { Filename: v("s", "/etc/NetworkManager/system-connections/lab.nmconnection") }],
  ]);
  onClosed() {}
  onSignal(cb: (s: Signal) => void) {
    this.cbs.push(cb);
  }
  addMatch() {
    return Promise.resolve();
  }
  nameHasOwner() {
    return Promise.resolve(true);
  }
  disconnect() {}
  async call(c: CallSpec): Promise<unknown[]> {
    return (await this.callSeq(c)).body;
  }
  callSeq(c: CallSpec): Promise<{ body: unknown[]; seq: number }> {
    this.calls.push(`${c.member} ${c.path}`);
    const reply = (body: unknown[]) => ({ body, seq: ++this.seq });
    switch (c.member) {
      case "GetNameOwner":
        return Promise.resolve(reply([":1.5"]));
      case "GetDevices":
        return Promise.resolve(reply([[DEV]]));
      case "Get":
        return Promise.resolve(reply([v("u", 70)]));
      case "GetAll": {
        const props = this.objects.get(c.path);
        if (!props) return Promise.reject(new Error("org.freedesktop.DBus.Error.UnknownObject"));
        if (!this.hold.has(c.path)) return Promise.resolve(reply([structuredClone(props)]));
        return new Promise((resolve) => this.held.push(() => resolve(reply([structuredClone(this.objects.get(c.path))]))));
      }
      default:
        return Promise.reject(new Error(`unexpected call ${c.member}`));
    }
  }
  /** NetworkManager changes properties of an object and says so. */
  change(path: string, iface: string, props: Props) {
    Object.assign(this.objects.get(path) ?? this.objects.set(path, {}).get(path)!, props);
    this.emit({ sender: ":1.5", path, iface: "org.freedesktop.DBus.Properties", member: "PropertiesChanged", body: [iface, props, []] });
  }
  state(n: number, o: number) {
    this.change(DEV, `${NM}.Device`, { State: v("u", n) });
    this.emit({ sender: ":1.5", path: DEV, iface: `${NM}.Device`, member: "StateChanged", body: [n, o, 0] });
  }
  emit(s: Signal) {
    const m = { ...s, seq: ++this.seq };
    for (const cb of this.cbs) cb(m);
  }
}

async function attached() {
  const nm = new FakeNm();
  const states: Array<Record<string, string>> = [];
  let on = false;
  const sink: BackendSink = {
    linkState: (_index, _name, fields) => states.push(fields),
    linkGone: () => {},
    managerState: () => {},
    attached: (a) => {
      on = a;
    },
    unavailable: () => {},
  };
  const log = createLogger({ level: "error", format: "json", sink: { write: () => true } });
  const src = new NetworkManagerSource(log, sink, { connect: () => Promise.resolve(nm as unknown as SystemBus) });
  src.start();
  await settle();
  assert.equal(on, true, "attached");
  return { nm, src, states };
}

const env = (f: Record<string, string> | undefined) => JSON.parse(f?.NMDispatcherEnv ?? "{}") as Record<string, string>;

describe("NetworkManager source: state events from the cache", () => {
  it("a reactivation: activated is reported at its StateChanged with NM's new data, no D-Bus call on the way", async () => {
    const { nm, src, states } = await attached();
    assert.equal(env(states.at(-1)).CONNECTION_UUID, UUID, "attach read everything");
    // deactivation: NM drops the lease and the active connection
    const callsAtDeactivation = nm.calls.length;
    nm.change(DEV, `${NM}.Device`, { Dhcp4Config: v("o", "/"), ActiveConnection: v("o", "/") });
    nm.change(IP4P, `${NM}.IP4Config`, { AddressData: v("aa{sv}", []), Gateway: v("s", "") });
    nm.state(30, 100);
    await settle();
    // reactivation: NM announces the new objects and their data before the states that follow
    nm.change(DEV, `${NM}.Device`, { ActiveConnection: v("o", AC2) });
    nm.state(40, 30);
    nm.state(50, 40);
    nm.state(70, 50);
    nm.change(DEV, `${NM}.Device`, { Dhcp4Config: v("o", DH2) });
    nm.change(DH2, `${NM}.DHCP4Config`, { Options: v("a{sv}", { ip_address: v("s", "10.77.0.51") }) });
    await settle(); // the reads of the new objects answer during the activation
    nm.change(IP4P, `${NM}.IP4Config`, { AddressData: v("aa{sv}", [{ address: v("s", "10.77.0.51"), prefix: v("u", 24) }]), Gateway: v("s", "10.77.0.1") });
    nm.state(80, 70);
    nm.state(90, 80);
    const callsBefore = nm.calls.length;
    const before = states.length;
    nm.state(100, 90);
    await settle();
    const activated = states
      .slice(before)
      .filter((s) => s.NMDeviceState === "100")
      .at(-1);
    assert.ok(activated, "activated reported");
    assert.deepEqual(nm.calls.slice(callsBefore), [], "no D-Bus call between the StateChanged and the report");
    const e = env(activated);
    assert.equal(e.IP4_ADDRESS_0, "10.77.0.51/24 10.77.0.1");
    assert.equal(e.DHCP4_IP_ADDRESS, "10.77.0.51");
    assert.equal(e.CONNECTION_UUID, UUID);
    assert.equal(activated.NMAddresses, "10.77.0.51/24");
    // the connection's settings were kept from the first activation: only the new objects were read
    assert.deepEqual(
      nm.calls
        .slice(callsAtDeactivation)
        .filter((c) => c.startsWith("GetAll"))
        .sort(),
      [`GetAll ${AC2}`, `GetAll ${DH2}`],
    );
    src.stop();
  });

  it("a read still out at activated (the active connection's) is waited for; the states before it are not held up", async () => {
    const { nm, src, states } = await attached();
    nm.state(30, 100);
    await settle();
    nm.hold.add(AC2);
    nm.change(DEV, `${NM}.Device`, { ActiveConnection: v("o", AC2) });
    nm.state(70, 30);
    await settle();
    const ipConfig = states.filter((s) => s.NMDeviceState === "70").at(-1);
    assert.ok(ipConfig, "ip-config reported without waiting for the read");
    assert.equal(env(ipConfig).CONNECTION_UUID, undefined);
    const before = states.length;
    nm.state(100, 70);
    await settle();
    assert.equal(states.slice(before).filter((s) => s.NMDeviceState === "100").length, 0, "activated waits for CONNECTION_*");
    for (const release of nm.held.splice(0)) release();
    await settle();
    const activated = states
      .slice(before)
      .filter((s) => s.NMDeviceState === "100")
      .at(-1);
    assert.equal(env(activated).CONNECTION_UUID, UUID);
    assert.equal(env(activated).CONNECTION_FILENAME, "/etc/NetworkManager/system-connections/lab.nmconnection");
    src.stop();
  });

  it("a lease's options changing while activated update the model from the signal, without a read", async () => {
    const { nm, src, states } = await attached();
    const n = states.length;
    const calls = nm.calls.length;
    nm.change(DH1, `${NM}.DHCP4Config`, { Options: v("a{sv}", { ip_address: v("s", "10.77.0.50"), domain_name_servers: v("s", "10.77.0.9") }) });
    await settle();
    assert.equal(states.length, n + 1);
    assert.equal(env(states.at(-1)).DHCP4_DOMAIN_NAME_SERVERS, "10.77.0.9");
    assert.equal(states.at(-1)!.NMDeviceState, undefined, "no state in it: not a state change");
    assert.deepEqual(nm.calls.slice(calls), []);
    src.stop();
  });
});
