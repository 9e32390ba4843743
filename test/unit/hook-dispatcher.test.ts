// The hook dispatcher's scheduling, with fake timers and hand-held runs (no scripts, no root):
// per (link, dir) one run in flight and one pending (latest wins), carrier/no-carrier sharing a
// slot, the debounce, max_parallel across links, and close().
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import assert from "node:assert/strict";
import { Dispatcher, type DispatcherOptions } from "../../src/actions/hooks/dispatcher.js";
import type { HookJob } from "../../src/events/types.js";
import { testEvent } from "./test-event.js";

let seq = 0;
function job(event: string, index: number, tag = ""): HookJob {
  const id = `t-${++seq}`;
  return {
    event: testEvent({ id, ts: "2026-11-30T12:00:00.000Z", event, link: `eth${index}`, index, state: { tag } }),
    state: event,
    env: {},
  };
}

/** A run() whose promises the test settles: `started` lists the jobs in start order. */
function harness(over: Partial<DispatcherOptions> = {}) {
  const started: HookJob[] = [];
  const errors: string[] = [];
  const finishers = new Map<HookJob, () => void>();
  let active = 0;
  let maxActive = 0;
  const d = new Dispatcher({
    maxParallel: () => 4,
    debounceMs: () => 0,
    run: (j) => {
      started.push(j);
      active++;
      maxActive = Math.max(maxActive, active);
      return new Promise<void>((r) =>
        finishers.set(j, () => {
          active--;
          r();
        }),
      );
    },
    log: { error: (msg) => errors.push(msg) },
    ...over,
  });
  const finish = async (j: HookJob) => {
    const f = finishers.get(j);
    assert.ok(f, `job ${j.event.event}/${j.event.link} ${String(j.event.state.tag)} is not running`);
    finishers.delete(j);
    f();
    // the dispatcher reacts in the run promise's finally(): let it
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { d, started, finish, errors, maxActive: () => maxActive, running: () => [...finishers.keys()] };
}

const tags = (jobs: HookJob[]) => jobs.map((j) => `${j.event.event}/${j.event.link}/${String(j.event.state.tag)}`);

describe("hook dispatcher", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout"] }));
  afterEach(() => mock.timers.reset());

  it("one run in flight per link and dir; a burst while it runs leaves one pending run, the latest", async () => {
    const h = harness();
    const a = job("routable", 2, "a");
    h.d.submit(a);
    for (const t of ["b", "c", "d"]) h.d.submit(job("routable", 2, t));
    assert.deepEqual(tags(h.started), ["routable/eth2/a"], "the burst waits for the run in flight");
    assert.equal(h.d.pendingCount, 1);
    assert.equal(h.d.stats.coalesced, 2);
    await h.finish(a);
    assert.deepEqual(tags(h.started), ["routable/eth2/a", "routable/eth2/d"], "then only the latest runs");
    await h.finish(h.started[1]!);
    assert.equal(h.d.activeCount, 0);
    assert.equal(h.d.pendingCount, 0);
  });

  it("a run that rejects (against its contract) is logged, and the link's next run still starts", async () => {
    let calls = 0;
    const h = harness({ run: () => (++calls === 1 ? Promise.reject(new Error("boom")) : Promise.resolve()) });
    h.d.submit(job("routable", 2, "a"));
    h.d.submit(job("routable", 2, "b"));
    for (let i = 0; i < 10; i++) await Promise.resolve();
    assert.deepEqual(h.errors, ["hook run failed"]);
    assert.equal(calls, 2, "the pending run started after the rejected one");
    assert.equal(h.d.activeCount, 0);
  });

  it("carrier.d and no-carrier.d share a slot: never at once for a link, the last state runs last", async () => {
    const h = harness();
    const up = job("carrier", 3, "1");
    h.d.submit(up);
    h.d.submit(job("no-carrier", 3, "2"));
    h.d.submit(job("carrier", 3, "3"));
    h.d.submit(job("no-carrier", 3, "4"));
    // another dir of the same link, and the same dir of another link, are not held back
    h.d.submit(job("mtu", 3, "x"));
    h.d.submit(job("carrier", 4, "y"));
    assert.deepEqual(tags(h.started), ["carrier/eth3/1", "mtu/eth3/x", "carrier/eth4/y"]);
    await h.finish(up);
    assert.deepEqual(tags(h.started).slice(3), ["no-carrier/eth3/4"]);
  });

  it("different links run in parallel up to max_parallel, the rest wait in order", async () => {
    const h = harness({ maxParallel: () => 2 });
    const jobs = [1, 2, 3, 4, 5].map((i) => job("routable", i, String(i)));
    for (const j of jobs) h.d.submit(j);
    assert.deepEqual(tags(h.started), ["routable/eth1/1", "routable/eth2/2"]);
    assert.equal(h.d.activeCount, 2);
    await h.finish(jobs[1]!);
    assert.deepEqual(tags(h.started).slice(2), ["routable/eth3/3"]);
    while (h.running().length) await h.finish(h.running()[0]!);
    assert.equal(h.started.length, 5, "every link ran once");
    assert.equal(h.maxActive(), 2, "never more than max_parallel at once");
  });

  it("a debounce delays the run and a burst inside it runs once, with the latest event", () => {
    const h = harness({ debounceMs: (e) => (e === "routes" ? 250 : 0) });
    h.d.submit(job("routes", 2, "1"));
    mock.timers.tick(100);
    h.d.submit(job("routes", 2, "2"));
    mock.timers.tick(149);
    assert.equal(h.started.length, 0, "nothing before the debounce has passed");
    mock.timers.tick(1);
    assert.deepEqual(tags(h.started), ["routes/eth2/2"]);
  });

  it("close(): queued runs never start, and it resolves when the running ones end", async () => {
    const h = harness({ maxParallel: () => 1 });
    const a = job("routable", 1, "a");
    h.d.submit(a);
    h.d.submit(job("routable", 2, "b"));
    let closed = false;
    const done = h.d.close().then(() => {
      closed = true;
    });
    h.d.submit(job("routable", 3, "c"));
    await Promise.resolve();
    assert.equal(closed, false, "a hook is still running");
    await h.finish(a);
    await done;
    assert.deepEqual(tags(h.started), ["routable/eth1/a"]);
  });
});
