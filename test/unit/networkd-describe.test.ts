// networkd's Link.Describe() queue (src/sources/networkd-describe.ts) over a fake Describe whose
// answers the test releases: per-link order, one background refresh out per link, failures.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DescribeQueue } from "../../src/sources/networkd-describe.js";
import { recordingLog } from "./recording-log.js";

interface Pending {
  index: number;
  answer: (json: string | undefined) => void;
  fail: (err: Error) => void;
}

/** Describe calls wait until the test answers them; every call is recorded. */
function fakeDescribe() {
  const pending: Pending[] = [];
  const calls: number[] = [];
  const call = (index: number) =>
    new Promise<string | undefined>((resolve, reject) => {
      calls.push(index);
      pending.push({ index, answer: resolve, fail: reject });
    });
  /** answers the oldest call still out (for `index` when given) */
  const next = (index?: number): Pending => {
    const i = pending.findIndex((p) => index === undefined || p.index === index);
    assert.ok(i >= 0, `a Describe call for link ${index ?? "any"} is out`);
    return pending.splice(i, 1)[0]!;
  };
  return { call, calls, pending, next };
}

const flush = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

describe("Describe queue: in each link's order", () => {
  it("a link's second request is not asked until the first was delivered; other links do not wait", async () => {
    const d = fakeDescribe();
    const q = new DescribeQueue(d.call, recordingLog().log);
    const got: string[] = [];
    q.inOrder(2, (json) => got.push(`2:${json}`));
    q.inOrder(2, (json) => got.push(`2:${json}`));
    q.inOrder(3, (json) => got.push(`3:${json}`));
    await flush();
    assert.deepEqual(d.calls, [2, 3], "one call out for link 2, link 3 in parallel");
    d.next(3).answer("c");
    await flush();
    assert.deepEqual(got, ["3:c"]);
    d.next(2).answer("a");
    await flush();
    assert.deepEqual(d.calls, [2, 3, 2], "link 2's second call starts after its first was delivered");
    d.next(2).answer("b");
    await flush();
    assert.deepEqual(got, ["3:c", "2:a", "2:b"]);
  });

  it("a failed Describe is delivered as the error, and the link's next request still runs", async () => {
    const d = fakeDescribe();
    const q = new DescribeQueue(d.call, recordingLog().log);
    const got: Array<[string | undefined, string | undefined]> = [];
    q.inOrder(2, (json, err) => got.push([json, err?.message]));
    q.inOrder(2, (json, err) => got.push([json, err?.message]));
    await flush();
    d.next(2).fail(new Error("no such link"));
    await flush();
    d.next(2).answer("b");
    await flush();
    assert.deepEqual(got, [
      [undefined, "no such link"],
      ["b", undefined],
    ]);
  });

  it("a delivery that throws is logged and does not stop the link's later requests", async () => {
    const d = fakeDescribe();
    const { log, lines } = recordingLog();
    const q = new DescribeQueue(d.call, log);
    const got: string[] = [];
    q.inOrder(2, () => {
      throw new Error("boom");
    });
    q.inOrder(2, (json) => got.push(String(json)));
    await flush();
    d.next(2).answer("a");
    await flush();
    d.next(2).answer("b");
    await flush();
    assert.deepEqual(got, ["b"]);
    assert.ok(lines.some((l) => l.level === "error" && l.fields?.err === "boom"));
  });
});

describe("Describe queue: background refresh", () => {
  it("one call out per link; asked again meanwhile (any number of times): exactly one more", async () => {
    const d = fakeDescribe();
    const q = new DescribeQueue(d.call, recordingLog().log);
    q.refresh(2);
    q.refresh(2);
    q.refresh(2);
    q.refresh(4);
    await flush();
    assert.deepEqual(d.calls, [2, 4], "one out per link");
    d.next(2).answer("a");
    await flush();
    assert.deepEqual(d.calls, [2, 4, 2], "the asks during the call become one more");
    d.next(2).answer("b");
    await flush();
    assert.deepEqual(d.calls, [2, 4, 2], "nothing asked during the second call: done");
    q.refresh(2);
    await flush();
    assert.deepEqual(d.calls, [2, 4, 2, 2], "done, so the next ask starts a call");
    d.next(2).answer("c");
    d.next(4).answer("d");
    await flush();
    assert.equal(d.pending.length, 0);
  });

  it("a failure ends the refresh (logged at debug); the next ask starts a fresh call", async () => {
    const d = fakeDescribe();
    const { log, lines } = recordingLog();
    const q = new DescribeQueue(d.call, log);
    q.refresh(2);
    q.refresh(2); // the one more: dropped with the failure
    await flush();
    d.next(2).fail(new Error("networkd busy"));
    await flush();
    assert.deepEqual(d.calls, [2]);
    assert.ok(lines.some((l) => l.level === "debug" && l.fields?.err === "networkd busy" && l.fields?.index === 2));
    q.refresh(2);
    await flush();
    assert.deepEqual(d.calls, [2, 2]);
    d.next(2).answer("ok");
    await flush();
  });

  it("a stopped source asks no more", async () => {
    const d = fakeDescribe();
    let stopped = false;
    const q = new DescribeQueue(d.call, recordingLog().log, () => stopped);
    q.refresh(2);
    q.refresh(2);
    await flush();
    stopped = true;
    d.next(2).answer("a");
    await flush();
    assert.deepEqual(d.calls, [2]);
  });

  it("refreshes and in-order requests are independent: an event does not wait for a refresh", async () => {
    const d = fakeDescribe();
    const q = new DescribeQueue(d.call, recordingLog().log);
    const got: string[] = [];
    q.refresh(2);
    q.inOrder(2, (json) => got.push(String(json)));
    await flush();
    assert.deepEqual(d.calls, [2, 2]);
    d.pending[1]!.answer("event");
    await flush();
    assert.deepEqual(got, ["event"]);
    d.next(2).answer("refresh");
    await flush();
  });
});
