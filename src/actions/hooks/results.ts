// What a job's script runs leave behind: each in the history (API, page, `netevd hooks`) and in the
// hook metrics, counted under its hook dir and outcome.
import type { History } from "../../events/history.js";
import type { HookJob, HookRunResult } from "../../events/types.js";
import { metrics } from "../../metrics.js";

/** The outcome a run is counted under (netevd_hook_runs_total's result label). */
export function hookOutcome(r: HookRunResult): "ok" | "timeout" | "error" | "failed" {
  return r.ok ? "ok" : r.timedOut ? "timeout" : r.error ? "error" : "failed";
}

export function recordHookResults(job: HookJob, results: readonly HookRunResult[], history: History): void {
  const dir = `${job.event.event}.d`;
  for (const r of results) {
    history.addHookResult(r);
    metrics.hookRuns.inc({ dir, result: hookOutcome(r) });
    metrics.hookDuration.observe({ dir }, r.durationMs / 1000);
    if (!r.ok) metrics.hookFailures.inc({ dir });
  }
}
