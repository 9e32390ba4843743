// The netevd configuration's types and defaults, the problems validation reports, and the helpers
// on a config value (deep freeze, equality). No validation here: see schema.ts.

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
