// Hook scripts: discovery, environment, execution.
export {
  buildHookEnv, addressesValue, contractJson, safeJsonStringify, fitExecLimits, execArgBudget, envEntryBytes,
  DAEMON_VARS, HOOK_PATH, MAX_ARG_STRLEN, type EnvProblem,
} from "./env.js";
export {
  discoverHooks, checkStat, checkDirStat, chainProblem, ignoredName, compareNames,
  type HookScript, type SkippedScript, type Discovery,
} from "./discover.js";
export {
  runScript, runHookDir, runContext, checkScriptPath, SkipRegistry,
  hookLauncher, setLauncherLog, KILL_GRACE_MS, STDERR_TAIL, MAX_LINE, MAX_LOGGED_LINES, MAX_LOGGED_BYTES,
  type HookRunResult, type HookLogger, type RunOptions, type RunContext, type RemoteRunner,
} from "./run.js";
export { discoverMerged, mergedParts, isMask, type MergedDiscovery, type MergedScript, type MaskedScript } from "./merge.js";
