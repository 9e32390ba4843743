// system.backend: auto — the choice from what runs, what left leases, what is installed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseBackend, type BackendProbe } from "../../src/sources/detect.js";

const none: BackendProbe = {
  running: { "systemd-networkd": false, NetworkManager: false },
  dhclientLeases: false,
  installed: { NetworkManager: false, networkdEnabled: false, dhclient: false },
};
type ProbeIn = Partial<Omit<BackendProbe, "installed">> & { installed?: Partial<BackendProbe["installed"]> };
const probe = (p: ProbeIn): BackendProbe => ({ ...none, ...p, installed: { ...none.installed, ...p.installed } });

test("what runs wins over what is installed", () => {
  const c = chooseBackend(probe({ running: { "systemd-networkd": true, NetworkManager: false }, installed: { NetworkManager: true, dhclient: true } }));
  assert.deepEqual([c.backend, c.running], ["systemd-networkd", true]);
  assert.match(c.reason, /on the system bus/);
  assert.equal(chooseBackend(probe({ running: { "systemd-networkd": false, NetworkManager: true } })).backend, "NetworkManager");
});

test("dhclient leases (ifupdown) before installed-but-stopped managers", () => {
  const c = chooseBackend(probe({ dhclientLeases: true, installed: { NetworkManager: true } }));
  assert.deepEqual([c.backend, c.running], ["dhclient", true]);
});

test("installed, not running: chosen but followed", () => {
  assert.deepEqual(
    [chooseBackend(probe({ installed: { NetworkManager: true } })).backend, chooseBackend(probe({ installed: { NetworkManager: true } })).running],
    ["NetworkManager", false],
  );
  assert.equal(chooseBackend(probe({ installed: { networkdEnabled: true, dhclient: true } })).backend, "systemd-networkd");
  assert.equal(chooseBackend(probe({ installed: { dhclient: true } })).backend, "dhclient");
});

test("nothing found, or no bus: systemd-networkd, waiting, with the reason", () => {
  const c = chooseBackend(probe({ running: null }));
  assert.deepEqual([c.backend, c.running], ["systemd-networkd", false]);
  assert.match(c.reason, /no system bus/);
  assert.match(chooseBackend(none).reason, /no network manager/);
});
