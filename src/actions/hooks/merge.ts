// The scripts of one event from several base directories (admin before vendor: /etc/netevd, then
// /usr/lib/netevd), merged by file name the way systemd, networkd-dispatcher and
// NetworkManager-dispatcher do it: an entry of an earlier directory replaces the entry of the same
// name in later ones, and a symlink to /dev/null there masks it. Each directory is read with the
// per-directory discovery (discover.ts), so every script passes the same checks.
import * as fs from "node:fs";
import { compareNames, discoverHooks, ignoredName, type Discovery, type HookScript, type SkippedScript } from "./discover.js";

export interface MergedScript extends HookScript {
  /** the base directory it comes from (e.g. /usr/lib/netevd) */
  origin: string;
  /** paths of same-named entries in later directories that it replaces */
  overrides?: string[];
}

export interface MaskedScript {
  name: string;
  /** the /dev/null symlink */
  path: string;
  origin: string;
  /** paths of the same-named entries in later directories that do not run because of it */
  masks: string[];
}

export interface MergedDiscovery extends Discovery {
  scripts: MergedScript[];
  masked: MaskedScript[];
  /** one discovery per base directory, in order (for logging their skips and problems) */
  parts: Discovery[];
}

/** A symlink whose target is /dev/null: the systemd way of masking a vendor file. */
export function isMask(path: string): boolean {
  try {
    return fs.lstatSync(path).isSymbolicLink() && fs.realpathSync.native(path) === "/dev/null";
  } catch {
    return false;
  }
}

/**
 * The effective scripts of `<base>/<event>.d` over `baseDirs`, sorted byte-wise by name. Skipped
 * entries also claim their name (a broken admin copy does not bring the vendor script back; it is
 * reported), except names that are ignored outright (backups, dotfiles).
 */
export function discoverMerged(baseDirs: readonly string[], event: string, daemonUid: number): MergedDiscovery {
  const parts = baseDirs.map((b) => discoverHooks(b, event, daemonUid));
  const first = parts[0];
  const out: MergedDiscovery = { dir: first?.dir ?? "", scripts: [], skipped: [], masked: [], parts };
  const problem = parts.find((p) => p.dirProblem !== undefined)?.dirProblem;
  if (problem !== undefined) out.dirProblem = problem;
  const claimed = new Map<string, { overrides: string[] }>();

  parts.forEach((d, i) => {
    const origin = baseDirs[i] as string;
    const claim = (name: string, path: string, winner: { overrides: string[] }): boolean => {
      const prev = claimed.get(name);
      if (prev) {
        prev.overrides.push(path);
        return false;
      }
      claimed.set(name, winner);
      return true;
    };
    for (const s of d.scripts) {
      const entry: MergedScript = { ...s, origin, overrides: [] };
      if (claim(s.name, s.path, entry as { overrides: string[] })) out.scripts.push(entry);
    }
    for (const s of d.skipped) {
      if (ignoredName(s.name) !== undefined) {
        out.skipped.push(s);
        continue;
      }
      if (isMask(s.path)) {
        const m: MaskedScript = { name: s.name, path: s.path, origin, masks: [] };
        if (claim(s.name, s.path, { overrides: m.masks })) out.masked.push(m);
        continue;
      }
      const entry: SkippedScript & { overrides: string[] } = { ...s, overrides: [] };
      if (claim(s.name, s.path, entry)) out.skipped.push(s);
    }
  });
  for (const s of out.scripts) if (s.overrides?.length === 0) delete s.overrides;
  out.scripts.sort((a, b) => compareNames(a.name, b.name));
  return out;
}

/**
 * The per-directory discoveries reduced to what concerns the admin: masks and entries that another
 * directory overrides are not "skipped scripts" (they are reported by `netevd list scripts`).
 */
export function mergedParts(d: MergedDiscovery): Discovery[] {
  const kept = new Set(d.skipped);
  return d.parts.map((p) => ({ ...p, skipped: p.skipped.filter((s) => kept.has(s)) }));
}
