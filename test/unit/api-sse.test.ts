import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { History } from "../../src/events/history.js";
import type { NetevdEvent } from "../../src/events/types.js";
import { EventStreams, MAX_BACKLOG_BYTES } from "../../src/api/sse.js";
import { SseParser } from "../../src/api/client.js";
import { testEvent } from "./test-event.js";

/** Just what EventStreams uses of a ServerResponse. */
class FakeRes extends EventEmitter {
  text = "";
  status = 0;
  writableLength = 0;
  ended = false;
  destroyed = false;
  socket = null;
  writeHead(status: number): this {
    this.status = status;
    return this;
  }
  write(s: string): boolean {
    this.text += s;
    return true;
  }
  end(): void {
    this.ended = true;
    this.emit("close");
  }
  destroy(): void {
    this.destroyed = true;
    this.emit("close");
  }
  ids(): string[] {
    const out: string[] = [];
    const p = new SseParser((m) => out.push(m.id!));
    p.push(this.text);
    return out;
  }
}
const asRes = (r: FakeRes) => r as unknown as ServerResponse;

const ev = (seq: number, link = "eth0", event = "carrier"): NetevdEvent => testEvent({ id: `r1-${seq}`, event, link });

test("replay first, then live events through the filter; no subscription and no timer without clients", (t) => {
  t.mock.timers.enable({ apis: ["setInterval"] });
  const h = new History(100);
  const s = new EventStreams(h, 1000);
  const a = new FakeRes();
  const b = new FakeRes();
  s.open(asRes(a), {}, [ev(1), ev(2)]);
  s.open(asRes(b), { link: "eth1" }, []);
  assert.equal(a.status, 200);
  h.addEvent(ev(3));
  h.addEvent(ev(4, "eth1"));
  assert.deepEqual(a.ids(), ["r1-1", "r1-2", "r1-3", "r1-4"]);
  assert.deepEqual(b.ids(), ["r1-4"]);
  t.mock.timers.tick(1000);
  assert.match(a.text, /\n: heartbeat\n\n$/);
  assert.match(b.text, /\n: heartbeat\n\n$/);
  a.emit("close");
  b.emit("close");
  assert.equal(s.size, 0);
  const before = a.text;
  h.addEvent(ev(5));
  t.mock.timers.tick(5000);
  assert.equal(a.text, before, "nothing written after close: unsubscribed, heartbeat stopped");
});

test("a client too far behind is dropped instead of buffered without bound", () => {
  const h = new History(100);
  const s = new EventStreams(h, 60_000);
  const slow = new FakeRes();
  s.open(asRes(slow), {}, []);
  slow.writableLength = MAX_BACKLOG_BYTES + 1;
  h.addEvent(ev(1));
  assert.equal(slow.destroyed, true);
  assert.equal(s.size, 0);
  s.close();
});

test("include=hooks: hook results as `event: hook` messages without an id, to those clients only; unsubscribed with the last", () => {
  const h = new History(100);
  const s = new EventStreams(h, 60_000);
  const withHooks = new FakeRes();
  const plain = new FakeRes();
  const otherLink = new FakeRes();
  s.open(asRes(withHooks), { hooks: true }, []);
  s.open(asRes(plain), {}, []);
  s.open(asRes(otherLink), { hooks: true, link: "eth1" }, []);
  h.addEvent(ev(1));
  h.addHookResult({
    eventId: "r1-1",
    event: "carrier",
    link: "eth0",
    script: "10-x",
    path: "/etc/netevd/carrier.d/10-x",
    startedAt: "2026-11-28T12:00:00.100Z",
    durationMs: 3,
    exitCode: 1,
    signal: null,
    timedOut: false,
    ok: false,
    stderrTail: ["boom"],
  });
  const msgs: Array<{ id?: string; event?: string; data: string }> = [];
  new SseParser((m) => msgs.push(m)).push(withHooks.text);
  assert.deepEqual(
    msgs.map((m) => [m.event ?? "message", m.id]),
    [
      ["message", "r1-1"],
      ["hook", "r1-1"],
    ],
    "the hook message carries no id of its own (the parser keeps the last one)",
  );
  assert.equal((JSON.parse(msgs[1]!.data) as { stderrTail: string[] }).stderrTail[0], "boom");
  assert.doesNotMatch(withHooks.text.split("event: hook")[1]!, /^id:/m);
  assert.doesNotMatch(plain.text, /event: hook/);
  assert.doesNotMatch(otherLink.text, /event: hook/, "the link filter applies to hook results");
  s.close();
  const before = withHooks.text;
  h.addHookResult({
    eventId: "r1-1",
    event: "carrier",
    link: "eth0",
    script: "20-y",
    path: "/etc/netevd/carrier.d/20-y",
    startedAt: "2026-11-28T12:00:00.200Z",
    durationMs: 3,
    exitCode: 0,
    signal: null,
    timedOut: false,
    ok: true,
    stderrTail: [],
  });
  assert.equal(withHooks.text, before);
});
