// The directory that holds netevd's package.json: the source tree, or /usr/lib/netevd when installed.
// Found by walking up from the running code, which is dist/src/<dir>/<file>.js under tsc, or
// dist/netevd.cjs in the bundle (scripts/bundle.mjs), where every module's import.meta.url is the
// bundle's.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | null | undefined;

/** The package root, or null when no package.json is found within a few levels. */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string | null {
  if (cached !== undefined && arguments.length === 0) return cached;
  let dir = dirname(from);
  let found: string | null = null;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "package.json"))) {
      found = dir;
      break;
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  if (arguments.length === 0) cached = found;
  return found;
}
