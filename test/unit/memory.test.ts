import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
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

test("endStartup: functions created after it get V8's interrupt budget back (bin/netevd starts node with 64 times that)", () => {
  // a fresh function (its own feedback cell) runs about 1M bytecode units: well past V8's budget
  // (67,584), well under the start-up one (4,325,376); TurboFan compiles in the background, so
  // the loop waits for the code to be installed
  const script = `
    const { endStartup } = await import(${JSON.stringify(new URL("../../src/memory.js", import.meta.url).href)});
    if (process.argv[1] === "end") endStartup();
    const hot = new Function("n", "let s = 0; for (let i = 0; i < n; i++) s += i % 7; return s;");
    let turbofanned = false;
    for (let r = 0; r < 100 && !turbofanned; r++) {
      for (let k = 0; k < 20; k++) hot(50);
      await new Promise((res) => setTimeout(res, 20));
      turbofanned = (%GetOptimizationStatus(hot) & (1 << 6)) !== 0;
    }
    process.stdout.write(String(turbofanned));`;
  const run = (mode: string) =>
    execFileSync(process.execPath, ["--interrupt-budget=4325376", "--allow-natives-syntax", "--input-type=module", "-e", script, mode], { encoding: "utf8" });
  assert.equal(run("keep"), "false");
  assert.equal(run("end"), "true");
});
