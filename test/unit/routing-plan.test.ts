// The policy routing planner (pure): model + config → rules and routes, and the diff against what
// the kernel holds under our protocol.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AddressRecord, LinkRecord, RouteRecord, RuleRecord } from "../../src/netlink/types.js";
import { addrKey, emptyModel, routeKey, ruleKey, type NetworkModel } from "../../src/state/model.js";
import { defaultConfig } from "../../src/config/index.js";
import {
  diffPlan,
  formatIp,
  networkdManagesForeignRules,
  parseIp,
  planRouting,
  routeId,
  ruleId,
  taggedObjects,
  type PlannedRoute,
  type PlannedRule,
  type RoutingConfig,
} from "../../src/actions/routing/plan.js";

const cfg = (over: Partial<RoutingConfig> = {}): RoutingConfig => ({ ...defaultConfig().routing, policy_rules: ["wan1"], ...over });

const link = (over: Partial<LinkRecord> = {}): LinkRecord => ({
  index: 3,
  name: "wan1",
  flags: 0x11043,
  carrier: true,
  up: true,
  mtu: 1500,
  operstate: "up",
  type: 1,
  ...over,
});
const addr = (over: Partial<AddressRecord> = {}): AddressRecord => ({
  family: 4,
  index: 3,
  address: "10.88.0.2",
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
  gateway: "10.88.0.1",
  oif: 3,
  protocol: 3,
  scope: 0,
  type: 1,
  flags: 0,
  ...over,
});

function model(p: { links?: LinkRecord[]; addrs?: AddressRecord[]; routes?: RouteRecord[]; rules?: RuleRecord[] }): NetworkModel {
  const m = emptyModel();
  for (const l of p.links ?? [link()]) m.links.set(l.index, l);
  for (const a of p.addrs ?? []) m.addrs.set(addrKey(a), a);
  for (const r of p.routes ?? []) m.routes.set(routeKey(r), r);
  for (const r of p.rules ?? []) m.rules.set(ruleKey(r), r);
  return m;
}

const ruleText = (r: PlannedRule) => `${r.priority} ${r.src ? `from ${r.src}/${r.srcLen}` : `to ${r.dst}/${r.dstLen}`} lookup ${r.table} proto ${r.protocol}`;
const routeText = (r: PlannedRoute) =>
  `${r.dst ? `${r.dst}/${r.dstLen}` : "default"}${r.gateway ? ` via ${r.gateway}` : ""} dev ${r.oif} table ${r.table}${r.prefsrc ? ` src ${r.prefsrc}` : ""} proto ${r.protocol}`;

/** What the kernel would report back for the planned objects (as if applied). */
const applied = (rules: PlannedRule[], routes: PlannedRoute[]) => ({
  rules: rules.map((r): RuleRecord => ({
    family: r.family,
    priority: r.priority,
    table: r.table,
    src: r.src,
    srcLen: r.srcLen,
    dst: r.dst,
    dstLen: r.dstLen,
    tos: 0,
    action: 1,
    protocol: r.protocol,
    flags: 0,
  })),
  routes: routes.map((r): RouteRecord => ({
    family: r.family,
    table: r.table,
    dst: r.dst,
    dstLen: r.dstLen,
    srcLen: 0,
    tos: 0,
    gateway: r.gateway,
    oif: r.oif,
    prefsrc: r.prefsrc,
    priority: r.family === 6 ? 1024 : undefined,
    protocol: r.protocol,
    scope: r.gateway ? 0 : 253,
    type: 1,
    flags: 0,
  })),
});

test("v4 and v6: from/to rules per address, connected prefixes and default routes in table 200+ifindex", () => {
  const m = model({
    addrs: [addr(), addr({ family: 6, address: "fd88::2", prefixlen: 64 })],
    routes: [route({ priority: 500 }), route({ family: 6, gateway: "fe80::1", priority: 1024 })],
  });
  const plan = planRouting(m, cfg());
  assert.deepEqual(plan.rules.map(ruleText), [
    "32765 from 10.88.0.2/32 lookup 203 proto 110",
    "32766 to 10.88.0.2/32 lookup 203 proto 110",
    "32765 from fd88::2/128 lookup 203 proto 110",
    "32766 to fd88::2/128 lookup 203 proto 110",
  ]);
  assert.deepEqual(plan.routes.map(routeText), [
    "10.88.0.0/24 dev 3 table 203 src 10.88.0.2 proto 110",
    "fd88::/64 dev 3 table 203 src fd88::2 proto 110",
    "default via 10.88.0.1 dev 3 table 203 proto 110",
    "default via fe80::1 dev 3 table 203 proto 110",
  ]);
  assert.ok(
    plan.routes.filter((r) => !r.gateway).every((r) => r.scope === 253),
    "connected prefixes are scope link",
  );
});

test("link-local addresses get no rules and no routes", () => {
  const m = model({ addrs: [addr({ address: "169.254.7.7", prefixlen: 16 }), addr({ family: 6, address: "fe80::4e:56ff:fe00:2", prefixlen: 64 })] });
  assert.deepEqual(planRouting(m, cfg()), { rules: [], routes: [] });
});

test("gateway: main table default via IF, lowest metric wins; defaults via other links and other tables are ignored", () => {
  const m = model({
    links: [link(), link({ index: 2, name: "lab0" })],
    addrs: [addr(), addr({ index: 2, address: "10.77.0.50" })],
    routes: [
      route({ gateway: "10.88.0.254", priority: 600 }),
      route({ gateway: "10.88.0.1", priority: 500 }),
      route({ gateway: "10.77.0.1", oif: 2, priority: 100 }),
      route({ gateway: "10.88.0.9", table: 77 }),
    ],
  });
  const gws = planRouting(m, cfg())
    .routes.filter((r) => r.gateway)
    .map(routeText);
  assert.deepEqual(gws, ["default via 10.88.0.1 dev 3 table 203 proto 110"]);
});

test("gateway from the backend when the main table has none; off-link or malformed backend gateways are ignored", () => {
  const m = model({ addrs: [addr()] });
  m.backend.set(3, { backend: "dhclient", fields: { DHCP_GATEWAY: "10.88.0.1 10.88.0.3" } });
  assert.deepEqual(
    planRouting(m, cfg())
      .routes.filter((r) => r.gateway)
      .map((r) => r.gateway),
    ["10.88.0.1"],
  );
  m.backend.set(3, { backend: "dhclient", fields: { DHCP_GATEWAY: "192.0.2.1" } });
  assert.deepEqual(
    planRouting(m, cfg()).routes.filter((r) => r.gateway),
    [],
    "not in a connected prefix of IF",
  );
  m.backend.set(3, { backend: "dhclient", fields: { DHCP_GATEWAY: "10.88.0.1;reboot" } });
  assert.deepEqual(
    planRouting(m, cfg()).routes.filter((r) => r.gateway),
    [],
  );
  // a main-table default wins over the backend's
  m.backend.set(3, { backend: "dhclient", fields: { DHCP_GATEWAY: "10.88.0.3" } });
  m.routes.set("x", route({ gateway: "10.88.0.1" }));
  assert.deepEqual(
    planRouting(m, cfg())
      .routes.filter((r) => r.gateway)
      .map((r) => r.gateway),
    ["10.88.0.1"],
  );
});

test("no gateway known: rules and connected prefixes only", () => {
  const plan = planRouting(model({ addrs: [addr()] }), cfg());
  assert.equal(plan.rules.length, 2);
  assert.deepEqual(plan.routes.map(routeText), ["10.88.0.0/24 dev 3 table 203 src 10.88.0.2 proto 110"]);
});

test("interface not listed, or listed but missing: nothing", () => {
  const m = model({ addrs: [addr()], routes: [route()] });
  assert.deepEqual(planRouting(m, cfg({ policy_rules: ["wan2"] })), { rules: [], routes: [] });
  assert.deepEqual(planRouting(m, cfg({ policy_rules: [] })), { rules: [], routes: [] });
  assert.deepEqual(planRouting(model({ links: [] }), cfg()), { rules: [], routes: [] });
});

test("table_base, priorities and protocol come from the config", () => {
  const m = model({ addrs: [addr()], routes: [route()] });
  const plan = planRouting(m, cfg({ table_base: 1000, priority_from: 100, priority_to: 101, protocol: 99 }));
  assert.deepEqual(plan.rules.map(ruleText), ["100 from 10.88.0.2/32 lookup 1003 proto 99", "101 to 10.88.0.2/32 lookup 1003 proto 99"]);
  assert.ok(plan.routes.every((r) => r.table === 1003 && r.protocol === 99));
});

test("link administratively down: rules stay, no routes (the kernel refuses routes via a down device)", () => {
  const plan = planRouting(model({ links: [link({ up: false, carrier: false })], addrs: [addr()], routes: [route()] }), cfg());
  assert.equal(plan.rules.length, 2);
  assert.deepEqual(plan.routes, []);
});

test("tentative v6 address: rules included, its prefix route without prefsrc (the kernel refuses a tentative source)", () => {
  const plan = planRouting(model({ addrs: [addr({ family: 6, address: "fd88::2", prefixlen: 64, tentative: true, flags: 0xc0 })] }), cfg());
  assert.equal(plan.rules.length, 2);
  assert.deepEqual(plan.routes.map(routeText), ["fd88::/64 dev 3 table 203 proto 110"]);
});

test("two addresses in one prefix: one prefix route, with the primary address as source; both get rules", () => {
  const plan = planRouting(model({ addrs: [addr({ address: "10.88.0.9", flags: 0x81 }), addr()] }), cfg());
  assert.equal(plan.rules.length, 4);
  assert.deepEqual(plan.routes.map(routeText), ["10.88.0.0/24 dev 3 table 203 src 10.88.0.2 proto 110"]);
});

test("host-length addresses get rules but no prefix route; a point-to-point peer's prefix is connected", () => {
  const plan = planRouting(model({ addrs: [addr({ address: "10.1.1.1", prefixlen: 32 }), addr({ address: "10.2.2.1", peer: "10.2.2.2", prefixlen: 32 })] }), cfg());
  assert.equal(plan.rules.length, 4);
  assert.deepEqual(plan.routes.map(routeText), ["10.2.2.2/32 dev 3 table 203 src 10.2.2.1 proto 110"]);
});

test("diff: add what is missing, delete stale tagged objects, never touch other protocols; applied plan diffs empty", () => {
  const c = cfg();
  const m = model({ addrs: [addr()], routes: [route()] });
  const plan = planRouting(m, c);
  const first = diffPlan(plan, taggedObjects(m, c));
  assert.equal(first.addRules.length, 2);
  assert.equal(first.addRoutes.length, 2);
  assert.equal(first.addRoutes[0]!.gateway, undefined, "connected prefix before the default route");
  assert.deepEqual([first.delRules, first.delRoutes], [[], []]);

  // as the kernel reports them back, plus: a stale rule of ours, an admin's rule in the same range
  const back = applied(plan.rules, plan.routes);
  const stale: RuleRecord = { ...back.rules[0]!, src: "10.88.0.77" };
  const admin: RuleRecord = { ...back.rules[0]!, src: "10.88.0.78", protocol: 4 };
  const staleRoute: RouteRecord = { ...back.routes[1]!, gateway: "10.88.0.254" };
  const m2 = model({ addrs: [addr()], routes: [route(), ...back.routes, staleRoute], rules: [...back.rules, stale, admin] });
  const second = diffPlan(planRouting(m2, c), taggedObjects(m2, c));
  assert.deepEqual(second.addRules, []);
  assert.deepEqual(second.addRoutes, []);
  assert.deepEqual(second.delRules.map(ruleId), [ruleId(stale)]);
  assert.deepEqual(second.delRoutes.map(routeId), [routeId(staleRoute)]);

  // address gone: its rules and routes go; link gone: everything of it goes
  const m3 = model({ routes: back.routes, rules: back.rules });
  const third = diffPlan(planRouting(m3, c), taggedObjects(m3, c));
  assert.equal(third.delRules.length, 2);
  assert.equal(third.delRoutes.length, 2);
  const m4 = model({ links: [], rules: back.rules });
  assert.equal(diffPlan(planRouting(m4, c), taggedObjects(m4, c)).delRules.length, 2);
});

test("addresses are canonical like the kernel's (so a backend's gateway text compares equal)", () => {
  for (const [text, want] of [
    ["FD88:0::1", "fd88::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["::", "::"],
    ["1::", "1::"],
    ["::ffff:10.0.0.1", "::ffff:10.0.0.1"],
    ["fe80::4e:56ff:fe00:2", "fe80::4e:56ff:fe00:2"],
    ["1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"],
  ] as const) {
    assert.equal(formatIp(parseIp(text, 6)!), want, text);
  }
  assert.equal(parseIp("10.0.0.1", 6), null);
  assert.equal(parseIp("fe80::1%eth0", 6), null);
  const m = model({ addrs: [addr({ family: 6, address: "fd88::2", prefixlen: 64 })] });
  m.backend.set(3, { backend: "NetworkManager", fields: { NMGateway: "FD88:0:0::1" } });
  assert.deepEqual(
    planRouting(m, cfg())
      .routes.filter((r) => r.gateway)
      .map((r) => r.gateway),
    ["fd88::1"],
  );
});

test("networkd's ManageForeignRoutingPolicyRules: default yes, last assignment in [Network] wins", () => {
  assert.equal(networkdManagesForeignRules([]), true);
  assert.equal(networkdManagesForeignRules(["[Network]\n#ManageForeignRoutingPolicyRules=no\n"]), true);
  assert.equal(networkdManagesForeignRules(["[Network]\nManageForeignRoutingPolicyRules=no\n"]), false);
  assert.equal(networkdManagesForeignRules(["[Network]\nManageForeignRoutingPolicyRules = false\n", "[Network]\nManageForeignRoutingPolicyRules=yes\n"]), true);
  assert.equal(networkdManagesForeignRules(["[DHCPv4]\nManageForeignRoutingPolicyRules=no\n"]), true);
});

test("only our place is ours: our protocol id elsewhere (main table, other priorities) is never touched", () => {
  const c = cfg();
  const plan = planRouting(model({ addrs: [addr()], routes: [route()] }), c);
  const back = applied(plan.rules, plan.routes);
  const elsewhereRule: RuleRecord = { ...back.rules[0]!, priority: 100, src: "10.88.0.99" };
  const mainRoute: RouteRecord = { ...back.routes[0]!, table: 254, dst: "192.0.2.0", dstLen: 24 };
  const m = model({ addrs: [addr()], routes: [route(), ...back.routes, mainRoute], rules: [...back.rules, elsewhereRule] });
  const d = diffPlan(planRouting(m, c), taggedObjects(m, c));
  assert.deepEqual([d.delRules, d.delRoutes], [[], []]);
});

test("a link whose table_base + ifindex lands on a kernel table (main) gets no plan", () => {
  const plan = planRouting(model({ addrs: [addr()], routes: [route()] }), cfg({ table_base: 251 }));
  assert.deepEqual([plan.rules, plan.routes], [[], []]);
  assert.equal(planRouting(model({ addrs: [addr()], routes: [route()] }), cfg({ table_base: 256 })).rules.length, 2);
});
