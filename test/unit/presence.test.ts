// The bus-name watcher with a fake bus and fake timers (no D-Bus daemon): reconnect back-off
// (250 ms growing to 30 s, reset by a good connection), the name appearing and leaving, and a lost
// connection.
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import assert from "node:assert/strict";
import { BusNameWatch } from "../../src/sources/presence.js";
import type { Signal, SystemBus } from "../../src/dbus/bus.js";
import { createLogger } from "../../src/log.js";

const log = createLogger({ level: "error", format: "json", sink: { write: () => true } });
const NAME = "org.freedesktop.network1";

class FakeBus {
  closedCbs: Array<(err?: Error) => void> = [];
  signalCbs: Array<(s: Signal) => void> = [];
  disconnected = false;
  constructor(private readonly owned: boolean) {}
  onClosed(cb: (err?: Error) => void) {
    this.closedCbs.push(cb);
  }
  onSignal(cb: (s: Signal) => void) {
    this.signalCbs.push(cb);
  }
  addMatch() {
    return Promise.resolve();
  }
  nameHasOwner() {
    return Promise.resolve(this.owned);
  }
  disconnect() {
    this.disconnected = true;
  }
  lose() {
    for (const cb of this.closedCbs) cb(new Error("connection reset"));
  }
  owner(newOwner: string) {
    for (const cb of this.signalCbs)
      cb({ sender: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", iface: "org.freedesktop.DBus", member: "NameOwnerChanged", body: [NAME, "", newOwner] });
  }
}

/** connect() fails while `up` is false; the times (fake clock) of each attempt are kept. */
function harness() {
  const attempts: number[] = [];
  const events: string[] = [];
  const buses: FakeBus[] = [];
  const t0 = Date.now();
  const bus = { up: false, owned: false };
  const watch = new BusNameWatch({
    name: NAME,
    label: "systemd-networkd",
    log,
    onPresent: () => events.push("present"),
    onAbsent: () => events.push("absent"),
    onUnavailable: () => events.push("unavailable"),
    connect: (): Promise<SystemBus> => {
      attempts.push(Date.now() - t0);
      if (!bus.up) return Promise.reject(new Error("ENOENT"));
      const conn = new FakeBus(bus.owned);
      buses.push(conn);
      return Promise.resolve(conn as unknown as SystemBus);
    },
  });
  return Object.assign(bus, { attempts, events, buses, watch });
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};
async function advance(ms: number) {
  for (let t = 0; t < ms; t += 50) {
    mock.timers.tick(Math.min(50, ms - t));
    await settle();
  }
}

describe("bus-name watch", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"] }));
  afterEach(() => mock.timers.reset());

  it("without a bus it retries with a back-off that grows from 250 ms to 30 s", async () => {
    const h = harness();
    h.watch.start();
    await settle();
    assert.equal(h.watch.state, "no-bus");
    await advance(80_000);
    const gaps = h.attempts.slice(1).map((t, i) => t - h.attempts[i]!);
    assert.deepEqual(gaps.slice(0, 8), [250, 500, 1000, 2000, 5000, 10_000, 30_000, 30_000]);
    h.watch.stop();
  });

  it("a good connection resets the back-off; a lost one is retried from the shortest delay", async () => {
    const h = harness();
    h.watch.start();
    await advance(4000); // attempts at 0, 250, 750, 1750, 3750
    assert.equal(h.attempts.length, 5);
    h.up = true;
    h.owned = true;
    await advance(5000); // the next attempt (at 3750 + 5000) succeeds
    assert.equal(h.watch.state, "present");
    assert.deepEqual(
      h.events.filter((e) => e !== "unavailable"),
      ["present"],
    );
    const before = h.attempts.length;
    h.up = false;
    h.buses[0]!.lose();
    assert.equal(h.watch.state, "connecting");
    assert.deepEqual(h.events.at(-1), "absent", "a lost bus means the backend is gone for us");
    await advance(249);
    assert.equal(h.attempts.length, before, "not before 250 ms");
    await advance(1);
    assert.equal(h.attempts.length, before + 1, "the first retry after 250 ms, not the old 10 s");
    h.watch.stop();
  });

  it("follows the name: absent, appears, leaves", async () => {
    const h = harness();
    h.up = true;
    h.watch.start();
    await settle();
    assert.equal(h.watch.state, "absent");
    assert.deepEqual(h.events, ["absent", "unavailable"]);
    h.buses[0]!.owner(":1.42");
    assert.equal(h.watch.state, "present");
    h.buses[0]!.owner(":1.42");
    h.buses[0]!.owner("");
    assert.deepEqual(h.events, ["absent", "unavailable", "present", "absent", "unavailable"], "a repeated owner change is no news");
    h.watch.stop();
    assert.equal(h.buses[0]!.disconnected, true);
  });
});
