// The model store: each writer changes only its part of the one model.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { LinkRecord } from "../../src/netlink/types.js";
import { ModelStore } from "../../src/state/store.js";

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

test("a kernel re-dump replaces only the kinds re-read and reports only real changes", () => {
  const s = new ModelStore();
  const m = s.model;
  s.loadKernel({
    links: [link()],
    addrs: [],
    routes: [],
    rules: [{ family: 4, priority: 32766, table: 254, srcLen: 0, dstLen: 0, tos: 0, action: 1, protocol: 2, flags: 0 }],
  });
  s.backendState("NetworkManager", 2, { NMDeviceState: "100" }, "eth0");
  const rules = m.rules;
  const fresh = new Map([[2, link({ mtu: 9000 })]]);
  assert.deepEqual(
    s.replaceKernel({ links: fresh }).map((f) => f.fact),
    ["mtu"],
  );
  assert.equal(s.model, m, "the same model object");
  assert.equal(m.links, fresh);
  assert.equal(m.rules, rules, "kinds not re-read keep their maps");
  assert.equal(m.backend.get(2)?.fields.NMDeviceState, "100", "backend state is not the kernel's to replace");
});

test("backend writes: only changes are facts; a backend switch drops what the old one said", () => {
  const s = new ModelStore();
  s.loadKernel({ links: [link()], addrs: [], routes: [], rules: [] });
  assert.equal(s.backendState("systemd-networkd", 2, { OperationalState: "routable" }).length, 1);
  assert.deepEqual(s.backendState("systemd-networkd", 2, { OperationalState: "routable" }), []);
  assert.equal(s.managerState("systemd-networkd", { OperationalState: "routable" }).length, 1);
  s.dropBackend(2, ["OperationalState"]);
  assert.deepEqual(s.model.backend.get(2)?.fields, {});
  s.backendState("systemd-networkd", 2, { AdministrativeState: "configured" });
  s.dropBackendOfLinks();
  assert.equal(s.model.backend.has(2), false);
});
