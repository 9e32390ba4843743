// The YAML parser, loaded to read a config and let go of after: the daemon parses its config at
// start-up and on reload only, and a loaded parser stays in RSS for good (its code and compiled
// functions, about 1 MB in an idle daemon; measured: 44.4 MB kept vs 43.6 MB let go, bare 43.4).
// In the bundle (scripts/bundle.mjs) it is a file of its own, dist/netevd-yaml.cjs.
import { createRequire } from "node:module";

type Yaml = typeof import("yaml");

/** Set by scripts/bundle.mjs to the chunk's path beside the bundle; unset when running dist/src. */
declare const __NETEVD_YAML_CHUNK__: string | undefined;
const SPECIFIER = typeof __NETEVD_YAML_CHUNK__ === "string" ? __NETEVD_YAML_CHUNK__ : "yaml";

let loaded: Yaml | undefined;
let depth = 0;

/** Runs fn with the parser loaded; the outermost call unloads it (nothing of it may outlive fn). */
export function withYaml<T>(fn: () => T): T {
  // a require of its own each time: the module it loads is its only child, and both go together
  const req = createRequire(import.meta.url);
  const id = req.resolve(SPECIFIER);
  if (depth++ === 0) loaded = req(id) as Yaml;
  try {
    return fn();
  } finally {
    if (--depth === 0) {
      loaded = undefined;
      delete req.cache[id];
    }
  }
}

/** The parser, inside withYaml(). */
export function yaml(): Yaml {
  if (!loaded) throw new Error("the YAML parser is used outside withYaml()");
  return loaded;
}
