// The netevd configuration: TypeScript types, defaults and a small typed
// validator. The validator works on plain data (what YAML/JSON parse into) and
// knows nothing about files; see load.ts for YAML, line numbers and env vars.

import { isIPv4, isIPv6 } from "node:net";
import { checkGlobSyntax, compileGlob, globMinLength, hasGlobChars } from "./glob.js";
import { HOOK_EVENTS } from "../hook-dirs.js";
import { RTPROT_NAMES, RTPROT_RA } from "../netlink/constants.js";

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ["auto", "text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const BACKENDS = ["auto", "systemd-networkd", "NetworkManager", "dhclient", "none"] as const;
export type Backend = (typeof BACKENDS)[number];

export const CAPABILITIES = ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE"] as const;
export type Capability = (typeof CAPABILITIES)[number];

export interface SystemConfig {
  readonly log_level: LogLevel;
  readonly log_format: LogFormat;
  readonly backend: Backend;
  readonly user: string;
  /** The admin hook directory: the first of scripts_dirs. */
  readonly scripts_dir: string;
  /** Hook directories merged by file name, the first wins (admin before vendor). */
  readonly scripts_dirs: readonly string[];
  /** Durable state (the event sinks' spools); the unit's StateDirectory. */
  readonly state_dir: string;
}

export interface MonitoringConfig {
  /** Interface names or globs; empty = all interfaces. */
  readonly interfaces: readonly string[];
  /** Interface names or globs never watched (no events, no hooks), whatever `interfaces` says. */
  readonly exclude: readonly string[];
}

export interface CompatConfig {
  /** Also run networkd-dispatcher's scripts, the way it runs them. */
  readonly networkd_dispatcher: boolean;
  /** networkd-dispatcher's script directories, merged like system.scripts_dirs */
  readonly networkd_dispatcher_dirs: readonly string[];
}

export interface RoutingConfig {
  readonly policy_rules: readonly string[];
  readonly table_base: number;
  readonly priority_from: number;
  readonly priority_to: number;
  readonly protocol: number;
  readonly cleanup_on_exit: boolean;
}

export interface DhcpUseOptions {
  readonly use_dns: boolean;
  readonly use_domain: boolean;
  readonly use_hostname: boolean;
}

export interface SystemdNetworkdBackendConfig extends DhcpUseOptions {
  readonly emit_json: boolean;
}

export type NetworkManagerBackendConfig = DhcpUseOptions;

export interface DhclientBackendConfig extends DhcpUseOptions {
  readonly lease_files: readonly string[];
}

export interface BackendsConfig {
  readonly systemd_networkd: SystemdNetworkdBackendConfig;
  readonly networkmanager: NetworkManagerBackendConfig;
  readonly dhclient: DhclientBackendConfig;
}

export interface HooksConfig {
  readonly timeout_sec: number;
  readonly debounce_ms: number;
  readonly routes_debounce_ms: number;
  readonly max_parallel: number;
  readonly replay_on_start: boolean;
  readonly capabilities: readonly Capability[];
  /** null: the daemon's user (system.user); "root": through the privileged hook runner */
  readonly user: string | null;
}

export interface EventsConfig {
  readonly history_size: number;
}

export interface ApiConfig {
  readonly enabled: boolean;
  /** "host:port", "[v6]:port", or "" (TCP listener off). See parseListen(). */
  readonly listen: string;
  /** Absolute path of the unix socket, or "" (unix socket off). */
  readonly socket: string;
  readonly token: string | null;
  readonly max_body_bytes: number;
  readonly rate_limit_per_sec: number;
  /** the read-only web page at / on the API listener */
  readonly dashboard: boolean;
}

export interface MetricsConfig {
  readonly enabled: boolean;
  /** a metrics-only listener ("host:port"; "" = none): /metrics without the rest of the API */
  readonly listen: string;
}

/** One event sink: CloudEvents 1.0 over HTTP(S), spooled on disk (src/actions/sinks). */
export interface SinkConfig {
  /** [a-z0-9-]{1,32}: metric label, log field and spool directory name */
  readonly name: string;
  readonly url: string;
  /** HMAC-SHA256 key file (regular file, not readable by others); null = unsigned */
  readonly secret_file: string | null;
  /** event name globs; [] = every event */
  readonly events: readonly string[];
  /** interface name globs (the rules of monitoring.interfaces); [] = every link and link-less events */
  readonly links: readonly string[];
  readonly timeout_sec: number;
  readonly tls_verify: boolean;
  /** PEM CA bundle trusted for this sink (instead of the system's) */
  readonly ca_file: string | null;
  /** events per request: 1 = structured mode, more = batched mode (a JSON array) */
  readonly batch_max: number;
  /** spool byte cap on disk; beyond it the oldest events are dropped (and counted) */
  readonly spool_max_bytes: number;
  /** how long appended events may wait for fdatasync: the window lost on power failure */
  readonly spool_sync_ms: number;
  readonly retry_initial_ms: number;
  readonly retry_max_sec: number;
  /** /health and `status` report the sink once it has failed for this long */
  readonly unhealthy_after_sec: number;
}

export interface Config {
  readonly system: SystemConfig;
  readonly monitoring: MonitoringConfig;
  readonly routing: RoutingConfig;
  readonly backends: BackendsConfig;
  readonly hooks: HooksConfig;
  readonly events: EventsConfig;
  readonly api: ApiConfig;
  readonly metrics: MetricsConfig;
  readonly compat: CompatConfig;
  readonly sinks: readonly SinkConfig[];
}

/** One validation problem. `path` is e.g. "hooks.timeout_sec" or "monitoring.interfaces[2]" ("" = whole file). */
export interface ConfigProblem {
  path: string;
  /** 1-based line in the config file, when known. */
  line?: number;
  message: string;
}

/** Format one problem as `FILE:LINE: PATH: MESSAGE` (LINE and PATH omitted when absent). */
export function formatProblem(file: string, p: ConfigProblem): string {
  const loc = p.line !== undefined ? `${file}:${p.line}` : file;
  return p.path ? `${loc}: ${p.path}: ${p.message}` : `${loc}: ${p.message}`;
}

/** Thrown for any invalid configuration; carries every problem found, not just the first. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly file: string;
  readonly problems: ConfigProblem[];

  constructor(file: string, problems: ConfigProblem[]) {
    super(problems.map((p) => formatProblem(file, p)).join("\n") || `${file}: invalid configuration`);
    this.file = file;
    this.problems = problems;
  }
}

// ---------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------

export const DEFAULT_LEASE_FILES: readonly string[] = [
  "/var/lib/dhcp/*.leases",
  "/var/lib/dhcp/*.lease",
  "/var/lib/dhclient/*.leases",
  "/var/lib/dhclient/*.lease",
];

/** Admin directory first (it wins by file name), then the vendor directory packages install into. */
export const DEFAULT_SCRIPTS_DIRS: readonly string[] = ["/etc/netevd", "/usr/lib/netevd"];

const DEFAULTS: Config = deepFreeze({
  system: {
    log_level: "info",
    log_format: "auto",
    backend: "auto",
    user: "netevd",
    scripts_dir: "/etc/netevd",
    scripts_dirs: [...DEFAULT_SCRIPTS_DIRS],
    state_dir: "/var/lib/netevd",
  },
  monitoring: {
    interfaces: [],
    exclude: [],
  },
  routing: {
    policy_rules: [],
    table_base: 200,
    priority_from: 32765,
    priority_to: 32766,
    protocol: 0x6e,
    cleanup_on_exit: false,
  },
  backends: {
    systemd_networkd: { emit_json: true, use_dns: false, use_domain: false, use_hostname: false },
    networkmanager: { use_dns: false, use_domain: false, use_hostname: false },
    dhclient: {
      use_dns: false,
      use_domain: false,
      use_hostname: false,
      lease_files: [...DEFAULT_LEASE_FILES],
    },
  },
  hooks: {
    timeout_sec: 30,
    debounce_ms: 0,
    routes_debounce_ms: 250,
    max_parallel: 4,
    replay_on_start: true,
    capabilities: [],
    user: null,
  },
  events: {
    history_size: 1000,
  },
  api: {
    enabled: true,
    listen: "127.0.0.1:9090",
    socket: "/run/netevd/netevd.sock",
    token: null,
    max_body_bytes: 65536,
    rate_limit_per_sec: 200,
    dashboard: true,
  },
  metrics: {
    enabled: true,
    listen: "",
  },
  compat: {
    networkd_dispatcher: false,
    networkd_dispatcher_dirs: ["/etc/networkd-dispatcher", "/usr/lib/networkd-dispatcher"],
  },
  sinks: [],
});

export const SINK_DEFAULTS: Omit<SinkConfig, "name" | "url"> = deepFreeze({
  secret_file: null,
  events: [],
  links: [],
  timeout_sec: 10,
  tls_verify: true,
  ca_file: null,
  batch_max: 1,
  spool_max_bytes: 16 * 1024 * 1024,
  spool_sync_ms: 200,
  retry_initial_ms: 500,
  retry_max_sec: 60,
  unhealthy_after_sec: 60,
});

/** A fresh, mutable (not frozen) deep copy of the defaults. */
export function defaultConfig(): Config {
  return structuredClone<Config>(DEFAULTS);
}

/** Recursively Object.freeze plain objects and arrays; returns its argument. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

// ---------------------------------------------------------------------------
// Leaf parsers
// ---------------------------------------------------------------------------

interface Issue {
  /** Appended to the key path, e.g. "[2]". */
  sub?: string;
  message: string;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; issues: Issue[] };

class Leaf<T> {
  constructor(
    readonly parse: (v: unknown) => Parsed<T>,
    /** Never echo the value in messages (tokens). */
    readonly secret = false,
  ) {}
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(message: string, sub?: string): Parsed<T> => ({ ok: false, issues: [sub === undefined ? { message } : { sub, message }] });

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Human description of a value for "got ..." messages. */
export function describeValue(v: unknown, secret = false): string {
  if (v === null || v === undefined) return "null (empty value)";
  if (Array.isArray(v)) return "a list";
  if (isMapping(v)) return "a mapping";
  if (secret) return `${typeof v} (value hidden)`;
  if (typeof v === "string") {
    const s = v.length > 60 ? `${v.slice(0, 57)}...` : v;
    return `string ${JSON.stringify(s)}`;
  }
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return `${typeof v} ${String(v)}`;
  return typeof v;
}

const YAML11_BOOLS = new Set(["yes", "no", "on", "off", "y", "n"]);

function wrongType(expected: string, v: unknown, secret = false): string {
  let msg = `expected ${expected}, got ${describeValue(v, secret)}`;
  if (expected.startsWith("a boolean") && typeof v === "string" && YAML11_BOOLS.has(v.toLowerCase())) {
    msg += "; use true or false (YAML 1.2)";
  } else if (expected.startsWith("a string") && (typeof v === "number" || typeof v === "boolean")) {
    msg += "; put it in quotes";
  }
  return msg;
}

const bool = (): Leaf<boolean> =>
  new Leaf((v) => (typeof v === "boolean" ? ok(v) : fail(wrongType("a boolean (true or false)", v))));

function int(min: number, max: number): Leaf<number> {
  return new Leaf((v) => {
    if (typeof v !== "number" || !Number.isFinite(v)) return fail(wrongType("an integer", v));
    if (!Number.isInteger(v)) return fail(`expected an integer, got number ${v}`);
    if (v < min || v > max) return fail(`must be between ${min} and ${max}, got ${v}`);
    return ok(v);
  });
}

function positiveNumber(max: number): Leaf<number> {
  return new Leaf((v) => {
    if (typeof v !== "number" || !Number.isFinite(v)) return fail(wrongType("a number", v));
    if (v <= 0 || v > max) return fail(`must be greater than 0 and at most ${max}, got ${v}`);
    return ok(v);
  });
}

/** Enumerated string; matched case-insensitively, with extra aliases, normalised to the canonical spelling. */
function oneOf<T extends string>(values: readonly T[], aliases: Readonly<Record<string, T>> = {}): Leaf<T> {
  const table = new Map<string, T>();
  for (const v of values) table.set(v.toLowerCase(), v);
  for (const [k, v] of Object.entries(aliases)) table.set(k.toLowerCase(), v);
  const expected = `one of ${values.join(", ")}`;
  return new Leaf((v) => {
    if (typeof v !== "string") return fail(wrongType(`a string (${expected})`, v));
    const hit = table.get(v.trim().toLowerCase());
    return hit !== undefined ? ok(hit) : fail(`expected ${expected}, got ${describeValue(v)}`);
  });
}

/** A string validated by `check`, which returns an error message or null. */
function str(check: (s: string) => string | null, secret = false): Leaf<string> {
  return new Leaf((v) => {
    if (typeof v !== "string") return fail(wrongType("a string", v, secret));
    const err = check(v);
    return err === null ? ok(v) : fail(err);
  }, secret);
}

function nullable<T>(inner: Leaf<T>): Leaf<T | null> {
  return new Leaf<T | null>((v) => (v === null ? ok(null) : inner.parse(v)), inner.secret);
}

/** A list whose items are checked by `item`; duplicates are rejected. */
function list<T>(item: (s: unknown) => Parsed<T>, what: string): Leaf<T[]> {
  return new Leaf((v) => {
    // `interfaces:` with nothing after it (as templates invite: "empty = all") is the empty list
    if (v === null) return ok([]);
    if (!Array.isArray(v)) return fail(wrongType(`a list of ${what}`, v));
    const out: T[] = [];
    const issues: Issue[] = [];
    const seen = new Map<string, number>();
    v.forEach((raw, i) => {
      const r = item(raw);
      if (!r.ok) {
        for (const is of r.issues) issues.push({ sub: `[${i}]${is.sub ?? ""}`, message: is.message });
        return;
      }
      const key = JSON.stringify(r.value);
      const prev = seen.get(key);
      if (prev !== undefined) {
        issues.push({ sub: `[${i}]`, message: `duplicate entry ${key} (same as [${prev}])` });
        return;
      }
      seen.set(key, i);
      out.push(r.value);
    });
    return issues.length ? { ok: false, issues } : ok(out);
  });
}

// --- string checks ----------------------------------------------------------

const IFNAME_CHARS = /^[A-Za-z0-9_.:@-]$/;
const IFNAME_PLAIN = /^[A-Za-z0-9_.:@-]{1,15}$/;
/** Longest accepted interface pattern (plain names are limited to IFNAMSIZ-1 = 15). */
export const MAX_IFACE_PATTERN_LENGTH = 64;

function checkInterfacePattern(v: unknown): Parsed<string> {
  if (typeof v !== "string") return fail(wrongType("a string (interface name or glob)", v));
  if (v.length === 0) return fail("must not be empty");
  if (!hasGlobChars(v)) {
    if (!IFNAME_PLAIN.test(v)) {
      return fail(
        v.length > 15
          ? `interface names are at most 15 characters, got ${describeValue(v)}`
          : `invalid interface name ${JSON.stringify(v)}: allowed characters are A-Z a-z 0-9 _ . : @ - and the glob characters * ? [ ] !`,
      );
    }
    if (v === "." || v === "..") return fail(`invalid interface name ${JSON.stringify(v)}`);
    return ok(v);
  }
  if (v.length > MAX_IFACE_PATTERN_LENGTH) return fail(`glob patterns are at most ${MAX_IFACE_PATTERN_LENGTH} characters`);
  const err = checkGlobSyntax(v, IFNAME_CHARS);
  if (err) return fail(`invalid glob ${JSON.stringify(v)}: ${err}`);
  if (globMinLength(v) > 15) return fail(`glob ${JSON.stringify(v)} can never match: interface names are at most 15 characters`);
  return ok(v);
}

function checkPolicyIface(v: unknown): Parsed<string> {
  if (typeof v !== "string") return fail(wrongType("a string (interface name)", v));
  if (hasGlobChars(v)) return fail(`globs are not allowed here, got ${describeValue(v)}; list interface names`);
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(v) || v === "." || v === "..") {
    return fail(`expected an interface name (1-15 characters of A-Z a-z 0-9 _ . -), got ${describeValue(v)}`);
  }
  return ok(v);
}

function absolutePathError(s: string): string | null {
  if (!s.startsWith("/")) return `must be an absolute path, got ${describeValue(s)}`;
  if (s.includes("\0")) return "must not contain NUL characters";
  if (s.length > 4095) return "path is too long";
  return null;
}

function checkScriptsDir(v: unknown): Parsed<string> {
  if (typeof v !== "string") return fail(wrongType("a string (absolute directory path)", v));
  const err = absolutePathError(v);
  if (err) return fail(err);
  if (v.split("/").includes("..")) return fail(`must not contain "..", got ${describeValue(v)}`);
  return ok(v.length > 1 ? v.replace(/\/+$/, "") : v);
}

function checkLeaseFile(v: unknown): Parsed<string> {
  if (typeof v !== "string") return fail(wrongType("a string (absolute path or glob)", v));
  const err = absolutePathError(v);
  return err ? fail(err) : ok(v);
}

function checkCapability(v: unknown): Parsed<Capability> {
  if (typeof v !== "string") return fail(wrongType("a string (capability name)", v));
  if ((CAPABILITIES as readonly string[]).includes(v)) return ok(v as Capability);
  const up = v.trim().toUpperCase();
  const guess = (CAPABILITIES as readonly string[]).find((c) => c === up || c === `CAP_${up}`);
  return fail(`expected one of ${CAPABILITIES.join(", ")}, got ${describeValue(v)}${guess ? `; did you mean "${guess}"?` : ""}`);
}

const USER_RE = /^[a-z_][a-z0-9_-]{0,31}\$?$/;

const HOSTNAME_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/**
 * Parse an `api.listen` value. Returns null for "" (TCP off); throws Error
 * with a human message for an invalid value. Bracketed IPv6 is returned
 * without brackets.
 */
export function parseListen(s: string): { host: string; port: number } | null {
  if (s === "") return null;
  let host: string;
  let portStr: string;
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0) throw new Error(`unterminated "[" in ${JSON.stringify(s)}`);
    host = s.slice(1, end);
    const rest = s.slice(end + 1);
    if (!rest.startsWith(":")) throw new Error(`expected "[ipv6]:port", got ${JSON.stringify(s)}`);
    portStr = rest.slice(1);
    if (!isIPv6(host)) throw new Error(`invalid IPv6 address ${JSON.stringify(host)}`);
  } else {
    const idx = s.lastIndexOf(":");
    if (idx < 0) throw new Error(`missing port: expected "host:port", "[ipv6]:port" or "" (off), got ${JSON.stringify(s)}`);
    host = s.slice(0, idx);
    portStr = s.slice(idx + 1);
    if (host.includes(":")) throw new Error(`IPv6 addresses must be in brackets, e.g. "[::1]:9090", got ${JSON.stringify(s)}`);
    if (host === "") throw new Error(`missing host: use e.g. "0.0.0.0:${portStr}" or "[::]:${portStr}" to listen on all addresses`);
    if (/^[0-9.]+$/.test(host)) {
      if (!isIPv4(host)) throw new Error(`invalid IPv4 address ${JSON.stringify(host)}`);
    } else if (host.length > 253 || !host.split(".").every((l) => HOSTNAME_LABEL.test(l))) {
      throw new Error(`invalid host name ${JSON.stringify(host)}`);
    }
  }
  if (!/^[0-9]{1,5}$/.test(portStr)) throw new Error(`invalid port ${JSON.stringify(portStr)}`);
  const port = Number(portStr);
  if (port < 1 || port > 65535) throw new Error(`port must be between 1 and 65535, got ${port}`);
  return { host, port };
}

function checkListen(s: string): string | null {
  try {
    parseListen(s);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

function checkSocket(s: string): string | null {
  if (s === "") return null;
  const err = absolutePathError(s);
  if (err) return `${err} (or "" to disable the unix socket)`;
  if (Buffer.byteLength(s) > MAX_SOCKET_PATH_BYTES) return `unix socket paths are at most ${MAX_SOCKET_PATH_BYTES} bytes`;
  return null;
}

function checkToken(s: string): string | null {
  // Never echo the token itself.
  if (s.length < 8 || s.length > 256) return `must be 8 to 256 characters long, got ${s.length}`;
  if (!/^[\x21-\x7e]+$/.test(s)) return "must consist of printable ASCII characters without spaces";
  return null;
}


/** rt protocol id: a number or a "0x.." / decimal string; 0-4 are reserved by the kernel. */
const protocolLeaf = new Leaf<number>((v) => {
  let n: number;
  if (typeof v === "number") {
    n = v;
  } else if (typeof v === "string" && /^\s*(0[xX][0-9a-fA-F]+|[0-9]+)\s*$/.test(v)) {
    n = Number(v.trim());
  } else {
    return fail(wrongType('an integer or a hex string like "0x6e"', v));
  }
  if (!Number.isInteger(n)) return fail(`expected an integer, got ${describeValue(v)}`);
  if (n < 5 || n > 255) return fail(`must be between 5 and 255 (0-4 are reserved by the kernel), got ${n}`);
  const owner = n === RTPROT_RA ? "ra (router advertisements)" : RTPROT_NAMES[n];
  if (owner) return fail(`${n} is the protocol id of ${owner} (rtnetlink.h): netevd would treat its routes and rules as its own`);
  return ok(n);
});

const SINK_NAME = /^[a-z0-9-]{1,32}$/;

function checkSinkUrl(s: string): string | null {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return `expected an http:// or https:// URL, got ${describeValue(s)}`;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return `expected an http:// or https:// URL, got ${describeValue(s)}`;
  // credentials in the URL would end up in logs and `status`: use secret_file (or a token in the path)
  if (u.username || u.password) return "user:password@ in the URL is not supported (it would be logged); use secret_file";
  if (u.hash) return "a #fragment is not sent to the server; remove it";
  return null;
}

const EVENT_CHARS = /^[a-z0-9-]$/;

function checkEventPattern(v: unknown): Parsed<string> {
  if (typeof v !== "string") return fail(wrongType("a string (event name or glob)", v));
  if (v.length === 0 || v.length > 64) return fail("must be 1 to 64 characters");
  const err = checkGlobSyntax(v, EVENT_CHARS);
  if (err) return fail(`invalid glob ${JSON.stringify(v)}: ${err}`);
  const m = compileGlob(v);
  if (!HOOK_EVENTS.some((e) => m(e))) return fail(`${JSON.stringify(v)} matches no event (events are the hook directory names without ".d": ${HOOK_EVENTS.join(", ")})`);
  return ok(v);
}

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

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Whether two configs are deeply equal (for reload: "nothing changed"). */
export function configEquals(a: Config, b: Config): boolean {
  return deepEqual(a, b);
}
