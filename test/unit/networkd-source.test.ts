// The networkd source over a fake bus (no D-Bus daemon, no root): attach reads links and manager
// into the sink, and the last Link.Describe() answer per link is kept for carrier events.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { NetworkdSource } from "../../src/sources/networkd.js";
import type { CallSpec, Signal, SystemBus } from "../../src/dbus/bus.js";
import type { BackendSink } from "../../src/sources/backend.js";
import { createLogger } from "../../src/log.js";

const log = createLogger({ level: "error", format: "json", sink: { write: () => true } });

/** networkd with one link (index 2); Describe answers are released by the test. */
class FakeBus {
  describes: Array<{ path: string; answer: (json: string) => void }> = [];
  onClosed() {}
  onSignal(_cb: (s: Signal) => void) {}
  addMatch() { return Promise.resolve(); }
  nameHasOwner() { return Promise.resolve(true); }
  disconnect() {}
  call(c: CallSpec): Promise<unknown[]> {
    switch (c.member) {
      case "GetNameOwner": return Promise.resolve([":1.7"]);
      case "ListLinks": return Promise.resolve([[[2, "eth0", "/org/freedesktop/network1/link/_32"]]]);
      case "GetAll": return Promise.resolve([{ OperationalState: { signature: "s", value: "routable" }, AdministrativeState: { signature: "s", value: "configured" } }]);
      case "Describe": return new Promise((resolve) => this.describes.push({ path: c.path, answer: (json) => resolve([json]) }));
      default: return Promise.reject(new Error(`unexpected call ${c.member}`));
    }
  }
}

const settle = async () => { for (let i = 0; i < 50; i++) await Promise.resolve(); await new Promise((r) => setImmediate(r)); };

async function attached() {
  const bus = new FakeBus();
  const states: Array<[number, Record<string, string>]> = [];
  let manager: Record<string, string> = {};
  let on = false;
  const sink: BackendSink = {
    linkState: (index, _name, fields) => states.push([index, fields]),
    linkGone: () => {},
    managerState: (f) => { manager = f; },
    attached: (a) => { on = a; },
    unavailable: () => {},
  };
  const src = new NetworkdSource(log, sink, { connect: () => Promise.resolve(bus as unknown as SystemBus) });
  src.start();
  await settle();
  return { src, bus, states, manager: () => manager, on: () => on };
}

describe("networkd source", () => {
  it("attaches: links and manager state reach the sink, health says attached", async () => {
    const h = await attached();
    assert.equal(h.on(), true);
    assert.deepEqual(h.states, [[2, { OperationalState: "routable", AdministrativeState: "configured" }]]);
    assert.deepEqual(h.manager(), { OperationalState: "routable" }, "the manager has no AdministrativeState");
    assert.deepEqual(h.src.health(), { state: "attached", ok: true });
    h.src.stop();
  });

  it("Describe() answers are remembered per link for carrier events, and forgotten with the link", async () => {
    const h = await attached();
    const answer = h.src.describe(2);
    await settle();
    h.bus.describes[0]!.answer("{\"a\":1}");
    assert.equal(await answer, "{\"a\":1}");
    assert.equal(h.src.lastDescribe(2), "{\"a\":1}");
    h.src.linkRemoved(2);
    assert.equal(h.src.lastDescribe(2), undefined);
    h.src.stop();
  });

  it("refreshDescribe() keeps lastDescribe() current without an event waiting for it", async () => {
    const h = await attached();
    h.src.refreshDescribe(2);
    h.src.refreshDescribe(2);
    await settle();
    assert.equal(h.bus.describes.length, 1, "one call out for the link");
    h.bus.describes[0]!.answer("{\"b\":1}");
    await settle();
    assert.equal(h.src.lastDescribe(2), "{\"b\":1}");
    assert.equal(h.bus.describes.length, 2, "asked again meanwhile: one more");
    h.bus.describes[1]!.answer("{\"b\":2}");
    await settle();
    assert.equal(h.src.lastDescribe(2), "{\"b\":2}");
    h.src.stop();
  });
});
