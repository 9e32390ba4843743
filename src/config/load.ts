// Reading the YAML config file, mapping problems to lines, env overrides.

import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { createRequire } from "node:module";
import type { Document, LineCounter } from "yaml";
import { ConfigError, deepFreeze, validateConfig, validateValue, type Config, type ConfigProblem } from "./schema.js";

export const DEFAULT_CONFIG_PATH = "/etc/netevd/netevd.yaml";

// The YAML parser is loaded on first use only: client commands (status, events, ...) that read no
// config file never load it.
let yamlModule: typeof import("yaml") | undefined;
const yaml = (): typeof import("yaml") => (yamlModule ??= createRequire(import.meta.url)("yaml") as typeof import("yaml"));
const isAlias = (n: unknown) => yaml().isAlias(n);
const isMap = (n: unknown) => yaml().isMap(n);
const isScalar = (n: unknown) => yaml().isScalar(n);
const isSeq = (n: unknown) => yaml().isSeq(n);

/** Environment variables that override single keys, applied after the file. */
export const ENV_OVERRIDES = {
  NETEVD_LOG_LEVEL: "system.log_level",
  NETEVD_BACKEND: "system.backend",
  NETEVD_API_LISTEN: "api.listen",
} as const;

/** Pseudo file name used in ConfigError for bad environment variables. */
export const ENV_SOURCE = "environment";

/** Refuse config files larger than this (a config is a few KiB). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

const MAX_NODES = 100_000;
const MAX_DEPTH = 64;

class TooComplex extends Error {}

interface BuildState {
  doc: Document;
  lc: LineCounter;
  lines: Map<string, number>;
  problems: ConfigProblem[];
  count: number;
}

function nodeLine(node: unknown, lc: LineCounter): number | undefined {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range ? lc.linePos(range[0]).line : undefined;
}

/** Convert a YAML node to plain data, recording the line of every key path. */
function build(node: unknown, path: string, depth: number, st: BuildState): unknown {
  if (++st.count > MAX_NODES || depth > MAX_DEPTH) throw new TooComplex();
  if (node === null || node === undefined) return null;
  if (isAlias(node)) {
    const target = node.resolve(st.doc);
    if (!target) {
      const line = nodeLine(node, st.lc);
      st.problems.push({ path, ...(line !== undefined && { line }), message: `unresolved alias *${node.source}` });
      return null;
    }
    return build(target, path, depth + 1, st);
  }
  if (isScalar(node)) {
    const v = node.value;
    return typeof v === "bigint" ? Number(v) : v;
  }
  if (isMap(node)) {
    // Null prototype: keys like "__proto__" are plain data here.
    const obj = Object.create(null) as Record<string, unknown>;
    for (const pair of node.items) {
      let keyNode: unknown = pair.key;
      if (isAlias(keyNode)) keyNode = keyNode.resolve(st.doc);
      const line = nodeLine(keyNode, st.lc) ?? nodeLine(pair.value, st.lc);
      if (keyNode !== null && keyNode !== undefined && !isScalar(keyNode)) {
        st.problems.push({ path, ...(line !== undefined && { line }), message: "mapping keys must be plain strings" });
        continue;
      }
      const kv = isScalar(keyNode) ? keyNode.value : null;
      const key = kv === null || kv === undefined ? "" : String(kv);
      const p = path ? `${path}.${key}` : key;
      if (Object.hasOwn(obj, key)) {
        const first = st.lines.get(p);
        st.problems.push({
          path: p,
          ...(line !== undefined && { line }),
          message: `duplicate key ${JSON.stringify(p)}${first !== undefined ? ` (first defined on line ${first})` : ""}`,
        });
        continue;
      }
      if (line !== undefined) st.lines.set(p, line);
      obj[key] = build(pair.value, p, depth + 1, st);
    }
    return obj;
  }
  if (isSeq(node)) {
    return node.items.map((item, i) => {
      const p = `${path}[${i}]`;
      const line = nodeLine(item, st.lc);
      if (line !== undefined) st.lines.set(p, line);
      return build(item, p, depth + 1, st);
    });
  }
  return null;
}

function byLine(a: ConfigProblem, b: ConfigProblem): number {
  return (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER);
}

/** Parse YAML text into an unfrozen Config; throws ConfigError listing every problem. */
function parseUnfrozen(text: string, file: string): Config {
  const lc = new (yaml().LineCounter)();
  const doc = yaml().parseDocument(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: false });
  // Errors at end of input point past the final newline; report the last real line instead.
  const lastLine = Math.max(1, text.endsWith("\n") ? lc.lineStarts.length - 1 : lc.lineStarts.length);
  const syntax: ConfigProblem[] = [...doc.errors, ...doc.warnings].map((e) => ({
    path: "",
    line: Math.min(lc.linePos(e.pos[0]).line, lastLine),
    message: `YAML: ${e.message.split("\n")[0]}`,
  }));
  if (syntax.length) throw new ConfigError(file, syntax.sort(byLine));

  const st: BuildState = { doc, lc, lines: new Map(), problems: [], count: 0 };
  let plain: unknown;
  try {
    plain = build(doc.contents, "", 0, st);
  } catch (e) {
    if (!(e instanceof TooComplex)) throw e;
    throw new ConfigError(file, [{ path: "", message: "document is too large, too deeply nested or too heavily aliased" }]);
  }
  const { config, problems } = validateConfig(plain, (p) => st.lines.get(p));
  const all = [...st.problems, ...problems];
  if (all.length) {
    if (all.some((p) => p.path === "" && p.line === undefined)) {
      // Top-level type error: point at the first line of the document.
      const line = nodeLine(doc.contents, lc);
      for (const p of all) if (p.path === "" && p.line === undefined && line !== undefined) p.line = line;
    }
    throw new ConfigError(file, all.sort(byLine));
  }
  return config;
}

/**
 * Parse and validate YAML config text. An empty document (or only comments)
 * yields the defaults. Returns a deeply frozen Config; throws ConfigError
 * with every problem (syntax errors, unknown keys, wrong types, duplicates).
 */
export function parseConfig(text: string, file: string): Config {
  return deepFreeze(parseUnfrozen(text, file));
}

/**
 * Apply NETEVD_LOG_LEVEL, NETEVD_BACKEND and NETEVD_API_LISTEN. Values are
 * validated with the same rules as the file (so NETEVD_API_LISTEN="" turns
 * TCP off, and an empty NETEVD_LOG_LEVEL is an error). Throws ConfigError
 * (file "environment", path = variable name). Returns a deeply frozen Config
 * (the same object when nothing is overridden and the input was frozen).
 */
export function applyEnvOverrides(config: Config, env: NodeJS.ProcessEnv): { config: Config; notes: string[] } {
  const notes: string[] = [];
  const problems: ConfigProblem[] = [];
  const sets: Array<[section: string, key: string, value: unknown]> = [];
  for (const [name, path] of Object.entries(ENV_OVERRIDES)) {
    const raw = env[name];
    if (raw === undefined) continue;
    const r = validateValue(path, raw);
    if (!r.ok) {
      for (const m of r.messages) problems.push({ path: name, message: `${m} (overrides ${path})` });
      continue;
    }
    const [section, key] = path.split(".") as [string, string];
    sets.push([section, key, r.value]);
    notes.push(`${name}=${JSON.stringify(raw)} overrides ${path}`);
  }
  if (problems.length) throw new ConfigError(ENV_SOURCE, problems);
  if (sets.length === 0) return { config: deepFreeze(config), notes };
  const out = structuredClone(config) as unknown as Record<string, Record<string, unknown>>;
  for (const [section, key, value] of sets) (out[section] as Record<string, unknown>)[key] = value;
  return { config: deepFreeze(out as unknown as Config), notes };
}

export interface LoadOptions {
  /** Config file; default: $NETEVD_CONFIG, else DEFAULT_CONFIG_PATH. */
  path?: string;
  /** Environment for overrides (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Overrides DEFAULT_CONFIG_PATH (for tests); still "not explicit", so a missing file means defaults. */
  defaultPath?: string;
}

export interface LoadResult {
  /** Deeply frozen. */
  config: Config;
  /** Absolute path of the config file (read, or looked for). */
  file: string;
  /** False when the default path did not exist and defaults were used. */
  fromFile: boolean;
  /** Human-readable informational lines for the log. */
  notes: string[];
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

/**
 * Load the config: the file (opts.path, else $NETEVD_CONFIG, else
 * /etc/netevd/netevd.yaml), then environment overrides. A missing file is
 * only tolerated at the default path. Throws ConfigError on any problem.
 */
export function loadConfig(opts: LoadOptions = {}): LoadResult {
  const env = opts.env ?? process.env;
  const notes: string[] = [];
  let given = opts.path;
  if (given === undefined && env.NETEVD_CONFIG) {
    given = env.NETEVD_CONFIG;
    notes.push(`config file from NETEVD_CONFIG: ${given}`);
  }
  const explicit = given !== undefined;
  const file = resolve(given ?? opts.defaultPath ?? DEFAULT_CONFIG_PATH);

  let text: string | undefined;
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new ConfigError(file, [{ path: "", message: "is a directory, expected a YAML file" }]);
    if (st.size > MAX_CONFIG_BYTES) throw new ConfigError(file, [{ path: "", message: `file is too large (${st.size} bytes, limit ${MAX_CONFIG_BYTES})` }]);
    if (st.mode & 0o002) notes.push(`warning: ${file} is writable by all users`);
    text = readFileSync(file, "utf8");
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = errCode(e);
    const missing = code === "ENOENT" || code === "ENOTDIR";
    if (!(missing && !explicit)) {
      throw new ConfigError(file, [
        { path: "", message: missing ? "config file not found" : `cannot read config file: ${(e as Error).message}` },
      ]);
    }
    notes.push(`no config file at ${file}, using defaults`);
  }

  const base = text === undefined ? validateConfig(undefined).config : parseUnfrozen(text, file);
  const { config, notes: envNotes } = applyEnvOverrides(base, env);
  return { config, file, fromFile: text !== undefined, notes: [...notes, ...envNotes] };
}
