// Pure validators for values that enter a hook script's environment (values from outside: DHCP servers, D-Bus peers, lease files).
// Values never pass through a shell, so shell metacharacters are harmless in argv/env: these checks
// are about lying data (a DHCP server, a D-Bus peer or a lease file claiming an "address" that is
// not one), plus what the kernel's execve cannot carry (NUL) and what breaks line-based consumers
// (newlines and other control characters).
import { isIP } from "node:net";

/** Default maximum size (bytes, UTF-8) of an environment value. */
export const MAX_TEXT = 4096;
/** Maximum size (bytes, UTF-8) of the JSON-carrying variables (JSON, NETEVD_EVENT, json). */
export const MAX_JSON = 128 * 1024;

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const IFNAME_KERNEL = /^[A-Za-z0-9_.@:-]{1,15}$/;

/**
 * Interface name: 1–15 characters of `[A-Za-z0-9_.-]`, not "." or "..". `@` and `:` are allowed
 * only with `kernelName` (the kernel itself reported the name).
 */
export function validIfname(s: string, kernelName = false): boolean {
  if (typeof s !== "string") return false;
  if (!(kernelName ? IFNAME_KERNEL : IFNAME).test(s)) return false;
  return s !== "." && s !== "..";
}

/** One IPv4 or IPv6 address in textual form, without prefix length. */
export function validIp(s: string): boolean {
  return typeof s === "string" && s.length <= 64 && isIP(s) !== 0;
}

/**
 * A list of addresses separated by single spaces. The empty string is the empty list (valid).
 * One bad entry makes the whole list invalid.
 */
export function validIpList(s: string): boolean {
  if (typeof s !== "string") return false;
  if (s === "") return true;
  if (s.length > MAX_TEXT) return false;
  for (const a of s.split(" ")) if (!validIp(a)) return false;
  return true;
}

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * RFC 1123 host name: dot-separated labels of 1–63 `[A-Za-z0-9-]`, not starting or ending with
 * `-`, at most 253 characters in total. One trailing dot (the fully qualified form that lease
 * files use, "lab.test.") is accepted.
 */
export function validHostname(s: string): boolean {
  if (typeof s !== "string") return false;
  const name = s.endsWith(".") ? s.slice(0, -1) : s;
  if (name.length === 0 || name.length > 253) return false;
  for (const label of name.split(".")) if (!LABEL.test(label)) return false;
  return true;
}

/** One domain: a host name (see validHostname), optionally with a leading `*.`. */
export function validDomain(s: string): boolean {
  if (typeof s !== "string") return false;
  return validHostname(s.startsWith("*.") ? s.slice(2) : s);
}

/** A non-empty list of domains separated by single spaces (DHCP_DOMAIN). */
export function validDomainList(s: string): boolean {
  if (typeof s !== "string" || s === "" || s.length > MAX_TEXT) return false;
  for (const d of s.split(" ")) if (!validDomain(d)) return false;
  return true;
}

// C0 controls (incl. NUL, TAB, LF, CR), DEL and the C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** True when the string contains a control character (C0, DEL or C1). */
export function hasControlChars(s: string): boolean {
  return CONTROL.test(s);
}

/** Byte length in UTF-8 ≤ max. */
function withinBytes(s: string, max: number): boolean {
  // a UTF-16 code unit is at most 3 UTF-8 bytes: skip the O(n) count when clearly small/large
  if (s.length * 3 <= max) return true;
  if (s.length > max) return false;
  return Buffer.byteLength(s, "utf8") <= max;
}

/** Free text: no control characters, at most `max` bytes (UTF-8). */
export function validText(s: string, max: number = MAX_TEXT): boolean {
  return typeof s === "string" && withinBytes(s, max) && !CONTROL.test(s);
}

/** A decimal integer (optionally negative), at most 20 digits. */
export function validInt(s: string): boolean {
  return typeof s === "string" && /^-?[0-9]{1,20}$/.test(s);
}

export type ValidationKind = "ifname" | "iplist" | "ip" | "hostname" | "domains" | "json" | "text" | "int";

/**
 * How each hook environment variable is validated; names not listed are "text".
 * LINK is an "ifname" that may carry `@`/`:` when the kernel reported it (see buildHookEnv).
 */
export const VALIDATION_KIND: Record<string, ValidationKind> = {
  LINK: "ifname",
  LINKINDEX: "int",
  STATE: "text",
  BACKEND: "text",
  ADDRESSES: "iplist",
  EVENT: "text",
  JSON: "json",
  NETEVD_EVENT: "json",
  NETEVD_REPLAY: "int",
  DHCP_ADDRESS: "ip",
  DHCP_SUBNET_MASK: "ip",
  DHCP_GATEWAY: "iplist",
  DHCP_DNS: "iplist",
  DHCP_DOMAIN: "domains",
  DHCP_HOSTNAME: "hostname",
  DHCP_LEASE_EXPIRY: "text",
  IFACE: "ifname",
  OperationalState: "text",
  AdministrativeState: "text",
  IP_ADDRS: "iplist",
  IP6_ADDRS: "iplist",
  ADDR: "iplist",
  ESSID: "text",
  json: "json",
  DEVICE_IFACE: "ifname",
  DEVICE_IP_IFACE: "ifname",
  HOSTNAME: "hostname",
  STATIC_HOSTNAME: "hostname",
  IP4_NUM_ADDRESSES: "int",
  IP6_NUM_ADDRESSES: "int",
  IP4_GATEWAY: "ip",
  IP6_GATEWAY: "ip",
  IP4_NAMESERVERS: "iplist",
  IP6_NAMESERVERS: "iplist",
  IP4_DOMAINS: "domains",
  IP6_DOMAINS: "domains",
  NM_STATE: "int",
  NM_OLD_STATE: "int",
  NM_REASON: "int",
};

export function validationKind(name: string): ValidationKind {
  return Object.prototype.hasOwnProperty.call(VALIDATION_KIND, name) ? VALIDATION_KIND[name]! : "text";
}

/**
 * Check one value of the given kind. Returns undefined when valid, else a reason that never
 * contains the value itself (it may contain control characters or be huge).
 */
export function checkValue(kind: ValidationKind, value: string, opts: { kernelName?: boolean } = {}): string | undefined {
  if (typeof value !== "string") return "not a string";
  switch (kind) {
    case "ifname":
      return validIfname(value, opts.kernelName === true) ? undefined : `not a valid interface name (1-15 of [A-Za-z0-9_.-]${opts.kernelName ? "@:" : ""})`;
    case "ip":
      return validIp(value) ? undefined : "not a valid IP address";
    case "iplist":
      return validIpList(value) ? undefined : "not a valid space-separated IP address list";
    case "hostname":
      return validHostname(value) ? undefined : "not a valid RFC 1123 host name";
    case "domains":
      return validDomainList(value) ? undefined : "not a valid space-separated domain list";
    case "int":
      return validInt(value) ? undefined : "not a decimal integer";
    case "json":
      if (!withinBytes(value, MAX_JSON)) return `longer than ${MAX_JSON} bytes`;
      return CONTROL.test(value) ? "contains control characters" : undefined;
    case "text":
      if (!withinBytes(value, MAX_TEXT)) return `longer than ${MAX_TEXT} bytes`;
      return CONTROL.test(value) ? "contains control characters" : undefined;
  }
}
