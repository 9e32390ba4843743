// dhclient leases through the model into routable.d jobs: new and changed leases fire, renewals with
// the same data and releases do not; `changed` names what changed; the DNS push plan validates again.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { LinkRecord } from "../../src/netlink/types.js";
import { applyBackendState, applyMessage, dropBackendState, emptyModel, type NetworkModel } from "../../src/state/model.js";
import { backendReplayJobs, EventFactory, jobsFromFacts, type DeriveContext } from "../../src/events/derive.js";
import { buildHookEnv } from "../../src/actions/hooks/env.js";
import { DHCP_KEYS, leaseFields, parseLeases } from "../../src/sources/lease.js";
import { dnsAddress, pushPlan } from "../../src/actions/dns.js";

const link = (over: Partial<LinkRecord> = {}): LinkRecord => ({
  index: 2,
  name: "lab0",
  flags: 0,
  carrier: true,
  up: true,
  mtu: 1500,
  operstate: "up",
  type: 1,
  ...over,
});

function setup(): { m: NetworkModel; f: EventFactory; ctx: DeriveContext } {
  const m = emptyModel();
  applyMessage(m, { kind: "link", op: "new", link: link() });
  applyMessage(m, { kind: "link", op: "new", link: link({ index: 3, name: "ignored0" }) });
  applyMessage(m, { kind: "addr", op: "new", addr: { family: 4, index: 2, address: "10.77.0.50", prefixlen: 24, scope: 0, flags: 0, tentative: false } });
  const ctx: DeriveContext = {
    ownRoute: () => false,
    selected: (n) => n !== "ignored0",
    extraState: (i) => m.backend.get(i)?.fields,
  };
  const f = new EventFactory(() => new Date("2026-11-28T12:00:00Z"));
  f.backend = "dhclient";
  return { m, f, ctx };
}

const lease = (o: { dns?: string; expire?: string; host?: string; iface?: string } = {}) =>
  parseLeases(`lease {
  interface "${o.iface ?? "lab0"}";
  fixed-address 10.77.0.50;
  option subnet-mask 255.255.255.0;
  option routers 10.77.0.1;
  option domain-name-servers ${o.dns ?? "10.77.0.1"};
  option host-name "${o.host ?? "labclient"}";
  option domain-name "lab.test";
  expire ${o.expire ?? "6 2099/11/28 22:39:47"};
}
`).leases.get(o.iface ?? "lab0")!;

const report = (s: ReturnType<typeof setup>, l = lease(), index = 2) => jobsFromFacts(applyBackendState(s.m, "dhclient", index, leaseFields(l), l.interface), s.m, s.ctx, s.f);

test("a new lease fires routable.d once with BACKEND=dhclient and the DHCP_* variables", () => {
  const s = setup();
  const jobs = report(s);
  assert.equal(jobs.length, 1);
  const j = jobs[0]!;
  assert.equal(j.state, "routable");
  assert.equal(j.event.event, "routable");
  assert.equal(j.event.source, "dhclient");
  assert.equal(j.event.backend, "dhclient");
  assert.equal(j.event.gateway, "10.77.0.1");
  assert.deepEqual(j.event.dns, ["10.77.0.1"]);
  assert.deepEqual(j.event.addresses, ["10.77.0.50/24"]);
  const { env, problems } = buildHookEnv(j, {});
  assert.deepEqual(problems, []);
  assert.equal(env.BACKEND, "dhclient");
  assert.equal(env.STATE, "routable");
  assert.equal(env.LINK, "lab0");
  assert.equal(env.DHCP_ADDRESS, "10.77.0.50");
  assert.equal(env.DHCP_SUBNET_MASK, "255.255.255.0");
  assert.equal(env.DHCP_GATEWAY, "10.77.0.1");
  assert.equal(env.DHCP_DNS, "10.77.0.1");
  assert.equal(env.DHCP_DOMAIN, "lab.test");
  assert.equal(env.DHCP_HOSTNAME, "labclient");
  assert.equal(env.DHCP_LEASE_EXPIRY, "2099-11-28T22:39:47Z");
  assert.deepEqual(j.event.changed.sort(), ["addresses", "dns", "domain", "gateway", "hostname"]);
});

test("a renewal with the same data fires nothing; a changed DNS server fires routable.d naming dns", () => {
  const s = setup();
  report(s);
  assert.deepEqual(report(s, lease({ expire: "6 2099/11/28 23:00:00" })), [], "only the expiry moved");
  assert.deepEqual(report(s, lease({ expire: "6 2099/11/28 23:00:00" })), [], "nothing changed at all");
  const jobs = report(s, lease({ dns: "10.77.0.1,10.77.0.9", expire: "6 2099/11/28 23:02:00" }));
  assert.equal(jobs.length, 1);
  const e = jobs[0]!.event;
  assert.deepEqual(e.changed, ["dns"], "in contract terms; the expiry is no change");
  assert.deepEqual(e.dns, ["10.77.0.1", "10.77.0.9"]);
  assert.deepEqual(e.previous?.dns, ["10.77.0.1"]);
  assert.equal(jobs[0]!.env.DHCP_DNS, "10.77.0.1 10.77.0.9");
  const host = report(s, lease({ dns: "10.77.0.1,10.77.0.9", host: "other" }));
  assert.deepEqual(host[0]!.event.changed, ["hostname"]);
});

test("released: the fields leave the model with no event; the next lease (same data) fires again", () => {
  const s = setup();
  report(s);
  dropBackendState(s.m, 2, [...DHCP_KEYS]);
  assert.equal(s.m.backend.get(2)?.fields.DHCP_ADDRESS, undefined);
  assert.deepEqual(backendReplayJobs("dhclient", s.m, s.ctx, s.f), [], "no current lease, no replay");
  assert.equal(report(s).length, 1);
});

test("a value that disappears from the lease is a change; empty values stay out of the environment", () => {
  const s = setup();
  report(s);
  const jobs = report(s, lease({ host: "a;reboot" }));
  assert.equal(jobs.length, 1);
  assert.ok(jobs[0]!.event.changed.includes("hostname"));
  assert.equal("DHCP_HOSTNAME" in jobs[0]!.env, false);
  const { env, problems } = buildHookEnv(jobs[0]!, {});
  assert.deepEqual(problems, []);
  assert.equal(env.DHCP_HOSTNAME, undefined);
});

test("replay: routable.d once per current lease, flagged; unselected links never fire", () => {
  const s = setup();
  report(s);
  assert.deepEqual(report(s, lease({ iface: "ignored0" }), 3), []);
  const jobs = backendReplayJobs("dhclient", s.m, s.ctx, s.f);
  assert.equal(jobs.length, 1);
  assert.equal(jobs[0]!.event.replay, true);
  assert.equal(jobs[0]!.event.link, "lab0");
  assert.equal(buildHookEnv(jobs[0]!, {}).env.NETEVD_REPLAY, "1");
});

test("push plan: only validated values; resolved's address encoding", () => {
  assert.deepEqual(pushPlan({ DHCP_DNS: "10.77.0.1 2001:db8::53", DHCP_DOMAIN: "lab.test good.test.", DHCP_HOSTNAME: "labclient" }), {
    dns: ["10.77.0.1", "2001:db8::53"],
    domains: ["lab.test", "good.test"],
    hostname: "labclient",
    rejected: [],
  });
  const bad = pushPlan({ DHCP_DNS: "10.77.0.1 $(id)", DHCP_DOMAIN: "a;reboot lab.test", DHCP_HOSTNAME: `${"a".repeat(70)}` });
  assert.deepEqual(bad.dns, ["10.77.0.1"]);
  assert.deepEqual(bad.domains, ["lab.test"]);
  assert.equal(bad.hostname, undefined);
  assert.deepEqual(bad.rejected.sort(), ["dns", "domains", "hostname"]);
  assert.deepEqual(dnsAddress("10.77.0.1"), [2, [10, 77, 0, 1]]);
  assert.deepEqual(dnsAddress("2001:db8::53"), [10, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53]]);
  assert.deepEqual(dnsAddress("::1"), [10, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]]);
  assert.deepEqual(dnsAddress("fe80::"), [10, [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]);
  assert.deepEqual(dnsAddress("::ffff:1.2.3.4"), [10, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]]);
  assert.deepEqual(dnsAddress("1:2:3:4:5:6:7:8")[1].length, 16);
});
