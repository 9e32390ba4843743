// Issue 15 row 4: a Last-Event-ID replay is written as the socket drains (never all at once) and
// at most a byte cap of it per connection; event streams are capped per client and in total.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { History } from "../../src/events/history.js";
import type { NetevdEvent } from "../../src/events/types.js";
import { EventStreams } from "../../src/api/sse.js";
import { HttpError } from "../../src/api/http.js";
import { SseParser } from "../../src/api/client.js";
import { testEvent } from "./test-event.js";

/** A response whose socket takes `window` bytes, then pushes back until drain(). */
class SlowRes extends EventEmitter {
  text = "";
  unsent = 0;
  ended = false;
  socket = null;
  constructor(private readonly window: number) {
    super();
  }
  get writableLength(): number {
    return this.unsent;
  }
  writeHead(): this {
    return this;
  }
  write(s: string): boolean {
    this.text += s;
    this.unsent += s.length;
    return this.unsent < this.window;
  }
  end(s?: string): void {
    if (s) this.text += s;
    this.ended = true;
    this.emit("close");
  }
  destroy(): void {
    this.emit("close");
  }
  /** the peer read everything */
  drain(): void {
    this.unsent = 0;
    this.emit("drain");
  }
  ids(): string[] {
    const out: string[] = [];
    new SseParser((m) => out.push(m.id!)).push(this.text);
    return out;
  }
}
const asRes = (r: SlowRes) => r as unknown as ServerResponse;

const ev = (seq: number): NetevdEvent => testEvent({ id: `r1-${seq}`, state: { pad: "x".repeat(400) } });

test("a replay is written as the socket drains; live events queue behind it in order", () => {
  const h = new History(20_000);
  const s = new EventStreams(h, 1_000_000);
  const replay = Array.from({ length: 1000 }, (_, i) => ev(i + 1)); // ~650 KB: under the replay cap
  const r = new SlowRes(16 * 1024);
  s.open(asRes(r), {}, replay, "a");
  assert.ok(r.unsent < 16 * 1024 + 2048, `only about a socket window is written at once (${r.unsent} bytes)`);
  const first = r.ids().length;
  assert.ok(first < 50, `not the whole replay at once (${first} frames)`);
  h.addEvent(ev(1001)); // live, while the replay is still being written
  for (let i = 0; i < 1000 && !r.ended && r.ids().length < 1001; i++) r.drain();
  const ids = r.ids();
  assert.equal(ids.length, 1001);
  assert.deepEqual(ids.slice(-2), ["r1-1000", "r1-1001"]);
  s.close();
});

test("a replay larger than the byte cap ends the stream, at an event boundary the client can resume from", async () => {
  const h = new History(20_000);
  const s = new EventStreams(h, 1_000_000, { total: 64, perClient: 8, replayBytes: 100_000 });
  const r = new SlowRes(1 << 30);
  s.open(
    asRes(r),
    {},
    Array.from({ length: 20_000 }, (_, i) => ev(i + 1)),
    "a",
  );
  assert.ok(r.text.length < 70_000, `one slice per turn of the event loop (${r.text.length} bytes at once)`);
  for (let i = 0; i < 100 && !r.ended; i++) await new Promise((res) => setImmediate(res));
  assert.ok(r.ended, "the stream ended");
  assert.ok(r.text.length < 110_000, `about the cap was written (${r.text.length})`);
  assert.match(r.text, /replay limit/);
  assert.equal(s.size, 0);
});

test("streams are capped per client and in total", () => {
  const s = new EventStreams(new History(10), 1_000_000, { total: 3, perClient: 2, replayBytes: 1 << 20 });
  s.open(asRes(new SlowRes(1 << 20)), {}, [], "a");
  s.open(asRes(new SlowRes(1 << 20)), {}, [], "a");
  assert.throws(
    () => s.open(asRes(new SlowRes(1 << 20)), {}, [], "a"),
    (e) => e instanceof HttpError && e.status === 429,
  );
  const b = new SlowRes(1 << 20);
  s.open(asRes(b), {}, [], "b");
  assert.throws(
    () => s.open(asRes(new SlowRes(1 << 20)), {}, [], "c"),
    (e) => e instanceof HttpError && e.status === 503,
  );
  b.destroy();
  s.open(asRes(new SlowRes(1 << 20)), {}, [], "c");
  s.close();
});
