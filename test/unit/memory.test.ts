import { test } from "node:test";
import assert from "node:assert/strict";
import { IdleCompactor } from "../../src/memory.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("IdleCompactor: one compaction once a burst has been quiet; no timer before or after", async () => {
  let n = 0;
  const c = new IdleCompactor(60, () => {
    n++;
  });
  for (let i = 0; i < 5; i++) {
    c.touch();
    await sleep(20);
  } // a burst: the quiet period restarts
  assert.equal(n, 0, "not during the burst");
  await sleep(120);
  assert.equal(n, 1, "once after it");
  await sleep(120);
  assert.equal(n, 1, "and nothing while idle");
  c.touch();
  c.stop();
  await sleep(120);
  assert.equal(n, 1, "stop() drops the pending one");
});
