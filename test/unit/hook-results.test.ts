// A job's script runs into the history and the hook metrics (src/actions/hooks/results.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { History } from "../../src/events/history.js";
import type { HookJob, HookRunResult } from "../../src/events/types.js";
import { registry } from "../../src/metrics.js";
import { hookOutcome, recordHookResults } from "../../src/actions/hooks/results.js";

const run = (p: Partial<HookRunResult>): HookRunResult => ({
  event: "mtu",
  eventId: "x-1",
  link: "lab0",
  script: "10-a",
  path: "/etc/netevd/mtu.d/10-a",
  startedAt: "2026-01-01T00:00:00.000Z",
  durationMs: 250,
  exitCode: 0,
  signal: null,
  timedOut: false,
  ok: true,
  stderrTail: [],
  ...p,
});

function sample(name: string, labels: string): number {
  const text = registry.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  // a histogram's series appear with its first observation
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}

test("outcomes: ok, timeout before error, error (could not run), else failed", () => {
  assert.equal(hookOutcome(run({})), "ok");
  assert.equal(hookOutcome(run({ ok: false, timedOut: true, exitCode: null, signal: "SIGKILL", error: "x" })), "timeout");
  assert.equal(hookOutcome(run({ ok: false, exitCode: null, error: "EACCES" })), "error");
  assert.equal(hookOutcome(run({ ok: false, exitCode: 1 })), "failed");
});

test("each run goes into the history and is counted under its hook dir and outcome", () => {
  const h = new History(10);
  const job = { event: { event: "mtu" }, state: "mtu", env: {} } as unknown as HookJob;
  const before = {
    ok: sample("netevd_hook_runs_total", 'dir="mtu.d",result="ok"'),
    failed: sample("netevd_hook_runs_total", 'dir="mtu.d",result="failed"'),
    failures: sample("netevd_hook_failures_total", 'dir="mtu.d"'),
    durations: sample("netevd_hook_duration_seconds_count", 'dir="mtu.d"'),
  };
  recordHookResults(job, [run({}), run({ script: "20-b", ok: false, exitCode: 3 })], h);
  assert.deepEqual(
    h.hooks.toArray().map((r) => r.script),
    ["10-a", "20-b"],
  );
  assert.equal(sample("netevd_hook_runs_total", 'dir="mtu.d",result="ok"'), before.ok + 1);
  assert.equal(sample("netevd_hook_runs_total", 'dir="mtu.d",result="failed"'), before.failed + 1);
  assert.equal(sample("netevd_hook_failures_total", 'dir="mtu.d"'), before.failures + 1);
  assert.equal(sample("netevd_hook_duration_seconds_count", 'dir="mtu.d"'), before.durations + 2);
});
