// The configuration schema and its walk: the shape of Config with a leaf (leaves.ts) for every key,
// validation of plain data (what YAML/JSON parse into) against it with defaults for what is
// missing, key suggestions for typos, and validation of a single key. Knows nothing about files;
// see load.ts for YAML, line numbers and env vars.

import {
  BACKENDS,
  DEFAULT_SCRIPTS_DIRS,
  LOG_FORMATS,
  LOG_LEVELS,
  SINK_DEFAULTS,
  deepFreeze,
  defaultConfig,
  type Config,
  type ConfigProblem,
  type SinkConfig,
} from "./types.js";
import {
  Leaf,
  absolutePathError,
  bool,
  checkCapability,
  checkEventPattern,
  checkInterfacePattern,
  checkLeaseFile,
  checkListen,
  checkPolicyIface,
  checkScriptsDir,
  checkSinkUrl,
  checkSocket,
  checkToken,
  describeValue,
  fail,
  int,
  isMapping,
  list,
  nullable,
  ok,
  oneOf,
  positiveNumber,
  protocolLeaf,
  str,
  wrongType,
  type Issue,
} from "./leaves.js";

/** What a key that is missing or invalid gets (one frozen copy, cloned into each result). */
const DEFAULTS: Config = deepFreeze(defaultConfig());

const USER_RE = /^[a-z_][a-z0-9_-]{0,31}\$?$/;

const SINK_NAME = /^[a-z0-9-]{1,32}$/;

/** A sink's keys: each parsed like any other key (the sinks list holds mappings, so it has its own walk). */
const SINK_KEYS: Record<keyof SinkConfig, Leaf<unknown>> = {
  name: str((s) => (SINK_NAME.test(s) ? null : `expected 1-32 characters of a-z 0-9 -, got ${describeValue(s)}`)),
  url: str(checkSinkUrl),
  secret_file: nullable(str(absolutePathError)),
  events: list(checkEventPattern, "event names or globs"),
  links: list(checkInterfacePattern, "interface names or globs"),
  timeout_sec: positiveNumber(600),
  tls_verify: bool(),
  ca_file: nullable(str(absolutePathError)),
  batch_max: int(1, 1000),
  spool_max_bytes: int(16 * 1024, 1024 * 1024 * 1024),
  spool_sync_ms: int(0, 60_000),
  retry_initial_ms: int(10, 600_000),
  retry_max_sec: positiveNumber(86400),
  unhealthy_after_sec: positiveNumber(86400 * 7),
};

const sinksLeaf = new Leaf<SinkConfig[]>((v) => {
  if (!Array.isArray(v)) return fail(wrongType("a list of sinks (mappings with name: and url:)", v));
  const out: SinkConfig[] = [];
  const issues: Issue[] = [];
  const names = new Map<string, number>();
  v.forEach((raw, i) => {
    if (!isMapping(raw)) {
      issues.push({ sub: `[${i}]`, message: wrongType("a mapping (name:, url:, ...)", raw) });
      return;
    }
    const sink: Record<string, unknown> = { ...structuredClone(SINK_DEFAULTS) };
    let bad = false;
    for (const [k, val] of Object.entries(raw)) {
      const leaf = Object.hasOwn(SINK_KEYS, k) ? SINK_KEYS[k as keyof SinkConfig] : undefined;
      if (!leaf) {
        const near = Object.keys(SINK_KEYS).find((c) => levenshtein(c, k.toLowerCase()) <= 2);
        issues.push({ sub: `[${i}].${k}`, message: `unknown key ${JSON.stringify(k)}${near ? `; did you mean ${JSON.stringify(near)}?` : ""}` });
        bad = true;
        continue;
      }
      const r = leaf.parse(val);
      if (r.ok) sink[k] = r.value;
      else {
        bad = true;
        for (const is of r.issues) issues.push({ sub: `[${i}].${k}${is.sub ?? ""}`, message: is.message });
      }
    }
    for (const k of ["name", "url"] as const) {
      if (raw[k] === undefined) { issues.push({ sub: `[${i}]`, message: `missing required key "${k}"` }); bad = true; }
    }
    if (bad) return;
    const prev = names.get(sink.name as string);
    if (prev !== undefined) {
      issues.push({ sub: `[${i}].name`, message: `duplicate sink name ${JSON.stringify(sink.name)} (same as [${prev}])` });
      return;
    }
    names.set(sink.name as string, i);
    out.push(sink as unknown as SinkConfig);
  });
  return issues.length ? { ok: false, issues } : ok(out);
});

// ---------------------------------------------------------------------------
// The schema
// ---------------------------------------------------------------------------

type Section<T> = {
  readonly [K in keyof T]-?: T[K] extends readonly unknown[]
    ? Leaf<T[K]>
    : T[K] extends object
      ? Section<T[K]>
      : Leaf<T[K]>;
};

const dhcpUse = () => ({ use_dns: bool(), use_domain: bool(), use_hostname: bool() });

const SCHEMA: Section<Config> = {
  system: {
    log_level: oneOf(LOG_LEVELS),
    log_format: oneOf(LOG_FORMATS),
    backend: oneOf(BACKENDS, { networkd: "systemd-networkd", systemd_networkd: "systemd-networkd" }),
    user: str((s) => (s === "root"
      ? "the daemon never runs as root (it parses untrusted input: netlink, D-Bus, DHCP leases, HTTP); to run hook scripts as root, set hooks.user: root"
      : USER_RE.test(s) ? null : `expected a user name matching ${USER_RE.source}, got ${describeValue(s)}`)),
    scripts_dir: str(absolutePathError),
    scripts_dirs: list(checkScriptsDir, "absolute directory paths"),
    state_dir: str(absolutePathError),
  },
  monitoring: {
    interfaces: list(checkInterfacePattern, "interface names or globs"),
    exclude: list(checkInterfacePattern, "interface names or globs"),
  },
  routing: {
    policy_rules: list(checkPolicyIface, "interface names"),
    table_base: int(1, 0xffff0000),
    priority_from: int(0, 0xfffffffe),
    priority_to: int(0, 0xfffffffe),
    protocol: protocolLeaf,
    cleanup_on_exit: bool(),
  },
  backends: {
    systemd_networkd: { emit_json: bool(), ...dhcpUse() },
    networkmanager: dhcpUse(),
    dhclient: { ...dhcpUse(), lease_files: list(checkLeaseFile, "absolute paths or globs") },
  },
  hooks: {
    timeout_sec: positiveNumber(86400),
    debounce_ms: int(0, 60000),
    routes_debounce_ms: int(0, 60000),
    max_parallel: int(1, 256),
    replay_on_start: bool(),
    capabilities: list(checkCapability, "capability names"),
    user: nullable(str((s) => (USER_RE.test(s) ? null : `expected root or the daemon's user name, got ${describeValue(s)}`))),
  },
  events: {
    history_size: int(10, 1_000_000),
  },
  api: {
    enabled: bool(),
    listen: str(checkListen),
    socket: str(checkSocket),
    token: nullable(str(checkToken, true)),
    max_body_bytes: int(256, 1_048_576),
    rate_limit_per_sec: int(1, 100_000),
    dashboard: bool(),
  },
  metrics: {
    enabled: bool(),
    listen: str(checkListen),
  },
  compat: {
    networkd_dispatcher: bool(),
    networkd_dispatcher_dirs: list(checkScriptsDir, "absolute directory paths"),
  },
  sinks: sinksLeaf,
};

type AnySection = { readonly [k: string]: Leaf<unknown> | AnySection };

function collectPaths(sec: AnySection, prefix: string, out: { all: string[]; leaves: string[] }): void {
  for (const [k, spec] of Object.entries(sec)) {
    const p = prefix ? `${prefix}.${k}` : k;
    out.all.push(p);
    if (spec instanceof Leaf) out.leaves.push(p);
    else collectPaths(spec, p, out);
  }
}

const PATHS = (() => {
  const out = { all: [] as string[], leaves: [] as string[] };
  collectPaths(SCHEMA, "", out);
  return out;
})();

/** Dotted paths of every configurable (leaf) key, e.g. "hooks.timeout_sec". */
export function configKeyPaths(): string[] {
  return [...PATHS.leaves];
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + cost);
      diag = up;
    }
  }
  return prev[b.length] as number;
}

/** Closest known key path for an unknown one: edit distance <= 2, else the same key name in another section. */
export function suggestKey(unknownPath: string): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const p of PATHS.all) {
    const d = levenshtein(unknownPath.toLowerCase(), p);
    if (d < bestD) {
      bestD = d;
      best = p;
    }
  }
  if (best !== undefined) return best;
  const last = unknownPath.slice(unknownPath.lastIndexOf(".") + 1).toLowerCase();
  return PATHS.leaves.find((p) => p.slice(p.lastIndexOf(".") + 1) === last);
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/** Maps a key path (as in ConfigProblem.path) to a 1-based line, when known. */
export type LineLookup = (path: string) => number | undefined;

interface Ctx {
  problems: ConfigProblem[];
  lineOf: LineLookup;
}

function report(ctx: Ctx, path: string, message: string): void {
  const line = ctx.lineOf(path);
  ctx.problems.push(line === undefined ? { path, message } : { path, line, message });
}

function walk(sec: AnySection, value: unknown, path: string, defaults: Record<string, unknown>, ctx: Ctx): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let obj: Record<string, unknown> = {};
  if (value === null || value === undefined) {
    // "section:" with everything below commented out: all defaults.
  } else if (!isMapping(value)) {
    report(ctx, path, path ? wrongType("a mapping", value) : `the top level must be a mapping of sections (system:, hooks:, ...), got ${describeValue(value)}`);
  } else {
    obj = value;
  }
  for (const key of Object.keys(obj)) {
    if (Object.hasOwn(sec, key)) continue;
    const p = path ? `${path}.${key}` : key;
    const hint = suggestKey(p);
    if (hint !== undefined && hint === p.toLowerCase() && key.includes(".")) {
      report(ctx, p, `unknown key ${JSON.stringify(p)}; dotted names are not expanded, write nested keys as indented mappings`);
    } else {
      report(ctx, p, `unknown key ${JSON.stringify(p)}${hint ? `; did you mean ${JSON.stringify(hint)}?` : ""}`);
    }
  }
  for (const [key, spec] of Object.entries(sec)) {
    const p = path ? `${path}.${key}` : key;
    const def = defaults[key];
    const raw = Object.hasOwn(obj, key) ? obj[key] : undefined;
    if (spec instanceof Leaf) {
      if (raw === undefined) {
        out[key] = structuredClone(def);
        continue;
      }
      const r = spec.parse(raw);
      if (r.ok) {
        out[key] = r.value;
      } else {
        out[key] = structuredClone(def);
        for (const is of r.issues) report(ctx, p + (is.sub ?? ""), is.message);
      }
    } else {
      out[key] = walk(spec, raw, p, def as Record<string, unknown>, ctx);
    }
  }
  return out;
}

/**
 * Validate plain data (as parsed from YAML or JSON) against the schema.
 * Missing keys (and `undefined`/null sections) take defaults. The returned
 * config is NOT frozen; `problems` is empty when the input is valid (the
 * config then contains defaults for any invalid key).
 */
export function validateConfig(input: unknown, lineOf: LineLookup = () => undefined): { config: Config; problems: ConfigProblem[] } {
  const ctx: Ctx = { problems: [], lineOf };
  const config = walk(SCHEMA, input, "", DEFAULTS as unknown as Record<string, unknown>, ctx) as unknown as Config;
  const hu = config.hooks.user;
  if (hu !== null && hu !== "root" && hu !== config.system.user) {
    report(ctx, "hooks.user", `hooks run either as root (hooks.user: root) or as the daemon's user (system.user, ${JSON.stringify(config.system.user)}); got ${JSON.stringify(hu)}`);
  }
  resolveScriptsDirs(input, config, ctx);
  return { config, problems: ctx.problems };
}

/**
 * system.scripts_dirs is the list; system.scripts_dir (the older, single key) replaces its first,
 * admin, entry, so a config that sets only scripts_dir keeps its meaning and still gets the vendor
 * directory. Afterwards scripts_dir is always scripts_dirs[0].
 */
function resolveScriptsDirs(input: unknown, config: { system: { scripts_dir: string; scripts_dirs: readonly string[] } }, ctx: Ctx): void {
  const sys = isMapping(input) && isMapping(input.system) ? input.system : {};
  const hasDir = Object.hasOwn(sys, "scripts_dir");
  const hasDirs = Object.hasOwn(sys, "scripts_dirs");
  const s = config.system;
  if (hasDirs) {
    if (s.scripts_dirs.length === 0) {
      if (sys.scripts_dirs !== undefined) report(ctx, "system.scripts_dirs", "must list at least one directory (the first is where admins put their scripts)");
      s.scripts_dirs = [...DEFAULT_SCRIPTS_DIRS];
    }
    if (hasDir && s.scripts_dir !== s.scripts_dirs[0]) {
      report(ctx, "system.scripts_dir", `system.scripts_dir (${s.scripts_dir}) and system.scripts_dirs (first ${s.scripts_dirs[0]}) disagree: keep scripts_dirs`);
    }
  } else if (hasDir) {
    s.scripts_dirs = [s.scripts_dir, ...DEFAULT_SCRIPTS_DIRS.slice(1).filter((d) => d !== s.scripts_dir)];
  }
  s.scripts_dir = s.scripts_dirs[0] as string;
}

function leafAt(path: string): Leaf<unknown> | undefined {
  let cur: Leaf<unknown> | AnySection | undefined = SCHEMA;
  for (const part of path.split(".")) {
    if (cur === undefined || cur instanceof Leaf || !Object.hasOwn(cur, part)) return undefined;
    cur = cur[part];
  }
  return cur instanceof Leaf ? cur : undefined;
}

/**
 * Validate a single value for a leaf key (e.g. "system.log_level") with the
 * same rules as the file. Returns the normalised value or the error messages.
 */
export function validateValue(path: string, value: unknown): { ok: true; value: unknown } | { ok: false; messages: string[] } {
  const leaf = leafAt(path);
  if (!leaf) return { ok: false, messages: [`unknown key ${JSON.stringify(path)}`] };
  const r = leaf.parse(value);
  return r.ok ? r : { ok: false, messages: r.issues.map((i) => (i.sub ? `${i.sub}: ${i.message}` : i.message)) };
}
