import { test } from "node:test";
import assert from "node:assert/strict";
import { applyBackendState, modelFrom } from "../../src/state/model.js";
import { interfacesView, routesView, rulesView } from "../../src/api/views.js";

const model = () => {
  const m = modelFrom({
    links: [
      { index: 1, name: "lo", flags: 0x49, carrier: true, up: true, mtu: 65536, operstate: "unknown", mac: "00:00:00:00:00:00", type: 772 },
      { index: 2, name: "eth0", flags: 0x11043, carrier: true, up: true, mtu: 1500, operstate: "up", mac: "02:00:00:00:00:01", kind: "veth", type: 1, master: 3 },
      { index: 3, name: "br0", flags: 0x1003, carrier: false, up: true, mtu: 1500, operstate: "down", kind: "bridge", type: 1 },
    ],
    addrs: [
      { family: 6, index: 2, address: "2001:db8::5", prefixlen: 64, scope: 0, flags: 0, tentative: true },
      { family: 4, index: 2, address: "192.0.2.5", prefixlen: 24, scope: 0, flags: 0x80, tentative: false, label: "eth0" },
    ],
    routes: [
      { family: 4, table: 255, dst: "192.0.2.5", dstLen: 32, srcLen: 0, tos: 0, oif: 2, protocol: 2, scope: 254, type: 2, flags: 0, prefsrc: "192.0.2.5" },
      { family: 4, table: 254, dstLen: 0, srcLen: 0, tos: 0, gateway: "192.0.2.1", oif: 2, priority: 100, protocol: 16, scope: 0, type: 1, flags: 0 },
      { family: 4, table: 202, dstLen: 0, srcLen: 0, tos: 0, gateway: "192.0.2.1", oif: 2, protocol: 110, scope: 0, type: 1, flags: 0 },
    ],
    rules: [
      { family: 4, priority: 32765, table: 202, src: "192.0.2.5", srcLen: 32, dstLen: 0, tos: 0, action: 1, protocol: 110, flags: 0 },
      { family: 4, priority: 0, table: 255, srcLen: 0, dstLen: 0, tos: 0, action: 1, protocol: 2, flags: 0 },
    ],
  });
  applyBackendState(m, "systemd-networkd", 2, { OperationalState: "routable", AdministrativeState: "configured" }, "eth0");
  return m;
};

test("interfaces: kernel state, addresses v4 first, master by name, gateway, backend fields, monitored", () => {
  const v = interfacesView(model(), (n) => n !== "br0");
  assert.deepEqual(
    v.map((l) => l.name),
    ["lo", "eth0", "br0"],
  );
  const eth0 = v[1]!;
  assert.equal(eth0.mac, "02:00:00:00:00:01");
  assert.equal(eth0.master, "br0");
  assert.equal(eth0.carrier, true);
  assert.deepEqual(
    eth0.addresses.map((a) => `${a.family} ${a.address}/${a.prefixlen} ${a.scope} ${a.tentative}`),
    ["inet 192.0.2.5/24 global false", "inet6 2001:db8::5/64 global true"],
  );
  assert.equal(eth0.gateway, "192.0.2.1");
  assert.deepEqual(eth0.backend, { backend: "systemd-networkd", fields: { OperationalState: "routable", AdministrativeState: "configured" } });
  assert.equal(v[2]!.monitored, false);
  assert.equal(v[2]!.backend, null);
});

test("routes and rules: names beside numbers, ours = protocol of routing.protocol", () => {
  const r = routesView(model(), 110);
  assert.deepEqual(
    r.map((x) => `${x.dst} ${x.tableName ?? x.table} ${x.dev} ${x.protocolName ?? x.protocol} ${x.ours}`),
    ["default main eth0 dhcp false", "default 202 eth0 110 true", "192.0.2.5/32 local eth0 kernel false"],
  );
  assert.equal(r[0]!.metric, 100);
  assert.equal(r[2]!.type, "local");
  assert.equal(r[2]!.scope, "host");
  const rules = rulesView(model(), 110);
  assert.deepEqual(
    rules.map((x) => `${x.priority} ${x.src} ${x.action} ${x.tableName ?? x.table} ${x.ours}`),
    ["0 all lookup local false", "32765 192.0.2.5/32 lookup 202 true"],
  );
});
