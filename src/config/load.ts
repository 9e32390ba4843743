// Reading the YAML config file, mapping problems to lines, env overrides.

import { closeSync, constants as fsc, fstatSync, openSync, readSync, statSync, type Stats } from "node:fs";
import { resolve } from "node:path";
import type { Document, LineCounter } from "yaml";
import { withYaml, yaml } from "./yaml.js";
import { validateConfig, validateValue } from "./schema.js";
import { ConfigError, deepFreeze, formatProblem, type Config, type ConfigProblem } from "./types.js";
import { applyLegacyEdits, joinListen, legacyEdits, splitListen, type LegacyEdit } from "./legacy.js";
import { runProblems } from "./check.js";

export const DEFAULT_CONFIG_PATH = "/etc/netevd/netevd.yaml";

/** Environment variables that override single keys, applied after the file. */
export const ENV_OVERRIDES = {
  NETEVD_LOG_LEVEL: "system.log_level",
  NETEVD_BACKEND: "system.backend",
  NETEVD_API_LISTEN: "api.listen",
} as const;

/** The Rust netevd's variables: they replace the host or the port of api.listen. */
export const ENV_LISTEN_PARTS = {
  NETEVD_API_BIND_ADDRESS: "host",
  NETEVD_API_PORT: "port",
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
  if (yaml().isAlias(node)) {
    const target = node.resolve(st.doc);
    if (!target) {
      const line = nodeLine(node, st.lc);
      st.problems.push({ path, ...(line !== undefined && { line }), message: `unresolved alias *${node.source}` });
      return null;
    }
    return build(target, path, depth + 1, st);
  }
  if (yaml().isScalar(node)) {
    const v = node.value;
    return typeof v === "bigint" ? Number(v) : v;
  }
  if (yaml().isMap(node)) {
    // Null prototype: keys like "__proto__" are plain data here.
    const obj = Object.create(null) as Record<string, unknown>;
    for (const pair of node.items) {
      let keyNode: unknown = pair.key;
      if (yaml().isAlias(keyNode)) keyNode = keyNode.resolve(st.doc);
      const line = nodeLine(keyNode, st.lc) ?? nodeLine(pair.value, st.lc);
      if (keyNode !== null && keyNode !== undefined && !yaml().isScalar(keyNode)) {
        st.problems.push({ path, ...(line !== undefined && { line }), message: "mapping keys must be plain strings" });
        continue;
      }
      const kv = yaml().isScalar(keyNode) ? keyNode.value : null;
      const key = typeof kv === "string" ? kv : typeof kv === "number" || typeof kv === "boolean" || typeof kv === "bigint" ? String(kv) : "";
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
  if (yaml().isSeq(node)) {
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

interface Parsed {
  config: Config;
  /** accepted keys of older configs that are mapped or ignored, with why */
  warnings: ConfigProblem[];
}

/** Parse YAML text into an unfrozen Config; throws ConfigError listing every problem. */
function parseUnfrozen(text: string, file: string): Parsed {
  return withYaml(() => parseWithYaml(text, file));
}

function parseWithYaml(text: string, file: string): Parsed {
  const { doc, lc, plain, lines, problems: buildProblems } = parseYaml(text, file);
  const legacy = legacyEdits(plain);
  const { config, problems } = validateConfig(applyLegacyEdits(plain, legacy.edits), (p) => lines.get(p));
  const withLine = (p: ConfigProblem): ConfigProblem => {
    const line = p.line ?? lines.get(p.path);
    return line === undefined ? p : { ...p, line };
  };
  const all = [...buildProblems, ...legacy.problems.map(withLine), ...problems];
  if (all.length) {
    if (all.some((p) => p.path === "" && p.line === undefined)) {
      // Top-level type error: point at the first line of the document.
      const line = nodeLine(doc.contents, lc);
      for (const p of all) if (p.path === "" && p.line === undefined && line !== undefined) p.line = line;
    }
    throw new ConfigError(file, all.sort(byLine));
  }
  return { config, warnings: legacy.warnings.map(withLine).sort(byLine) };
}

/** YAML text → plain data with the line of every key path; throws ConfigError on syntax errors. */
function parseYaml(text: string, file: string): { doc: Document; lc: LineCounter; plain: unknown; lines: Map<string, number>; problems: ConfigProblem[] } {
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
  return { doc, lc, plain, lines: st.lines, problems: st.problems };
}

function applyEditsToDocument(doc: Document, edits: readonly LegacyEdit[]): void {
  for (const e of edits) {
    if (e.op === "delete") doc.deleteIn(e.path);
    else if (e.op === "set") doc.setIn(e.path, e.value);
    else {
      const cur = doc.getIn(e.path);
      const have = yaml().isSeq(cur) ? cur.items.map((i) => (yaml().isScalar(i) ? i.value : undefined)) : [];
      if (!yaml().isSeq(cur)) doc.setIn(e.path, doc.createNode([]));
      for (const v of e.values) if (!have.includes(v)) doc.addIn(e.path, v);
    }
  }
}

/**
 * `netevd validate --migrate`: the file rewritten with today's keys (comments of the keys that stay
 * are kept). Throws ConfigError when the result would not be valid (what cannot be migrated).
 */
export function migrateConfigText(text: string, file: string): { text: string; warnings: ConfigProblem[] } {
  return withYaml(() => {
    const { warnings } = parseUnfrozen(text, file);
    const { doc, plain } = parseYaml(text, file);
    applyEditsToDocument(doc, legacyEdits(plain).edits);
    const out = doc.toString({ lineWidth: 0 });
    // the rewritten file must itself be valid and have nothing left to migrate
    const again = parseUnfrozen(out, `${file} (migrated)`);
    if (again.warnings.length) throw new ConfigError(file, again.warnings);
    return { text: out, warnings };
  });
}

/**
 * Parse and validate YAML config text. An empty document (or only comments)
 * yields the defaults. Returns a deeply frozen Config; throws ConfigError
 * with every problem (syntax errors, unknown keys, wrong types, duplicates).
 */
export function parseConfig(text: string, file: string): Config {
  return deepFreeze(parseUnfrozen(text, file).config);
}

/** Like parseConfig, with the warnings about older keys that were mapped or ignored. */
export function parseConfigWithWarnings(text: string, file: string): Parsed {
  const r = parseUnfrozen(text, file);
  return { config: deepFreeze(r.config), warnings: r.warnings };
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
  const host = env.NETEVD_API_BIND_ADDRESS;
  const port = env.NETEVD_API_PORT;
  if (host !== undefined || port !== undefined) {
    const set = sets.find((s) => s[0] === "api" && s[1] === "listen");
    const current = (set?.[2] as string | undefined) ?? config.api.listen;
    const base = splitListen(current === "" ? "127.0.0.1:9090" : current);
    const listen = joinListen(host ?? base.host, port ?? base.port);
    const r = validateValue("api.listen", listen);
    const names = Object.keys(ENV_LISTEN_PARTS)
      .filter((n) => env[n] !== undefined)
      .join(" and ");
    if (!r.ok) {
      for (const m of r.messages) problems.push({ path: names, message: `${m} (sets api.listen to ${JSON.stringify(listen)})` });
    } else {
      if (set) set[2] = r.value;
      else sets.push(["api", "listen", r.value]);
      notes.push(`${names} set api.listen to ${JSON.stringify(listen)}`);
    }
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
    text = readConfigFile(file, notes);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = errCode(e);
    const missing = code === "ENOENT" || code === "ENOTDIR";
    if (!(missing && !explicit)) {
      throw new ConfigError(file, [{ path: "", message: missing ? "config file not found" : `cannot read config file: ${(e as Error).message}` }]);
    }
    notes.push(`no config file at ${file}, using defaults`);
  }

  let base: Config;
  if (text === undefined) {
    base = validateConfig(undefined).config;
  } else {
    const parsed = parseUnfrozen(text, file);
    base = parsed.config;
    for (const w of parsed.warnings) notes.push(`warning: ${formatProblem(file, w)}`);
  }
  const { config, notes: envNotes } = applyEnvOverrides(base, env);
  // the checks `run` makes beyond the schema (validate and reload make the same ones)
  const problems = runProblems(config);
  if (problems.length) throw new ConfigError(file, problems);
  return { config, file, fromFile: text !== undefined, notes: [...notes, ...envNotes] };
}

/** Why a file of this kind cannot be a config file, or undefined for a regular file. */
function notRegular(st: Stats): string | undefined {
  if (st.isFile()) return undefined;
  const kind = st.isDirectory()
    ? "a directory"
    : st.isFIFO()
      ? "a FIFO"
      : st.isSocket()
        ? "a socket"
        : st.isCharacterDevice() || st.isBlockDevice()
          ? "a device"
          : "not a regular file";
  return `is ${kind}, expected a regular YAML file`;
}

/**
 * Read the config file without ever blocking: a FIFO, device or directory is refused before it is
 * read (stat first, so that opening a device has no side effect; O_NONBLOCK and fstat after opening,
 * so that a file swapped in between cannot block us either), and at most MAX_CONFIG_BYTES are read.
 */
function readConfigFile(file: string, notes: string[]): string {
  const refuse = (message: string) => new ConfigError(file, [{ path: "", message }]);
  const pre = notRegular(statSync(file));
  if (pre) throw refuse(pre);
  const fd = openSync(file, fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY);
  try {
    const st = fstatSync(fd);
    const kind = notRegular(st);
    if (kind) throw refuse(kind);
    if (st.size > MAX_CONFIG_BYTES) throw refuse(`file is too large (${st.size} bytes, limit ${MAX_CONFIG_BYTES})`);
    if (st.mode & 0o002) notes.push(`warning: ${file} is writable by all users`);
    // one byte more than the cap: a file that grew after fstat is still refused
    const buf = Buffer.allocUnsafe(MAX_CONFIG_BYTES + 1); // pages untouched beyond what is read
    let len = 0;
    for (let n; len < buf.length && (n = readSync(fd, buf, len, buf.length - len, null)) > 0;) len += n;
    if (len > MAX_CONFIG_BYTES) throw refuse(`file is too large (more than ${MAX_CONFIG_BYTES} bytes)`);
    return buf.toString("utf8", 0, len);
  } finally {
    closeSync(fd);
  }
}
