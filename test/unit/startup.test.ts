// Start-up sequencing (src/startup.ts) with hand-driven timers: the replay waits for the backend's
// first state, at most the bound.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BackendSettle, STARTUP_BOUND_MS, within, type StartupTimers } from "../../src/startup.js";

/** Timers that fire only when the test advances the clock. */
function fakeTimers() {
  let now = 0;
  let nextId = 1;
  const armed = new Map<number, { at: number; fn: () => void }>();
  const timers: StartupTimers = {
    setTimeout: (fn, ms) => {
      const id = nextId++;
      armed.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (h) => {
      armed.delete(h as number);
    },
  };
  const advance = async (ms: number) => {
    now += ms;
    for (const [id, t] of [...armed])
      if (t.at <= now) {
        armed.delete(id);
        t.fn();
      }
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { timers, advance, armed };
}

/** whether the promise has finished (without waiting for it) */
async function finished(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return done;
}

describe("start-up: waiting for the backend's first state", () => {
  it("the wait ends when the backend settles, before the bound, and its timer is gone", async () => {
    const t = fakeTimers();
    const s = new BackendSettle(t.timers);
    const waiting = s.wait();
    await t.advance(STARTUP_BOUND_MS - 1);
    assert.equal(await finished(waiting), false, "not before the backend settled or the bound");
    assert.equal(s.settled, false, "backend facts only fill the model meanwhile");
    s.settle();
    assert.equal(await waiting, "done");
    assert.equal(s.settled, true);
    assert.equal(t.armed.size, 0, "the bound's timer was cleared");
  });

  it("a backend that never answers delays the start by the bound, no more", async () => {
    const t = fakeTimers();
    const s = new BackendSettle(t.timers);
    const waiting = s.wait();
    await t.advance(STARTUP_BOUND_MS - 1);
    assert.equal(await finished(waiting), false);
    await t.advance(1);
    assert.equal(await waiting, "bound");
    assert.equal(s.settled, true, "from now on backend facts become events");
  });

  it("settled before the wait began (backend none, or unavailable at once): no wait at all", async () => {
    const t = fakeTimers();
    const s = new BackendSettle(t.timers);
    s.settle();
    s.settle();
    assert.equal(await s.wait(), "done");
    assert.equal(t.armed.size, 0);
  });

  it("within(): the work's end or the bound, whichever is first; the work's failure is the caller's", async () => {
    const t = fakeTimers();
    let finish!: () => void;
    const slow = within(
      new Promise<void>((r) => {
        finish = r;
      }),
      500,
      t.timers,
    );
    await t.advance(500);
    assert.equal(await slow, "bound");
    finish();
    const fast = within(Promise.resolve(), 500, t.timers);
    assert.equal(await fast, "done");
    assert.equal(t.armed.size, 0);
    await assert.rejects(within(Promise.reject(new Error("no bus")), 500, t.timers), /no bus/);
  });
});
