// system.backend: auto (src/sources/auto.ts): the choice, and following the other managers with
// fake bus-name watches.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { defaultConfig, type Config } from "../../src/config/index.js";
import type { BackendProbe } from "../../src/sources/detect.js";
import type { PresenceOptions } from "../../src/sources/presence.js";
import { BackendFollower, resolveBackend } from "../../src/sources/auto.js";
import { recordingLog } from "./recording-log.js";

const probe = (p: Partial<BackendProbe>): BackendProbe => ({
  running: { "systemd-networkd": false, NetworkManager: false },
  dhclientLeases: false,
  installed: { NetworkManager: false, networkdEnabled: false, dhclient: false },
  ...p,
});

describe("system.backend: auto", () => {
  it("a configured backend is used as is: nothing probed, nothing followed", async () => {
    const c = defaultConfig() as { -readonly [K in keyof Config]: Config[K] };
    c.system = { ...c.system, backend: "NetworkManager" };
    const r = await resolveBackend(c, recordingLog().log, () => assert.fail("probed"));
    assert.deepEqual(r, { backend: "NetworkManager", follow: false });
  });

  it("auto: the choice is logged with its reason; a chosen manager that is not running is followed", async () => {
    const c = defaultConfig() as { -readonly [K in keyof Config]: Config[K] };
    c.system = { ...c.system, backend: "auto" };
    const { log, lines } = recordingLog();
    assert.deepEqual(await resolveBackend(c as Config, log, () => Promise.resolve(probe({ running: { "systemd-networkd": true, NetworkManager: false } }))), {
      backend: "systemd-networkd",
      follow: false,
    });
    assert.deepEqual(await resolveBackend(c as Config, log, () => Promise.resolve(probe({ installed: { NetworkManager: true, networkdEnabled: false, dhclient: false } }))), {
      backend: "NetworkManager",
      follow: true,
    });
    assert.deepEqual(
      lines.map((l) => l.fields?.backend),
      ["systemd-networkd", "NetworkManager"],
    );
    assert.match(String(lines[1]!.fields?.reason), /installed but not running/);
  });
});

/** Fake watches: the test makes a name appear. */
function fakeWatches() {
  const watches: Array<{ o: PresenceOptions; started: boolean; stopped: boolean }> = [];
  const later: Array<() => void> = [];
  const open = (o: PresenceOptions) => {
    const w = { o, started: false, stopped: false };
    watches.push(w);
    return {
      start: () => {
        w.started = true;
      },
      stop: () => {
        w.stopped = true;
      },
    };
  };
  const appear = (label: string) => watches.find((w) => w.o.label === label)!.o.onPresent!(null as never);
  return {
    watches,
    later,
    open,
    appear,
    runLater: () => {
      for (const fn of later.splice(0)) fn();
    },
  };
}

describe("auto: following the other managers", () => {
  it("every other manager is watched; the first to appear takes over, once; the watches end after the callback", () => {
    const f = fakeWatches();
    const switched: string[] = [];
    const follower = new BackendFollower({ current: "systemd-networkd", stay: () => false, switchTo: (n) => switched.push(n), watch: f.open, later: (fn) => f.later.push(fn) });
    follower.start();
    assert.deepEqual(
      f.watches.map((w) => [w.o.name, w.started]),
      [["org.freedesktop.NetworkManager", true]],
    );
    f.appear("NetworkManager");
    f.appear("NetworkManager");
    assert.deepEqual(switched, ["NetworkManager"], "once");
    assert.equal(f.watches[0]!.stopped, false, "not stopped from inside its own callback");
    f.runLater();
    assert.equal(f.watches[0]!.stopped, true);
  });

  it("dhclient chosen: both bus managers are watched; one appearing while the chosen backend is healthy changes nothing", () => {
    const f = fakeWatches();
    const switched: string[] = [];
    let healthy = true;
    const follower = new BackendFollower({ current: "dhclient", stay: () => healthy, switchTo: (n) => switched.push(n), watch: f.open, later: (fn) => f.later.push(fn) });
    follower.start();
    assert.deepEqual(f.watches.map((w) => w.o.label).sort(), ["NetworkManager", "systemd-networkd"]);
    f.appear("systemd-networkd");
    assert.deepEqual(switched, []);
    healthy = false;
    f.appear("NetworkManager");
    f.appear("systemd-networkd");
    assert.deepEqual(switched, ["NetworkManager"], "the first one that appears while unhealthy, and only it");
    follower.stop();
  });

  it("stop(): every watch ends at once", () => {
    const f = fakeWatches();
    const follower = new BackendFollower({ current: "dhclient", stay: () => false, switchTo: () => {}, watch: f.open });
    follower.start();
    follower.stop();
    assert.ok(f.watches.every((w) => w.stopped));
  });
});
