// Hook scripts: discovery, environment, execution.
export { buildHookEnv, addressesValue, contractJson, safeJsonStringify, DAEMON_VARS, HOOK_PATH, type EnvProblem } from "./env.js";
export {
  discoverHooks, checkStat, checkDirStat, ignoredName, compareNames,
  type HookScript, type SkippedScript, type Discovery,
} from "./discover.js";
export {
  runScript, runHookDir, skippedScripts, recordDiscovery, resetSkipRegistry,
  KILL_GRACE_MS, PIPE_DRAIN_MS, STDERR_TAIL, MAX_LINE,
  type HookRunResult, type HookLogger, type RunOptions,
} from "./run.js";
export { discoverMerged, mergedParts, isMask, type MergedDiscovery, type MergedScript, type MaskedScript } from "./merge.js";
