// GET /api/v1/scripts (`netevd list scripts`): the hook scripts that would run now, per hook
// directory, and why any entry is skipped — the same checks the runner makes before each event.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { discoverHooks } from "../actions/hooks/index.js";
import { HOOK_EVENTS, hookDirName } from "../events/dirs.js";

export interface HookDirView {
  event: string;
  dir: string;
  scripts: Array<{ name: string; path: string; target?: string }>;
  skipped: Array<{ name: string; path: string; reason: string }>;
  /** the directory itself is unusable: none of its scripts run */
  problem?: string;
}

export interface ScriptsView {
  scriptsDir: string;
  dirs: HookDirView[];
  /** `*.d` directories that are no event's hook directory (a typo, an event netevd doesn't have) */
  unknownDirs: Array<{ name: string; path: string; reason: string }>;
  problem?: string;
}

export function scriptsView(scriptsDir: string, daemonUid: number): ScriptsView {
  const view: ScriptsView = { scriptsDir, dirs: [], unknownDirs: [] };
  let names: string[] = [];
  try {
    names = readdirSync(scriptsDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    view.problem = code === "ENOENT" ? "scripts directory does not exist" : `cannot read scripts directory: ${code}`;
  }
  const present = new Set(names);
  for (const event of HOOK_EVENTS) {
    const dirName = `${event}.d`;
    if (!present.has(dirName)) continue;
    const d = discoverHooks(scriptsDir, event, daemonUid);
    const entry: HookDirView = { event, dir: d.dir, scripts: d.scripts.map((s) => ({ ...s })), skipped: d.skipped };
    if (d.dirProblem !== undefined) entry.problem = d.dirProblem;
    view.dirs.push(entry);
  }
  for (const name of names.sort()) {
    if (!name.endsWith(".d") || hookDirName(name.slice(0, -2))) continue;
    view.unknownDirs.push({ name, path: join(scriptsDir, name), reason: "not a hook directory: no event of that name" });
  }
  return view;
}
