// GET /api/v1/scripts (`netevd list scripts`): per event, the hook scripts that would run now, from
// which base directory each comes and what it overrides, the masked ones, and why any entry is
// skipped — the same merge and checks the runner makes before each event.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { discoverMerged } from "../actions/hooks/index.js";
import { HOOK_EVENTS, hookDirName } from "../hook-dirs.js";

export interface HookDirView {
  event: string;
  /** the event's directory in the first (admin) base directory */
  dir: string;
  /** effective scripts, in run order; `origin` is the base directory, `overrides` what it replaces */
  scripts: Array<{ name: string; path: string; target?: string; origin: string; overrides?: string[] }>;
  /** /dev/null symlinks and the scripts they keep from running */
  masked: Array<{ name: string; path: string; origin: string; masks: string[] }>;
  skipped: Array<{ name: string; path: string; reason: string }>;
  /** a directory is unusable: none of its scripts run */
  problem?: string;
}

export interface ScriptSetView {
  /** base directories, highest priority first */
  scriptsDirs: string[];
  dirs: HookDirView[];
  /** `*.d` directories that are no event's hook directory (a typo, an event netevd doesn't have) */
  unknownDirs: Array<{ name: string; path: string; reason: string }>;
  /** base directories that cannot be read */
  problems: Array<{ dir: string; problem: string }>;
}

export interface ScriptsView extends ScriptSetView {
  /** the first of scriptsDirs (older clients read this) */
  scriptsDir: string;
  problem?: string;
  /** compat.networkd_dispatcher: networkd-dispatcher's directories, run for networkd's states */
  networkdDispatcher?: ScriptSetView;
}

function setView(scriptsDirs: readonly string[], daemonUid: number): ScriptSetView {
  const view: ScriptSetView = { scriptsDirs: [...scriptsDirs], dirs: [], unknownDirs: [], problems: [] };
  const present = new Set<string>();
  for (const base of scriptsDirs) {
    let names: string[];
    try {
      names = readdirSync(base);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      if (code !== "ENOENT") view.problems.push({ dir: base, problem: `cannot read scripts directory: ${code}` });
      continue;
    }
    for (const name of names.sort()) {
      present.add(name);
      if (!name.endsWith(".d") || hookDirName(name.slice(0, -2))) continue;
      view.unknownDirs.push({ name, path: join(base, name), reason: "not a hook directory: no event of that name" });
    }
  }
  for (const event of HOOK_EVENTS) {
    if (!present.has(`${event}.d`)) continue;
    const d = discoverMerged(scriptsDirs, event, daemonUid);
    const entry: HookDirView = {
      event,
      dir: d.dir,
      scripts: d.scripts.map((s) => ({ ...s })),
      masked: d.masked.map((m) => ({ ...m })),
      skipped: d.skipped.map((s) => ({ name: s.name, path: s.path, reason: s.reason })),
    };
    if (d.dirProblem !== undefined) entry.problem = d.dirProblem;
    view.dirs.push(entry);
  }
  return view;
}

export function scriptsView(scriptsDirs: string | readonly string[], daemonUid: number, ndDirs?: readonly string[]): ScriptsView {
  const dirs = typeof scriptsDirs === "string" ? [scriptsDirs] : scriptsDirs;
  const set = setView(dirs, daemonUid);
  const view: ScriptsView = { scriptsDir: dirs[0] ?? "", ...set };
  if (
    !dirs.some((d) => {
      try {
        readdirSync(d);
        return true;
      } catch {
        return false;
      }
    })
  ) {
    view.problem = dirs.length === 1 ? "scripts directory does not exist" : "none of the scripts directories exists";
  }
  if (ndDirs) view.networkdDispatcher = setView(ndDirs, daemonUid);
  return view;
}
