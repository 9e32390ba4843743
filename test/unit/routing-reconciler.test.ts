// The policy routing reconciler's re-assert rate limit, with a fake request socket and fake timers
// (no root): an object that someone keeps deleting is added at most 5 times per 10 s, then left
// alone until the window has room, and retried then without any new trigger.
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import assert from "node:assert/strict";
import { RoutingReconciler } from "../../src/actions/routing/index.js";
import type { RoutingRequester } from "../../src/actions/routing/apply.js";
import type { RouteSpec, RuleSpec } from "../../src/netlink/rtnl.js";
import { parseConfig, type Config } from "../../src/config/index.js";
import { createLogger } from "../../src/log.js";
import { EventFactory } from "../../src/events/factory.js";
import type { AddressRecord, LinkRecord, RouteRecord } from "../../src/netlink/types.js";
import { addrKey, emptyModel, routeKey, type NetworkModel } from "../../src/state/model.js";

const warnings: string[] = [];
const log = createLogger({
  level: "warn",
  format: "json",
  sink: {
    write: (line) => {
      warnings.push(String(JSON.parse(line).msg));
      return true;
    },
  },
});

function model(): NetworkModel {
  const m = emptyModel();
  const l: LinkRecord = { index: 3, name: "wan1", flags: 0x11043, carrier: true, up: true, mtu: 1500, operstate: "up", type: 1 };
  const a: AddressRecord = { family: 4, index: 3, address: "10.88.0.2", prefixlen: 24, scope: 0, flags: 0x80, tentative: false };
  const r: RouteRecord = { family: 4, table: 254, dstLen: 0, srcLen: 0, tos: 0, gateway: "10.88.0.1", oif: 3, protocol: 3, scope: 0, type: 1, flags: 0 };
  m.links.set(l.index, l);
  m.addrs.set(addrKey(a), a);
  m.routes.set(routeKey(r), r);
  return m;
}

/** Every add succeeds and is counted; the model never shows the object: someone deletes it at once. */
function harness() {
  const config: Config = parseConfig("routing:\n  policy_rules: [wan1]\n", "test.yaml");
  const adds = new Map<string, number>();
  const count = (what: string) => {
    adds.set(what, (adds.get(what) ?? 0) + 1);
    return Promise.resolve();
  };
  const requester: RoutingRequester = {
    addRule: (r: RuleSpec) => count(`rule ${r.priority} ${r.src ?? ""}${r.dst ?? ""}`),
    addRoute: (r: RouteSpec) => count(`route ${r.dst ?? "default"}`),
    delRule: () => Promise.resolve(),
    delRoute: () => Promise.resolve(),
  };
  const m = model();
  const rec = new RoutingReconciler({
    log,
    config: () => config,
    model: () => m,
    requester: () => requester,
    record: () => {},
    events: new EventFactory(),
  });
  return { rec, adds };
}

/** Runs the setImmediate that starts a pass, and the pass's awaits. */
async function pass() {
  mock.timers.tick(0);
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

describe("routing reconciler rate limit", () => {
  beforeEach(() => {
    warnings.length = 0;
    mock.timers.enable({ apis: ["setTimeout", "setImmediate", "Date"] });
  });
  afterEach(() => mock.timers.reset());

  it("re-adds a deleted object at most 5 times in 10 s, then backs off and retries when the window has room", async () => {
    const h = harness();
    h.rec.schedule("startup");
    await pass();
    const objects = [...h.adds.keys()];
    assert.ok(objects.length >= 3, `the plan has rules and routes: ${objects.join(", ")}`);
    for (let i = 0; i < 4; i++) {
      mock.timers.tick(1000);
      h.rec.schedule("kernel");
      await pass();
    }
    assert.deepEqual(
      [...h.adds.values()],
      objects.map(() => 5),
      "5 adds of each object within the window",
    );
    assert.equal(warnings.filter((w) => w.includes("limit")).length, 0);
    for (let i = 0; i < 3; i++) {
      mock.timers.tick(1000);
      h.rec.schedule("kernel");
      await pass();
    }
    assert.deepEqual(
      [...h.adds.values()],
      objects.map(() => 5),
      "no sixth add inside the window",
    );
    assert.equal(warnings.filter((w) => w.includes("re-assert limit reached")).length, 1, "the back-off is logged once");
    // the first add was at t=0: the window has room at 10 s; the retry needs no new trigger
    mock.timers.tick(10_000 - 7000 - 1);
    await pass();
    assert.deepEqual(
      [...h.adds.values()],
      objects.map(() => 5),
      "still inside the window",
    );
    mock.timers.tick(20);
    await pass();
    assert.deepEqual(
      [...h.adds.values()],
      objects.map(() => 6),
      "retried once the window has room",
    );
    await h.rec.stop();
  });

  it("triggers within one I/O round coalesce into one pass", async () => {
    const h = harness();
    h.rec.schedule("startup");
    h.rec.schedule("kernel");
    h.rec.schedule("kernel");
    await pass();
    assert.deepEqual(
      [...h.adds.values()],
      [...h.adds.keys()].map(() => 1),
      "three triggers in one I/O round: one pass",
    );
    await h.rec.stop();
  });
});

describe("routing reconciler: own routes", () => {
  it("routes with netevd's protocol or in a policy-routed link's table are its own; others are not", () => {
    const { rec } = harness();
    const r = (over: Partial<RouteRecord>): RouteRecord => ({ family: 4, table: 254, dstLen: 0, srcLen: 0, tos: 0, oif: 3, protocol: 3, scope: 0, type: 1, flags: 0, ...over });
    assert.equal(rec.ownsRoute(r({ protocol: 110 })), true, "tagged with routing.protocol");
    assert.equal(rec.ownsRoute(r({ table: 203 })), true, "table_base (200) + wan1's index (3)");
    assert.equal(rec.ownsRoute(r({ table: 204 })), false, "no policy-routed link has index 4");
    assert.equal(rec.ownsRoute(r({})), false, "main table, dhcp's protocol");
  });
});
