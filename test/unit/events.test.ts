import { test } from "node:test";
import assert from "node:assert/strict";
import type { LinkRecord } from "../../src/netlink/types.js";
import { applyBackendState, applyMessage, emptyModel } from "../../src/state/model.js";
import { EventFactory, jobsFromFacts, replayJobs, type DeriveContext } from "../../src/events/derive.js";
import { History } from "../../src/events/history.js";
import { selectEvents, splitEventId } from "../../src/api/query.js";
import { hookDirName, HOOK_EVENTS } from "../../src/hook-dirs.js";

const link = (over: Partial<LinkRecord> = {}): LinkRecord => ({
  index: 2,
  name: "eth0",
  flags: 0,
  carrier: true,
  up: true,
  mtu: 1500,
  operstate: "up",
  type: 1,
  ...over,
});
const ctx: DeriveContext = { ownRoute: (r) => r.protocol === 110, selected: (n) => n !== "ignored0" };
const clock = () => new Date("2026-11-28T12:00:00.123Z");

test("carrier loss → no-carrier event with previous and changed", () => {
  const m = emptyModel();
  const f = new EventFactory(clock);
  applyMessage(m, { kind: "link", op: "new", link: link() });
  applyMessage(m, { kind: "addr", op: "new", addr: { family: 4, index: 2, address: "192.0.2.10", prefixlen: 24, scope: 0, flags: 0, tentative: false } });
  applyMessage(m, { kind: "addr", op: "new", addr: { family: 6, index: 2, address: "fe80::1", prefixlen: 64, scope: 253, flags: 0, tentative: false } });
  replayJobs(m, ctx, f);
  const facts = applyMessage(m, { kind: "link", op: "new", link: link({ carrier: false, operstate: "lowerlayerdown" }) });
  const jobs = jobsFromFacts(facts, m, ctx, f);
  assert.equal(jobs.length, 1);
  const e = jobs[0]!.event;
  assert.equal(e.schema, "netevd.event.v1");
  assert.equal(e.event, "no-carrier");
  assert.equal(e.link, "eth0");
  assert.equal(e.index, 2);
  assert.equal(e.ts, "2026-11-28T12:00:00.123Z");
  assert.deepEqual(e.addresses, ["192.0.2.10/24"], "link-local excluded");
  assert.deepEqual(e.changed.sort(), ["carrier", "operstate"]);
  assert.equal(e.previous?.carrier, true);
  assert.equal(e.state.carrier, false);
  assert.equal(e.replay, false);
  assert.equal(jobs[0]!.state, "no-carrier");
});

test("own routes never fire routes.d; route bursts give one job per link", () => {
  const m = emptyModel();
  const f = new EventFactory(clock);
  applyMessage(m, { kind: "link", op: "new", link: link() });
  const base = { family: 4 as const, table: 254, dstLen: 24, srcLen: 0, tos: 0, oif: 2, protocol: 4, scope: 0, type: 1, flags: 0 };
  const facts = [
    ...applyMessage(m, { kind: "route", op: "new", route: { ...base, dst: "198.51.100.0" } }),
    ...applyMessage(m, { kind: "route", op: "new", route: { ...base, dst: "203.0.113.0" } }),
    ...applyMessage(m, { kind: "route", op: "new", route: { ...base, dst: "10.0.0.0", table: 202, protocol: 110 } }),
  ];
  const jobs = jobsFromFacts(facts, m, ctx, f);
  assert.deepEqual(
    jobs.map((j) => j.event.event),
    ["routes"],
  );
  const own = applyMessage(m, { kind: "route", op: "new", route: { ...base, dst: "10.1.0.0", table: 202, protocol: 110 } });
  assert.deepEqual(jobsFromFacts(own, m, ctx, f), []);
});

test("unselected links and replay", () => {
  const m = emptyModel();
  const f = new EventFactory(clock);
  applyMessage(m, { kind: "link", op: "new", link: link() });
  applyMessage(m, { kind: "link", op: "new", link: link({ index: 1, name: "lo", type: 772 }) });
  applyMessage(m, { kind: "link", op: "new", link: link({ index: 3, name: "eth1", carrier: false }) });
  const facts = applyMessage(m, { kind: "link", op: "new", link: link({ index: 4, name: "ignored0" }) });
  assert.deepEqual(jobsFromFacts(facts, m, ctx, f), []);
  const replay = replayJobs(m, ctx, f);
  assert.deepEqual(
    replay.map((j) => `${j.event.link} ${j.event.event} ${j.event.replay}`),
    ["eth0 carrier true", "eth1 no-carrier true"],
  );
  assert.ok(splitEventId(replay[1]!.event.id)![1] > splitEventId(replay[0]!.event.id)![1]);
});

test("history is a bounded ring with filters", () => {
  const h = new History(3);
  const f = new EventFactory(clock);
  const snap = { state: {}, addresses: [], gateway: null, dns: [] };
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const e = f.make({ event: i % 2 ? "carrier" : "no-carrier", link: "eth0", index: 2, source: "kernel", snap });
    ids.push(e.id);
    h.addEvent(e);
  }
  assert.equal(h.events.size, 3);
  assert.deepEqual(
    selectEvents(h.events.toArray(), {}).map((e) => e.id),
    ids.slice(2),
  );
  assert.deepEqual(
    selectEvents(h.events.toArray(), { since: ids[2] }).map((e) => e.id),
    ids.slice(3),
  );
  assert.deepEqual(
    selectEvents(h.events.toArray(), { event: "carrier" }).map((e) => e.id),
    [ids[3]],
  );
  assert.deepEqual(
    selectEvents(h.events.toArray(), { limit: 1 }).map((e) => e.id),
    [ids[4]],
  );
});

test("hook dirs come only from the allow-list", () => {
  assert.equal(hookDirName("routable"), "routable.d");
  assert.equal(hookDirName("../../etc"), undefined);
  assert.equal(hookDirName("routable/../x"), undefined);
  assert.ok(HOOK_EVENTS.includes("configured") && HOOK_EVENTS.includes("activated") && HOOK_EVENTS.includes("manager"));
});

test("a carrier loss and its return in one kernel batch: each event shows its own state", () => {
  const m = emptyModel();
  const f = new EventFactory(clock);
  applyMessage(m, { kind: "link", op: "new", link: link() });
  f.seed(m);
  const facts = [
    ...applyMessage(m, { kind: "link", op: "new", link: link({ carrier: false, operstate: "lowerlayerdown" }) }),
    ...applyMessage(m, { kind: "link", op: "new", link: link() }),
  ];
  const jobs = jobsFromFacts(facts, m, ctx, f);
  assert.deepEqual(
    jobs.map((j) => [j.event.event, j.event.state.carrier, j.event.previous?.carrier, j.event.changed.includes("carrier")]),
    [
      ["no-carrier", false, true, true],
      ["carrier", true, false, true],
    ],
  );
});

test("carrier under networkd: the kernel fires it at once with networkd's last state; networkd's own report fires nothing", () => {
  const m = emptyModel();
  const f = new EventFactory(clock);
  f.backend = "systemd-networkd";
  applyMessage(m, { kind: "link", op: "new", link: link() });
  applyMessage(m, { kind: "addr", op: "new", addr: { family: 4, index: 2, address: "192.0.2.10", prefixlen: 24, scope: 0, flags: 0, tentative: false } });
  applyBackendState(m, "systemd-networkd", 2, { OperationalState: "routable", AdministrativeState: "configured", CarrierState: "carrier" }, "eth0");
  const x: DeriveContext = { ...ctx, extraState: (i) => m.backend.get(i)?.fields };
  f.seed(m, x.extraState);
  const jobs = jobsFromFacts(applyMessage(m, { kind: "link", op: "new", link: link({ carrier: false, operstate: "lowerlayerdown" }) }), m, x, f);
  assert.deepEqual(
    jobs.map((j) => j.event.event),
    ["no-carrier"],
  );
  const j = jobs[0]!;
  assert.equal(j.event.backend, "systemd-networkd", "BACKEND is the running backend");
  assert.equal(j.event.source, "kernel");
  assert.equal(j.event.state.OperationalState, "routable", "networkd's last known state rides along");
  assert.deepEqual(j.env, { IFACE: "eth0", IP_ADDRS: "192.0.2.10", IP6_ADDRS: "", OperationalState: "routable", AdministrativeState: "configured" });
  // networkd reports the same transition a few ms later: no second no-carrier.d, and no-carrier is
  // not an operational dir of its own
  const later = applyBackendState(m, "systemd-networkd", 2, { CarrierState: "no-carrier", OperationalState: "no-carrier" });
  assert.deepEqual(jobsFromFacts(later, m, x, f), []);
  // backend-only states stay with the backend
  const up = applyBackendState(m, "systemd-networkd", 2, { OperationalState: "routable" });
  const r = jobsFromFacts(up, m, x, f);
  assert.deepEqual(
    r.map((k) => [k.event.event, k.event.source, k.event.backend]),
    [["routable", "systemd-networkd", "systemd-networkd"]],
  );
});

test("IPv6 DAD: address-added.d once the tentative flag clears; a DAD failure is address-dad-failed.d; ADDRESSES only usable addresses", () => {
  const m = emptyModel();
  const f = new EventFactory(clock);
  applyMessage(m, { kind: "link", op: "new", link: link() });
  const v6 = { family: 6 as const, index: 2, address: "2001:db8::5", prefixlen: 64, scope: 0 };
  const ev = (facts: ReturnType<typeof applyMessage>) => jobsFromFacts(facts, m, ctx, f).map((j) => j.event);
  // RTM_NEWADDR with IFA_F_TENTATIVE: not usable yet, nothing fires, not in ADDRESSES
  assert.deepEqual(ev(applyMessage(m, { kind: "addr", op: "new", addr: { ...v6, flags: 0x40 | 0x80, tentative: true } })), []);
  // DAD done: the flag clears
  const added = ev(applyMessage(m, { kind: "addr", op: "new", addr: { ...v6, flags: 0x80, tentative: false } }));
  assert.deepEqual(
    added.map((e) => [e.event, e.state.address, e.addresses]),
    [["address-added", "2001:db8::5/64", ["2001:db8::5/64"]]],
  );
  // a second, duplicate address: tentative, then dadfailed
  const dup = { ...v6, address: "2001:db8::6" };
  assert.deepEqual(ev(applyMessage(m, { kind: "addr", op: "new", addr: { ...dup, flags: 0x40 | 0x80, tentative: true } })), []);
  const failed = ev(applyMessage(m, { kind: "addr", op: "new", addr: { ...dup, flags: 0x40 | 0x08 | 0x80, tentative: true } }));
  assert.deepEqual(
    failed.map((e) => [e.event, e.state.address, e.addresses]),
    [["address-dad-failed", "2001:db8::6/64", ["2001:db8::5/64"]]],
  );
  assert.match(String(failed[0]!.state.reason), /duplicate address detection failed/);
  // the failed one goes away: it was never announced, so no address-removed.d
  assert.deepEqual(ev(applyMessage(m, { kind: "addr", op: "del", addr: { ...dup, flags: 0, tentative: false } })), []);
  // optimistic DAD: usable at once
  const opt = ev(applyMessage(m, { kind: "addr", op: "new", addr: { ...v6, address: "2001:db8::7", flags: 0x40 | 0x04, tentative: true } }));
  assert.deepEqual(
    opt.map((e) => e.event),
    ["address-added"],
  );
  assert.deepEqual(
    ev(applyMessage(m, { kind: "addr", op: "del", addr: { ...v6, flags: 0, tentative: false } })).map((e) => e.event),
    ["address-removed"],
  );
});

test("one kernel batch: every event shows its own link's addresses as the batch left them, computed once per link", () => {
  const m = emptyModel();
  const f = new EventFactory(clock);
  applyMessage(m, { kind: "link", op: "new", link: link() });
  applyMessage(m, { kind: "link", op: "new", link: link({ index: 3, name: "eth1" }) });
  f.seed(m);
  const addr = (index: number, address: string) => ({
    kind: "addr" as const,
    op: "new" as const,
    addr: { family: 4 as const, index, address, prefixlen: 24, scope: 0, flags: 0, tentative: false },
  });
  const facts = [...applyMessage(m, addr(2, "192.0.2.10")), ...applyMessage(m, addr(3, "198.51.100.7")), ...applyMessage(m, addr(2, "192.0.2.11"))];
  const jobs = jobsFromFacts(facts, m, ctx, f);
  assert.deepEqual(
    jobs.map((j) => [j.event.event, j.event.link, j.event.state.address ?? j.event.state.mtu, j.event.addresses, j.event.changed]),
    [
      ["address-added", "eth0", "192.0.2.10/24", ["192.0.2.10/24", "192.0.2.11/24"], ["addresses"]],
      ["address-added", "eth1", "198.51.100.7/24", ["198.51.100.7/24"], ["addresses"]],
      ["address-added", "eth0", "192.0.2.11/24", ["192.0.2.10/24", "192.0.2.11/24"], ["addresses"]],
    ],
  );
  const eth0 = jobs.filter((j) => j.event.link === "eth0").map((j) => j.event.addresses);
  assert.ok(
    eth0.every((a) => a === eth0[0]),
    "one list for the link's events of the batch (a scan of every address per event made a flood quadratic)",
  );
  // the next batch: a new list; `changed` still compares with the last event's
  const next = jobsFromFacts(applyMessage(m, { kind: "link", op: "new", link: link({ mtu: 1400 }) }), m, ctx, f);
  assert.notEqual(next[0]!.event.addresses, eth0[0]);
  assert.deepEqual(next[0]!.event.changed, ["mtu"]);
  assert.deepEqual(next[0]!.event.previous?.addresses, ["192.0.2.10/24", "192.0.2.11/24"]);
});
