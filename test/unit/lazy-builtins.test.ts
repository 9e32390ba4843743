// What replaced node:crypto, node:v8 and the global `performance` on the daemon's idle path, and a
// check that the daemon's modules load none of those builtins (test/lab/idle-builtins.test.ts checks
// the running daemon, as deployed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { loadNative, nativeAvailable, randomBytes } from "../../src/netlink/native.js";
import { runPrefix } from "../../src/events/factory.js";
import { monotonicMs } from "../../src/time.js";

test("getRandom (getrandom(2) in the addon): n random bytes for 1 <= n <= 256, a RangeError otherwise", { skip: !nativeAvailable() && "addon not built" }, () => {
  const native = loadNative();
  for (const n of [1, 3, 16, 256]) assert.equal(native.getRandom(n).length, n);
  // 128 random bits twice: equal only if the source is broken
  assert.notDeepEqual(native.getRandom(16), native.getRandom(16));
  for (const bad of [0, -1, 257]) assert.throws(() => native.getRandom(bad), RangeError);
  // not all zero (a buffer left unfilled)
  assert.ok(native.getRandom(32).some((b) => b !== 0));
});

test("randomBytes: from the addon, or /dev/urandom without it", () => {
  assert.equal(randomBytes(3).length, 3);
  assert.notDeepEqual(randomBytes(16), randomBytes(16));
});

test("runPrefix: the run's time (8 base-36 digits) and 24 random bits (5), as before", () => {
  const now = Date.UTC(2026, 10, 30, 12);
  const a = runPrefix(now);
  assert.match(a, /^[0-9a-z]{13}$/);
  assert.equal(a.slice(0, 8), now.toString(36));
  assert.ok(parseInt(a.slice(8), 36) < 1 << 24);
  // two runs in the same millisecond: distinct (a collision has probability 2^-24 per pair)
  const many = new Set(Array.from({ length: 50 }, () => runPrefix(now)));
  assert.ok(many.size >= 49);
});

test("monotonicMs: milliseconds on the same clock as performance.now()", async () => {
  // each monotonicMs() reading is bracketed by two performance.now() readings: the interval between
  // the two monotonicMs() readings lies between the inner and the outer interval (no tolerance for load)
  const p0 = performance.now();
  const a = monotonicMs();
  const p1 = performance.now();
  await new Promise((r) => setTimeout(r, 30));
  const p2 = performance.now();
  const b = monotonicMs();
  const p3 = performance.now();
  const eps = 0.01; // rounding of both clocks
  assert.ok(b - a >= p2 - p1 - eps && b - a <= p3 - p0 + eps, `monotonicMs advanced ${b - a} ms; performance.now() ${p2 - p1}..${p3 - p0} ms`);
  assert.ok(b - a >= 29);
});

test("the daemon's modules load none of crypto, https, tls, fs/promises, perf_hooks, v8 (they load with the feature that needs them)", () => {
  const mod = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
  const script = `
    const { Daemon } = await import(${mod("../../src/daemon.js")});
    await import(${mod("../../src/api/server.js")});
    await import(${mod("../../src/dbus/connect.js")});
    if (typeof Daemon !== "function") throw new Error("no Daemon");
    const lazy = ["crypto", "https", "tls", "fs/promises", "perf_hooks", "v8"];
    process.stdout.write(JSON.stringify(lazy.filter((m) => process.moduleLoadList.includes("NativeModule " + m))));`;
  const loaded = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" })) as string[];
  assert.deepEqual(loaded, []);
});
