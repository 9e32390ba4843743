// A hook dir fired by hand (src/events/trigger.ts): allow-listed names, existing links, the event a real one would be.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { LinkRecord } from "../../src/netlink/types.js";
import { applyBackendState, applyMessage, emptyModel } from "../../src/state/model.js";
import { EventFactory, type DeriveContext } from "../../src/events/derive.js";
import { triggerJob } from "../../src/events/trigger.js";

const lab0: LinkRecord = { index: 2, name: "lab0", flags: 0, carrier: true, up: true, mtu: 1500, operstate: "up", type: 1 };

test("trigger: unknown event 400, unknown link 404, else the link's event flagged as a trigger", () => {
  const m = emptyModel();
  applyMessage(m, { kind: "link", op: "new", link: lab0 });
  applyMessage(m, { kind: "addr", op: "new", addr: { family: 4, index: 2, address: "10.77.0.50", prefixlen: 24, scope: 0, flags: 0, tentative: false } });
  applyBackendState(m, "systemd-networkd", 2, { OperationalState: "routable" }, "lab0");
  const ctx: DeriveContext = { ownRoute: () => false, selected: () => true, extraState: (i) => m.backend.get(i)?.fields };
  const f = new EventFactory();
  assert.deepEqual(triggerJob(m, "lab0", "../../bin/sh", "kernel", ctx, f), { ok: false, status: 400, error: 'unknown event "../../bin/sh"' });
  assert.deepEqual(triggerJob(m, "nope0", "carrier", "kernel", ctx, f), { ok: false, status: 404, error: 'no such interface "nope0"' });
  const t = triggerJob(m, "lab0", "routable", "systemd-networkd", ctx, f);
  assert.ok(t.ok);
  assert.equal(t.job.state, "routable");
  assert.deepEqual(t.job.env, {});
  const e = t.job.event;
  assert.equal(e.event, "routable");
  assert.equal(e.link, "lab0");
  assert.equal(e.index, 2);
  assert.equal(e.source, "systemd-networkd");
  assert.deepEqual(e.changed, ["trigger"]);
  assert.equal(e.replay, false);
  assert.match(JSON.stringify(e), /10\.77\.0\.50\/24/, "the link's real state: its addresses");
  assert.match(JSON.stringify(e), /routable/, "and the backend's state of it");
});
