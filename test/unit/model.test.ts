import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { AddressRecord, LinkRecord, RouteRecord, RuleRecord } from "../../src/netlink/types.js";
import { addrKey, applyMessage, diffModels, emptyModel, linkByName, modelFrom, routeKey, ruleKey, type Fact } from "../../src/state/model.js";

const link = (over: Partial<LinkRecord> = {}): LinkRecord => ({
  index: 2,
  name: "eth0",
  flags: 0x11043,
  carrier: true,
  up: true,
  mtu: 1500,
  operstate: "up",
  mac: "02:00:00:00:00:01",
  type: 1,
  ...over,
});
const addr = (over: Partial<AddressRecord> = {}): AddressRecord => ({
  family: 4,
  index: 2,
  address: "192.0.2.10",
  prefixlen: 24,
  scope: 0,
  flags: 0x80,
  tentative: false,
  ...over,
});
const route = (over: Partial<RouteRecord> = {}): RouteRecord => ({
  family: 4,
  table: 254,
  dstLen: 0,
  srcLen: 0,
  tos: 0,
  gateway: "192.0.2.1",
  oif: 2,
  protocol: 3,
  scope: 0,
  type: 1,
  flags: 0,
  ...over,
});
const rule = (over: Partial<RuleRecord> = {}): RuleRecord => ({
  family: 4,
  priority: 32765,
  table: 202,
  src: "192.0.2.10",
  srcLen: 32,
  dstLen: 0,
  tos: 0,
  action: 1,
  protocol: 110,
  flags: 0,
  ...over,
});
const kinds = (fs: Fact[]) => fs.map((f) => f.fact);

test("link lifecycle facts", () => {
  const m = emptyModel();
  assert.deepEqual(kinds(applyMessage(m, { kind: "link", op: "new", link: link({ carrier: false, operstate: "lowerlayerdown" }) })), ["link-added"]);
  assert.deepEqual(kinds(applyMessage(m, { kind: "link", op: "new", link: link() })), ["carrier-up", "operstate"]);
  const same = applyMessage(m, { kind: "link", op: "new", link: link() });
  assert.deepEqual(same, [], "an identical RTM_NEWLINK is no fact");
  const mtu = applyMessage(m, { kind: "link", op: "new", link: link({ mtu: 9000 }) });
  assert.deepEqual(
    mtu.map((f) => (f.fact === "mtu" ? [f.link.mtu, f.previous] : f.fact)),
    [[9000, 1500]],
  );
  const ren = applyMessage(m, { kind: "link", op: "new", link: link({ name: "wan0", mtu: 9000 }) });
  assert.equal(ren[0]!.fact, "link-renamed");
  const r0 = ren[0]!;
  assert.equal(r0.fact === "link-renamed" ? r0.oldName : "", "eth0");
  assert.deepEqual(kinds(applyMessage(m, { kind: "link", op: "new", link: link({ name: "wan0", mtu: 9000, carrier: false, up: false }) })), ["admin-down", "carrier-down"]);
});

test("duplicate RTM_NEWADDR is suppressed; a flag change (DAD done) is a change", () => {
  const m = emptyModel();
  applyMessage(m, { kind: "link", op: "new", link: link() });
  const a6 = addr({ family: 6, address: "2001:db8::10", prefixlen: 64, flags: 0x40, tentative: true });
  assert.deepEqual(kinds(applyMessage(m, { kind: "addr", op: "new", addr: a6 })), ["address-added"]);
  assert.deepEqual(applyMessage(m, { kind: "addr", op: "new", addr: a6 }), []);
  const done = applyMessage(m, { kind: "addr", op: "new", addr: { ...a6, flags: 0, tentative: false } });
  assert.deepEqual(kinds(done), ["address-changed"]);
  assert.deepEqual(kinds(applyMessage(m, { kind: "addr", op: "del", addr: a6 })), ["address-removed"]);
  assert.deepEqual(applyMessage(m, { kind: "addr", op: "del", addr: a6 }), [], "deleting what is not there is no fact");
});

test("routes and rules by kernel identity; facts name the link", () => {
  const m = emptyModel();
  applyMessage(m, { kind: "link", op: "new", link: link() });
  const r = applyMessage(m, { kind: "route", op: "new", route: route() });
  assert.equal(r[0]!.fact === "route-added" && r[0].link, "eth0");
  assert.deepEqual(applyMessage(m, { kind: "route", op: "new", route: route() }), []);
  assert.deepEqual(kinds(applyMessage(m, { kind: "route", op: "new", route: route({ table: 202 }) })), ["route-added"]);
  assert.deepEqual(kinds(applyMessage(m, { kind: "rule", op: "new", rule: rule() })), ["rule-added"]);
  assert.deepEqual(kinds(applyMessage(m, { kind: "rule", op: "new", rule: rule({ priority: 32766, src: undefined, srcLen: 0, dst: "192.0.2.10", dstLen: 32 }) })), ["rule-added"]);
  assert.deepEqual(kinds(applyMessage(m, { kind: "rule", op: "del", rule: rule() })), ["rule-removed"]);
});

test("link removal takes its addresses and routes with it", () => {
  const m = emptyModel();
  applyMessage(m, { kind: "link", op: "new", link: link() });
  applyMessage(m, { kind: "addr", op: "new", addr: addr() });
  applyMessage(m, { kind: "route", op: "new", route: route() });
  assert.deepEqual(kinds(applyMessage(m, { kind: "link", op: "del", link: link() })), ["address-removed", "route-removed", "link-removed"]);
  assert.equal(m.addrs.size + m.routes.size + m.links.size, 0);
});

test("diffModels reports only real changes (resync after overflow)", () => {
  const a = modelFrom({ links: [link(), link({ index: 3, name: "eth1" })], addrs: [addr()], routes: [route()], rules: [rule()] });
  const same = modelFrom({ links: [link(), link({ index: 3, name: "eth1" })], addrs: [addr()], routes: [route()], rules: [rule()] });
  assert.deepEqual(diffModels(a, same), []);
  const b = modelFrom({
    links: [link({ carrier: false, operstate: "lowerlayerdown" }), link({ index: 4, name: "eth2" })],
    addrs: [addr({ address: "192.0.2.11" })],
    routes: [],
    rules: [rule()],
  });
  assert.deepEqual(kinds(diffModels(a, b)), ["carrier-down", "operstate", "link-added", "address-removed", "address-added", "route-removed", "link-removed"]);
});

test("linkByName follows renames", () => {
  const m = modelFrom({ links: [link(), link({ index: 3, name: "eth1" })], addrs: [], routes: [], rules: [] });
  assert.equal(linkByName(m, "eth1")?.index, 3);
  applyMessage(m, { kind: "link", op: "new", link: link({ index: 3, name: "wan0" }) });
  assert.equal(linkByName(m, "eth1"), undefined);
  assert.equal(linkByName(m, "wan0")?.index, 3);
});

test("object keys: the kernel identity as it always read, whichever fields are absent", () => {
  // the keys as template literals wrote them before they were built with join() (one flat string)
  const addrRef = (a: AddressRecord) => `${a.index}|${a.address}/${a.prefixlen}`;
  const routeRef = (r: RouteRecord) =>
    `${r.family}|${r.table}|${r.type}|${r.dst ?? "*"}/${r.dstLen}|${r.src ?? "*"}/${r.srcLen}|${r.tos}|${r.priority ?? "-"}|${r.oif ?? "-"}|${r.gateway ?? "-"}`;
  const ruleRef = (r: RuleRecord) =>
    `${r.family}|${r.priority ?? "-"}|${r.src ?? "*"}/${r.srcLen}|${r.dst ?? "*"}/${r.dstLen}|${r.tos}|${r.table}|${r.action}|${r.iifname ?? ""}|${r.oifname ?? ""}|${r.fwmark ?? ""}/${r.fwmask ?? ""}|${r.protocol}`;
  const u32 = fc.nat({ max: 0xffffffff });
  const ip = fc.oneof(fc.ipV4(), fc.ipV6());
  const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
  const strip = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  fc.assert(
    fc.property(u32, ip, fc.nat({ max: 128 }), (index, address, prefixlen) => {
      const a = addr({ index, address, prefixlen });
      assert.equal(addrKey(a), addrRef(a));
    }),
    { seed: 14, numRuns: 300 },
  );
  fc.assert(
    fc.property(
      fc.record({ table: u32, type: fc.nat(255), dst: opt(ip), dstLen: fc.nat(128), src: opt(ip), srcLen: fc.nat(128), tos: fc.nat(255) }),
      fc.record({ priority: opt(u32), oif: opt(u32), gateway: opt(ip) }),
      (base, more) => {
        const r = strip(route({ ...base, ...more }));
        assert.equal(routeKey(r), routeRef(r));
      },
    ),
    { seed: 14, numRuns: 300 },
  );
  fc.assert(
    fc.property(
      fc.record({ priority: opt(u32), src: opt(ip), dst: opt(ip), table: u32, action: fc.nat(255), protocol: fc.nat(255) }),
      fc.record({ iifname: opt(fc.string({ maxLength: 15 })), oifname: opt(fc.string({ maxLength: 15 })), fwmark: opt(u32), fwmask: opt(u32) }),
      (base, more) => {
        const r = strip(rule({ ...base, ...more }));
        assert.equal(ruleKey(r), ruleRef(r));
      },
    ),
    { seed: 14, numRuns: 300 },
  );
});
