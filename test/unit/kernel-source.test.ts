// The kernel source's stateful parts with fake sockets and fake timers (no root, no netlink): the
// buffer around the initial dump and around a resync, the overflow re-dump that reports only real
// changes, and the coalesced route re-read after a link goes down.
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import assert from "node:assert/strict";
import { KernelSource, type KernelSockets } from "../../src/sources/kernel.js";
import type { DumpResult, RtnlMonitorOptions, RtnlRequester } from "../../src/netlink/rtnl.js";
import type { AddressRecord, LinkRecord, ObjectKind, RouteRecord, RtMessage } from "../../src/netlink/types.js";
import { createLogger } from "../../src/log.js";
import type { Fact } from "../../src/state/model.js";
import { ModelStore } from "../../src/state/store.js";

const log = createLogger({ level: "error", format: "json", sink: { write: () => true } });

const link = (over: Partial<LinkRecord> = {}): LinkRecord => ({
  index: 2,
  name: "eth0",
  flags: 0x11043,
  carrier: true,
  up: true,
  mtu: 1500,
  operstate: "up",
  type: 1,
  ...over,
});
const addr = (address: string, over: Partial<AddressRecord> = {}): AddressRecord => ({
  family: 4,
  index: 2,
  address,
  prefixlen: 24,
  scope: 0,
  flags: 0x80,
  tentative: false,
  ...over,
});
const route = (over: Partial<RouteRecord> = {}): RouteRecord => ({
  family: 4,
  table: 254,
  dst: "198.51.100.0",
  dstLen: 24,
  srcLen: 0,
  tos: 0,
  oif: 2,
  protocol: 4,
  scope: 0,
  type: 1,
  flags: 0,
  ...over,
});

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: Error): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Fake sockets: the test delivers notifications and answers each dump when it chooses. What it puts
 * in `queued` waits on the socket: readNow() delivers it.
 */
function fakeKernel() {
  let handlers: RtnlMonitorOptions | undefined;
  const queued: RtMessage[] = [];
  const dumps: Array<{ kind: ObjectKind; answer: Deferred<RtMessage[]> }> = [];
  const full = deferred<DumpResult>();
  const requester = {
    dumpAll: () => full.promise,
    dump: (kind: ObjectKind) => {
      const answer = deferred<RtMessage[]>();
      dumps.push({ kind, answer });
      return answer.promise;
    },
    close: () => {},
  };
  const sockets: KernelSockets = {
    monitor: (o) => {
      handlers = o;
      return {
        readNow: () => {
          if (queued.length) handlers!.onMessages(queued.splice(0));
        },
        close: () => {},
      };
    },
    requester: () => requester as unknown as RtnlRequester,
  };
  return {
    sockets,
    full,
    dumps,
    queued,
    notify: (...msgs: RtMessage[]) => handlers!.onMessages(msgs),
    overflow: () => handlers!.onOverflow("ENOBUFS"),
  };
}

function source(k: ReturnType<typeof fakeKernel>) {
  const facts: Fact[][] = [];
  const src = new KernelSource({ log, sockets: k.sockets, onFacts: (f) => facts.push(f) });
  return { src, facts, kinds: () => facts.flat().map((f) => f.fact) };
}

/** Lets promise callbacks (dump answers, finally()) run. */
const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

describe("kernel source", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"] }));
  afterEach(() => mock.timers.reset());

  it("notifications that arrive during the initial dump are applied after it, as changes to it", async () => {
    const k = fakeKernel();
    const s = source(k);
    const started = s.src.start();
    k.notify({ kind: "link", op: "new", link: link({ carrier: false, operstate: "lowerlayerdown" }) });
    assert.equal(s.facts.length, 0, "nothing is applied before the dump");
    assert.deepEqual(s.src.health(), { state: "syncing", ok: false, detail: "initial dump not finished" });
    k.full.resolve({ links: [link()], addrs: [], routes: [], rules: [] });
    await started;
    assert.equal(s.src.synced, true);
    assert.deepEqual(s.src.health(), { state: "synced", ok: true });
    assert.deepEqual(s.kinds(), ["carrier-down", "operstate"], "the dump is the base; the buffered change applies on top");
    assert.equal(s.src.model.links.get(2)?.carrier, false, "the newer state wins");
    s.src.close();
  });

  it("an overflow re-dumps everything and reports only what changed; news during the re-dump comes after", async () => {
    const k = fakeKernel();
    const s = source(k);
    const started = s.src.start();
    k.full.resolve({ links: [link()], addrs: [addr("192.0.2.10")], routes: [route()], rules: [] });
    await started;
    k.overflow();
    await settle();
    assert.deepEqual(
      k.dumps.map((d) => d.kind),
      ["link"],
      "dumps run one at a time",
    );
    // while the re-dump runs, a notification newer than it arrives: it must wait for the re-dump
    k.notify({ kind: "addr", op: "del", addr: addr("192.0.2.20") });
    assert.equal(s.facts.length, 0);
    const answers: Record<ObjectKind, RtMessage[]> = {
      link: [{ kind: "link", op: "new", link: link({ mtu: 9000 }) }],
      addr: [
        { kind: "addr", op: "new", addr: addr("192.0.2.10") },
        { kind: "addr", op: "new", addr: addr("192.0.2.20") },
      ],
      route: [{ kind: "route", op: "new", route: route() }],
      rule: [],
    };
    for (let i = 0; i < 4; i++) {
      await settle();
      const d = k.dumps[i]!;
      d.answer.resolve(answers[d.kind]);
    }
    await settle();
    assert.deepEqual(k.dumps.map((d) => d.kind).sort(), ["addr", "link", "route", "rule"]);
    assert.deepEqual(
      s.facts.map((b) => b.map((f) => f.fact)),
      [["mtu", "address-added"], ["address-removed"]],
      "one batch of real changes (the unchanged address and route are silent), then the buffered removal",
    );
    assert.deepEqual(
      [...s.src.model.addrs.values()].map((a) => a.address),
      ["192.0.2.10"],
    );
    assert.equal(s.src.stats.resyncs, 1);
    s.src.close();
  });

  it("resync requests during a resync coalesce into one follow-up", async () => {
    const k = fakeKernel();
    const s = source(k);
    const started = s.src.start();
    k.full.resolve({ links: [link()], addrs: [], routes: [], rules: [] });
    await started;
    const first = s.src.resync(["route"]);
    const more = [s.src.resync(["rule"]), s.src.resync(["rule"]), s.src.resync(["route"])];
    for (let i = 0; i < 3; i++) {
      await settle();
      k.dumps[i]?.answer.resolve([]);
    }
    await Promise.all([first, ...more]);
    assert.deepEqual(
      k.dumps.map((d) => d.kind),
      ["route", "rule", "route"],
      "the first, then one run for everything asked meanwhile",
    );
    assert.equal(s.src.stats.resyncs, 2);
    s.src.close();
  });

  it("a link set down re-reads the routes once, 20 ms after the last trigger and at most 250 ms after the first", async () => {
    const k = fakeKernel();
    const s = source(k);
    const started = s.src.start();
    const links = [2, 3].map((index) => link({ index, name: `eth${index}` }));
    k.full.resolve({ links, addrs: [], routes: [route()], rules: [] });
    await started;
    k.notify({ kind: "link", op: "new", link: link({ up: false, flags: 0x1000, carrier: false, operstate: "down" }) });
    mock.timers.tick(19);
    assert.equal(k.dumps.length, 0, "not before 20 ms");
    mock.timers.tick(1);
    assert.deepEqual(
      k.dumps.map((d) => d.kind),
      ["route"],
    );
    k.dumps[0]!.answer.resolve([]);
    await settle();
    assert.deepEqual(
      s.facts.at(-1)?.map((f) => f.fact),
      ["route-removed"],
      "the route the kernel dropped silently is reported",
    );
    // a flood: a link goes down every 10 ms for 400 ms; the re-read waits for quiet, but not past 250 ms
    const eth3 = (up: boolean) => link({ index: 3, name: "eth3", up, flags: up ? 0x11043 : 0x1000, carrier: up, operstate: up ? "up" : "down" });
    for (let t = 0; t < 400; t += 10) {
      k.notify({ kind: "link", op: "new", link: eth3(true) }, { kind: "link", op: "new", link: eth3(false) });
      if (t === 240) assert.equal(k.dumps.length, 1, "re-armed while the triggers keep coming");
      if (t === 250) assert.equal(k.dumps.length, 2, "but read 250 ms after the first trigger of the flood");
      mock.timers.tick(10);
    }
    mock.timers.tick(20);
    assert.equal(k.dumps.length, 2, "a re-read asked for while one runs waits for it");
    k.dumps[1]!.answer.resolve([]);
    await settle();
    // the notifications that came during that re-read were buffered; applied now, they arm the timer
    mock.timers.tick(20);
    assert.equal(k.dumps.length, 3, "then once more for the rest of the flood");
    s.src.close();
  });

  it("an address removal re-reads routes only when a route still uses it as its source", async () => {
    const k = fakeKernel();
    const s = source(k);
    const started = s.src.start();
    k.full.resolve({
      links: [link()],
      addrs: [addr("192.0.2.10"), addr("192.0.2.11")],
      routes: [route({ prefsrc: "192.0.2.10" })],
      rules: [],
    });
    await started;
    k.notify({ kind: "addr", op: "del", addr: addr("192.0.2.11") });
    mock.timers.tick(300);
    assert.equal(k.dumps.length, 0, "no route used 192.0.2.11");
    k.notify({ kind: "addr", op: "del", addr: addr("192.0.2.10") });
    mock.timers.tick(20);
    assert.deepEqual(
      k.dumps.map((d) => d.kind),
      ["route"],
    );
    s.src.close();
  });

  it("an address's own local route is no reason to re-read: the kernel notifies its removal", async () => {
    const k = fakeKernel();
    const s = source(k);
    const started = s.src.start();
    const local = route({ table: 255, type: 2, scope: 254, protocol: 2, dst: "192.0.2.10", dstLen: 32, prefsrc: "192.0.2.10" });
    k.full.resolve({ links: [link()], addrs: [addr("192.0.2.10", { prefixlen: 32 })], routes: [local], rules: [] });
    await started;
    // the address's removal is read, its local route's removal not yet (the kernel sends it next)
    k.notify({ kind: "addr", op: "del", addr: addr("192.0.2.10", { prefixlen: 32 }) });
    mock.timers.tick(300);
    assert.equal(k.dumps.length, 0, "no re-read for the address's own local route");
    k.notify({ kind: "route", op: "del", route: local });
    assert.equal(s.src.model.routes.size, 0);
    // another route with that source, e.g. one a user added with `src`, still costs a re-read
    k.notify({ kind: "addr", op: "new", addr: addr("192.0.2.10", { prefixlen: 32 }) });
    k.notify({ kind: "route", op: "new", route: route({ prefsrc: "192.0.2.10" }) });
    k.notify({ kind: "addr", op: "del", addr: addr("192.0.2.10", { prefixlen: 32 }) });
    mock.timers.tick(20);
    assert.deepEqual(
      k.dumps.map((d) => d.kind),
      ["route"],
    );
    s.src.close();
  });

  it("the check after an address removal first applies what is queued on the socket", async () => {
    const k = fakeKernel();
    const s = source(k);
    const started = s.src.start();
    const prefix = route({ dst: "192.0.2.0", dstLen: 24, scope: 253, protocol: 2, prefsrc: "192.0.2.10" });
    k.full.resolve({ links: [link()], addrs: [addr("192.0.2.10")], routes: [prefix], rules: [] });
    await started;
    k.notify({ kind: "addr", op: "del", addr: addr("192.0.2.10") });
    // the kernel's notification of the prefix route's removal waits on the socket when the timer fires
    k.queued.push({ kind: "route", op: "del", route: prefix });
    mock.timers.tick(20);
    assert.equal(k.dumps.length, 0, "the queued removal was applied before the check: nothing to re-read");
    assert.equal(s.src.model.routes.size, 0);
    assert.deepEqual(s.kinds(), ["address-removed", "route-removed"]);
    mock.timers.tick(300);
    assert.equal(k.dumps.length, 0, "and no second check was left armed that re-reads");
    s.src.close();
  });

  it("backend state in the shared store survives the initial dump and a re-dump, untouched", async () => {
    const k = fakeKernel();
    const store = new ModelStore();
    const src = new KernelSource({ log, sockets: k.sockets, store, onFacts: () => {} });
    const model = store.model;
    // a backend that attached before the kernel's dump finished
    store.backendState("systemd-networkd", 2, { OperationalState: "routable" }, "eth0");
    store.managerState("systemd-networkd", { OperationalState: "routable" });
    const started = src.start();
    k.full.resolve({ links: [link()], addrs: [], routes: [], rules: [] });
    await started;
    assert.equal(src.model, model, "one model object for everyone");
    assert.equal(model.backend.get(2)?.fields.OperationalState, "routable");
    const resync = src.resync(["link", "addr", "route", "rule"]);
    for (let i = 0; i < 4; i++) {
      await settle();
      k.dumps[i]?.answer.resolve(i === 0 ? [{ kind: "link", op: "new", link: link() }] : []);
    }
    await resync;
    assert.equal(model.backend.get(2)?.fields.OperationalState, "routable", "a re-dump knows nothing of backends and leaves them");
    assert.equal(model.manager.OperationalState, "routable");
    assert.deepEqual(store.backendState("systemd-networkd", 2, { OperationalState: "routable" }), [], "so a backend re-read of the same state is no change");
    src.close();
  });
});
