// Pure: the environment of a hook script, built from a HookJob. The environment is cleared, then
// filled with the daemon's variables and the backend's extra variables; every value is validated
// (src/net/validate.ts) and a bad one is dropped and reported, never passed on.
import type { HookJob, NetevdEvent } from "../../events/types.js";
import { checkValue, hasControlChars, MAX_JSON, validationKind, validIp } from "../../net/validate.js";
import { isLinkLocal } from "../../net/address.js";

export interface EnvProblem {
  variable: string;
  reason: string;
}

export const HOOK_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

/** Names the daemon itself sets: job.env cannot set or override them. */
export const DAEMON_VARS: ReadonlySet<string> = new Set([
  "PATH",
  "LANG",
  "TZ",
  "LINK",
  "LINKINDEX",
  "STATE",
  "BACKEND",
  "ADDRESSES",
  "EVENT",
  "JSON",
  "NETEVD_EVENT",
  "NETEVD_REPLAY",
]);

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Names that change how the dynamic loader or a shell behaves before the script's first line runs.
 * No backend has a reason to set them; refused as defence in depth.
 */
function dangerousName(name: string): boolean {
  return name.startsWith("LD_") || name === "BASH_ENV" || name === "ENV" || name === "SHELLOPTS" || name === "BASHOPTS" || name === "IFS" || name === "PS4";
}

/**
 * ADDRESSES: the event's addresses without prefix length, v4 then v6, link-local excluded.
 * Returns undefined when an entry is not an address (the whole variable is then dropped).
 */
export function addressesValue(addresses: readonly string[]): string | undefined {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const entry of addresses) {
    if (typeof entry !== "string") return undefined;
    const slash = entry.indexOf("/");
    const a = slash >= 0 ? entry.slice(0, slash) : entry;
    if (slash >= 0 && !/^[0-9]{1,3}$/.test(entry.slice(slash + 1))) return undefined;
    if (!validIp(a)) return undefined;
    const family = a.includes(":") ? 6 : 4;
    if (isLinkLocal(family, a)) continue;
    (family === 4 ? v4 : v6).push(a);
  }
  return [...v4, ...v6].join(" ");
}

/**
 * JSON.stringify, compact, with the control characters it leaves raw (DEL, C1) and U+2028/U+2029
 * escaped as \uXXXX: the result contains no control character at all and parses back to the same value.
 */
export function safeJsonStringify(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The contract JSON of an event, as scripts get it in NETEVD_EVENT (one line, no control characters). */
export function contractJson(event: NetevdEvent): string {
  return safeJsonStringify(event);
}

/**
 * Build a script's environment. `daemonEnv` is the daemon's own environment (LANG and TZ are
 * copied from it). Problems name the variable and the reason, never the value.
 * - LINK/LINKINDEX are absent for manager-level events (link/index null); LINK may contain `@`/`:`
 *   only for kernel-backend events (the kernel reported the name).
 * - JSON is job.json when set (a pretty-printed document is compacted; an invalid one is dropped,
 *   not replaced), else the contract JSON; NETEVD_EVENT is always the contract JSON.
 * - job.env cannot set the daemon's names (DAEMON_VARS), LD_*, BASH_ENV, ENV, SHELLOPTS, BASHOPTS,
 *   IFS, PS4; other names must match ^[A-Za-z_][A-Za-z0-9_]*$ and values their VALIDATION_KIND.
 */
export function buildHookEnv(job: HookJob, daemonEnv: NodeJS.ProcessEnv): { env: Record<string, string>; problems: EnvProblem[] } {
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  const problems: EnvProblem[] = [];
  const ev = job.event;

  const put = (name: string, value: string, kernelName = false): void => {
    let reason = checkValue(validationKind(name), value, { kernelName });
    if (reason === "contains control characters" && validationKind(name) === "json") {
      // raw control characters in valid JSON can only be whitespace between tokens (a pretty-printed
      // document): re-serialize it compactly instead of dropping it
      const compact = recompactJson(value);
      if (compact !== undefined) {
        value = compact;
        reason = undefined;
      } else {
        reason = "contains control characters and is not valid JSON";
      }
    }
    if (reason === undefined) env[name] = value;
    else problems.push({ variable: name, reason });
  };

  env.PATH = HOOK_PATH;
  for (const name of ["LANG", "TZ"] as const) {
    const v = daemonEnv[name];
    if (v !== undefined) put(name, v);
  }

  if (ev.link !== null && ev.link !== undefined) put("LINK", ev.link, ev.source === "kernel");
  if (ev.index !== null && ev.index !== undefined) put("LINKINDEX", String(ev.index));
  put("STATE", job.state);
  put("BACKEND", ev.backend);
  const addrs = addressesValue(Array.isArray(ev.addresses) ? ev.addresses : []);
  if (addrs === undefined) problems.push({ variable: "ADDRESSES", reason: "an entry of event.addresses is not an IP address" });
  else put("ADDRESSES", addrs);
  put("EVENT", ev.event);
  const contract = contractJson(ev);
  put("NETEVD_EVENT", contract);
  put("JSON", job.json !== undefined ? job.json : contract);
  if (ev.replay === true) env.NETEVD_REPLAY = "1";

  for (const [name, value] of Object.entries(job.env ?? {})) {
    if (!NAME.test(name)) {
      problems.push({ variable: printableName(name), reason: "not a valid environment variable name" });
    } else if (DAEMON_VARS.has(name)) {
      problems.push({ variable: name, reason: "reserved: set by the daemon, cannot be overridden" });
    } else if (dangerousName(name)) {
      problems.push({ variable: name, reason: "refused: changes loader/shell behaviour" });
    } else if (typeof value !== "string") {
      problems.push({ variable: name, reason: "not a string" });
    } else {
      put(name, value);
    }
  }
  return { env: { ...env }, problems };
}

function recompactJson(s: string): string | undefined {
  if (s.length > MAX_JSON) return undefined;
  try {
    const out = safeJsonStringify(JSON.parse(s));
    return typeof out === "string" && !hasControlChars(out) && Buffer.byteLength(out) <= MAX_JSON ? out : undefined;
  } catch {
    return undefined;
  }
}

/** A variable name fit for a log line: control characters escaped, length capped. */
function printableName(name: string): string {
  const s = safeJsonStringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
  return s.slice(1, -1);
}

/** The kernel's limit for one argv/envp string, terminating NUL included (MAX_ARG_STRLEN, 32 pages). */
export const MAX_ARG_STRLEN = 131072;
/** The whole argv + envp budget when the stack limit is unknown: ARG_MAX with the default 8 MiB stack (stack / 4). */
export const DEFAULT_ARG_BUDGET = 2 * 1024 * 1024;

/**
 * What execve(2) accepts in total for argv + envp: a quarter of the stack limit (RLIMIT_STACK, as
 * /proc/self/limits gives it), at most 3/4 of _STK_LIM (6 MiB), at least ARG_MAX's floor (128 KiB).
 */
export function execArgBudget(limitsText: string | undefined): number {
  if (limitsText === undefined) return DEFAULT_ARG_BUDGET;
  const m = /^Max stack size\s+(\S+)/m.exec(limitsText);
  if (!m) return DEFAULT_ARG_BUDGET;
  const stack = m[1] === "unlimited" ? Infinity : Number(m[1]);
  if (!Number.isFinite(stack) && m[1] !== "unlimited") return DEFAULT_ARG_BUDGET;
  return Math.max(128 * 1024, Math.min(stack / 4, 6 * 1024 * 1024));
}

/** Bytes the kernel counts for one environment entry: "NAME=value" and its NUL. */
export function envEntryBytes(name: string, value: string): number {
  return Buffer.byteLength(name) + 1 + Buffer.byteLength(value) + 1;
}

/** Variables dropped last when the whole environment is too big: what every script relies on. */
const KEEP_LAST: ReadonlySet<string> = new Set(["PATH", "LINK", "LINKINDEX", "STATE", "EVENT", "BACKEND", "ADDRESSES", "NETEVD_REPLAY", "LANG", "TZ"]);

/**
 * Make `env` fit what execve(2) accepts, so that the script always runs: an entry longer than
 * MAX_ARG_STRLEN is dropped; then, while argv (`argv`, the exec'd program's arguments) + envp
 * (strings and pointers) exceed `budget`, the largest remaining value is dropped (the variables
 * every script relies on last). Each drop is reported. Returns a new object.
 */
export function fitExecLimits(env: Record<string, string>, argv: readonly string[], budget: number): { env: Record<string, string>; problems: EnvProblem[] } {
  const out: Record<string, string> = {};
  const problems: EnvProblem[] = [];
  let total = 0;
  for (const a of argv) total += Buffer.byteLength(a) + 1 + 8;
  for (const [name, value] of Object.entries(env)) {
    const n = envEntryBytes(name, value);
    if (n > MAX_ARG_STRLEN) {
      problems.push({ variable: name, reason: `${name}=value is ${n} bytes with its NUL, over the kernel's ${MAX_ARG_STRLEN}-byte limit for one exec string` });
      continue;
    }
    out[name] = value;
    total += n + 8; // the string and its envp pointer
  }
  total += 16; // the NULL ends of argv and envp
  if (total > budget) {
    const order = Object.keys(out).sort((a, b) => {
      const ka = KEEP_LAST.has(a) ? 1 : 0;
      const kb = KEEP_LAST.has(b) ? 1 : 0;
      return ka - kb || envEntryBytes(b, out[b]!) - envEntryBytes(a, out[a]!);
    });
    for (const name of order) {
      if (total <= budget) break;
      total -= envEntryBytes(name, out[name]!) + 8;
      delete out[name];
      problems.push({ variable: name, reason: `dropped to fit the execve limit of ${budget} bytes for arguments and environment` });
    }
  }
  return { env: out, problems };
}

/** At most this many variables in a hook environment (the daemon sets about 20). */
export const MAX_ENV_VARS = 256;

/**
 * Re-validate an environment that crossed a process boundary (the privileged runner checks what
 * the daemon sends): every name and value must be what buildHookEnv could have produced.
 * Returns the first problem, or undefined.
 */
export function checkHookEnv(env: unknown): string | undefined {
  if (typeof env !== "object" || env === null || Array.isArray(env)) return "env is not an object";
  const entries = Object.entries(env as Record<string, unknown>);
  if (entries.length > MAX_ENV_VARS) return `more than ${MAX_ENV_VARS} variables`;
  for (const [name, value] of entries) {
    if (!NAME.test(name) || name.length > 128) return "a variable name is not valid";
    if (dangerousName(name)) return `${name}: refused (changes loader/shell behaviour)`;
    if (typeof value !== "string") return `${name}: not a string`;
    if (name === "PATH" && value !== HOOK_PATH) return "PATH is not the hook PATH";
    if (name === "NETEVD_REPLAY" && value !== "1") return "NETEVD_REPLAY is not 1";
    const reason = checkValue(validationKind(name), value, { kernelName: name === "LINK" });
    if (reason !== undefined) return `${name}: ${reason}`;
  }
  return undefined;
}
