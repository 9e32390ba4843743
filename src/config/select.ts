// Which interfaces netevd watches: monitoring.interfaces and monitoring.exclude, names or globs.
import { compileGlob, globMatch, type GlobMatcher } from "./glob.js";
import type { Config } from "./types.js";

const compiledCache = new WeakMap<readonly string[], GlobMatcher[]>();

function matchesAny(list: readonly string[], name: string): boolean {
  // Only frozen lists are cached: a mutable one could change under the cache.
  if (!Object.isFrozen(list)) return list.some((p) => globMatch(p, name));
  let matchers = compiledCache.get(list);
  if (!matchers) {
    matchers = list.map(compileGlob);
    compiledCache.set(list, matchers);
  }
  return matchers.some((m) => m(name));
}

/**
 * Whether interface `name` is watched: selected by `monitoring.interfaces` (an empty list selects
 * everything, otherwise any entry, name or glob, must match) and not matched by `monitoring.exclude`.
 * Compiled patterns are cached per frozen list, so calling this per event is cheap.
 */
export function interfaceSelected(cfg: Config, name: string): boolean {
  const { interfaces, exclude } = cfg.monitoring;
  if (exclude.length > 0 && matchesAny(exclude, name)) return false;
  return interfaces.length === 0 || matchesAny(interfaces, name);
}
