// The leaves of the configuration schema: a Leaf parses one value and reports what is wrong with
// it; the combinators build them (bool, int, oneOf, str, nullable, list), and the checks below are
// the rules for single values from outside (interface names and globs, paths, listen addresses,
// tokens, protocol ids, sink URLs, event globs). schema.ts arranges them into the config's shape.

import { isIPv4, isIPv6 } from "node:net";
import { checkGlobSyntax, compileGlob, globMinLength, hasGlobChars } from "./glob.js";
import { HOOK_EVENTS } from "../hook-dirs.js";
import { RTPROT_NAMES, RTPROT_RA } from "../netlink/constants.js";
import { CAPABILITIES, type Capability } from "./types.js";

// ---------------------------------------------------------------------------
// Leaf parsers
// ---------------------------------------------------------------------------

export interface Issue {
  /** Appended to the key path, e.g. "[2]". */
  sub?: string;
  message: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; issues: Issue[] };

export class Leaf<T> {
  constructor(
    readonly parse: (v: unknown) => Parsed<T>,
    /** Never echo the value in messages (tokens). */
    readonly secret = false,
  ) {}
}

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const fail = <T>(message: string, sub?: string): Parsed<T> => ({ ok: false, issues: [sub === undefined ? { message } : { sub, message }] });

export function isMapping(v: unknown): v is Record<string, unknown> {
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

export function wrongType(expected: string, v: unknown, secret = false): string {
  let msg = `expected ${expected}, got ${describeValue(v, secret)}`;
  if (expected.startsWith("a boolean") && typeof v === "string" && YAML11_BOOLS.has(v.toLowerCase())) {
    msg += "; use true or false (YAML 1.2)";
  } else if (expected.startsWith("a string") && (typeof v === "number" || typeof v === "boolean")) {
    msg += "; put it in quotes";
  }
  return msg;
}

export const bool = (): Leaf<boolean> =>
  new Leaf((v) => (typeof v === "boolean" ? ok(v) : fail(wrongType("a boolean (true or false)", v))));

export function int(min: number, max: number): Leaf<number> {
  return new Leaf((v) => {
    if (typeof v !== "number" || !Number.isFinite(v)) return fail(wrongType("an integer", v));
    if (!Number.isInteger(v)) return fail(`expected an integer, got number ${v}`);
    if (v < min || v > max) return fail(`must be between ${min} and ${max}, got ${v}`);
    return ok(v);
  });
}

export function positiveNumber(max: number): Leaf<number> {
  return new Leaf((v) => {
    if (typeof v !== "number" || !Number.isFinite(v)) return fail(wrongType("a number", v));
    if (v <= 0 || v > max) return fail(`must be greater than 0 and at most ${max}, got ${v}`);
    return ok(v);
  });
}

/** Enumerated string; matched case-insensitively, with extra aliases, normalised to the canonical spelling. */
export function oneOf<T extends string>(values: readonly T[], aliases: Readonly<Record<string, T>> = {}): Leaf<T> {
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
export function str(check: (s: string) => string | null, secret = false): Leaf<string> {
  return new Leaf((v) => {
    if (typeof v !== "string") return fail(wrongType("a string", v, secret));
    const err = check(v);
    return err === null ? ok(v) : fail(err);
  }, secret);
}

export function nullable<T>(inner: Leaf<T>): Leaf<T | null> {
  return new Leaf<T | null>((v) => (v === null ? ok(null) : inner.parse(v)), inner.secret);
}

/** A list whose items are checked by `item`; duplicates are rejected. */
export function list<T>(item: (s: unknown) => Parsed<T>, what: string): Leaf<T[]> {
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

export function checkInterfacePattern(v: unknown): Parsed<string> {
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

export function checkPolicyIface(v: unknown): Parsed<string> {
  if (typeof v !== "string") return fail(wrongType("a string (interface name)", v));
  if (hasGlobChars(v)) return fail(`globs are not allowed here, got ${describeValue(v)}; list interface names`);
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(v) || v === "." || v === "..") {
    return fail(`expected an interface name (1-15 characters of A-Z a-z 0-9 _ . -), got ${describeValue(v)}`);
  }
  return ok(v);
}

export function absolutePathError(s: string): string | null {
  if (!s.startsWith("/")) return `must be an absolute path, got ${describeValue(s)}`;
  if (s.includes("\0")) return "must not contain NUL characters";
  if (s.length > 4095) return "path is too long";
  return null;
}

export function checkScriptsDir(v: unknown): Parsed<string> {
  if (typeof v !== "string") return fail(wrongType("a string (absolute directory path)", v));
  const err = absolutePathError(v);
  if (err) return fail(err);
  if (v.split("/").includes("..")) return fail(`must not contain "..", got ${describeValue(v)}`);
  return ok(v.length > 1 ? v.replace(/\/+$/, "") : v);
}

export function checkLeaseFile(v: unknown): Parsed<string> {
  if (typeof v !== "string") return fail(wrongType("a string (absolute path or glob)", v));
  const err = absolutePathError(v);
  return err ? fail(err) : ok(v);
}

export function checkCapability(v: unknown): Parsed<Capability> {
  if (typeof v !== "string") return fail(wrongType("a string (capability name)", v));
  if ((CAPABILITIES as readonly string[]).includes(v)) return ok(v as Capability);
  const up = v.trim().toUpperCase();
  const guess = (CAPABILITIES as readonly string[]).find((c) => c === up || c === `CAP_${up}`);
  return fail(`expected one of ${CAPABILITIES.join(", ")}, got ${describeValue(v)}${guess ? `; did you mean "${guess}"?` : ""}`);
}

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

export function checkListen(s: string): string | null {
  try {
    parseListen(s);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

export function checkSocket(s: string): string | null {
  if (s === "") return null;
  const err = absolutePathError(s);
  if (err) return `${err} (or "" to disable the unix socket)`;
  if (Buffer.byteLength(s) > MAX_SOCKET_PATH_BYTES) return `unix socket paths are at most ${MAX_SOCKET_PATH_BYTES} bytes`;
  return null;
}

export function checkToken(s: string): string | null {
  // Never echo the token itself.
  if (s.length < 8 || s.length > 256) return `must be 8 to 256 characters long, got ${s.length}`;
  if (!/^[\x21-\x7e]+$/.test(s)) return "must consist of printable ASCII characters without spaces";
  return null;
}


/** rt protocol id: a number or a "0x.." / decimal string; 0-4 are reserved by the kernel. */
export const protocolLeaf = new Leaf<number>((v) => {
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

export function checkSinkUrl(s: string): string | null {
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

export function checkEventPattern(v: unknown): Parsed<string> {
  if (typeof v !== "string") return fail(wrongType("a string (event name or glob)", v));
  if (v.length === 0 || v.length > 64) return fail("must be 1 to 64 characters");
  const err = checkGlobSyntax(v, EVENT_CHARS);
  if (err) return fail(`invalid glob ${JSON.stringify(v)}: ${err}`);
  const m = compileGlob(v);
  if (!HOOK_EVENTS.some((e) => m(e))) return fail(`${JSON.stringify(v)} matches no event (events are the hook directory names without ".d": ${HOOK_EVENTS.join(", ")})`);
  return ok(v);
}
