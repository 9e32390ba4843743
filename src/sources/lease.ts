// dhclient lease files, parsed. Pure: text in, leases and problems out (no fs, no clock).
//
// The file is a DHCP server's data written down by dhclient, so everything in it is untrusted: a
// block that is not well-formed is rejected whole, a value that does not validate is dropped (the
// rest of its block stays), and every rejection is reported with the line it is on, never with the
// value itself. dhclient writes one statement per line, escapes non-printable bytes inside strings
// as `\ooo`, keeps appending `lease { }` blocks (the last one per interface is current) and only
// rewrites the file on start and on release.
import { isoTime } from "../time.js";
import { isIP } from "node:net";
import { validHostname, validIfname, validIp } from "../net/validate.js";
import { nodeCrypto } from "../lazy-builtins.js";

/** Size caps, in bytes. The source reads at most the last `file` bytes of a file. */
export const LEASE_LIMITS = { file: 1 << 20, line: 4096, block: 64 << 10 } as const;

export interface Lease {
  interface: string;
  /** line of the block's `lease {` (1-based) */
  line: number;
  fixedAddress: string;
  subnetMask?: string;
  routers: string[];
  dns: string[];
  /** `option domain-name`: the domain (some servers send several, space-separated); no trailing dots */
  domainName: string[];
  /** `option domain-search`; no trailing dots */
  domainSearch: string[];
  hostName?: string;
  /** seconds */
  leaseTime?: number;
  serverId?: string;
  /** ms since the epoch; null = never; undefined = not in the block */
  renew?: number | null;
  rebind?: number | null;
  expire?: number | null;
}

export interface LeaseProblem {
  line: number;
  reason: string;
  /**
   * What the problem is about, independent of where it is: the reason's kind and a hash of the
   * offending line. The source logs each key once, however often the file is rewritten or grows.
   */
  key: string;
}

export interface LeaseParse {
  /** the last well-formed block of each interface */
  leases: Map<string, Lease>;
  problems: LeaseProblem[];
  /** well-formed blocks seen (any interface) */
  blocks: number;
  /** the text ends inside a block or a line: it is still being written; read again on the next change */
  incomplete: boolean;
}

type Token = { t: "word" | "str"; v: string } | { t: "{" | "}" | ";" | "," };

const TAB = 9;
const HASH = 35;
const QUOTE = 34;
const BACKSLASH = 92;

/** One line's tokens, or a reason why the line is not something dhclient writes. */
function tokenize(line: string): Token[] | string {
  const out: Token[] = [];
  const n = line.length;
  let i = 0;
  while (i < n) {
    const c = line.charCodeAt(i);
    if (c === 32 || c === TAB || c === 13) {
      i++;
      continue;
    }
    if (c < 32 || c > 126) return "control or non-ASCII bytes";
    if (c === HASH) break;
    if (c === 123 || c === 125 || c === 59 || c === 44) {
      out.push({ t: String.fromCharCode(c) as "{" | "}" | ";" | "," });
      i++;
      continue;
    }
    if (c === QUOTE) {
      let v = "";
      let j = i + 1;
      for (;;) {
        if (j >= n) return "unterminated string";
        const d = line.charCodeAt(j);
        if (d < 32 || d > 126) return "control or non-ASCII bytes";
        if (d === QUOTE) break;
        if (d === BACKSLASH) {
          const e = line[j + 1];
          if (e === undefined) return "unterminated string";
          const oct = /^[0-7]{3}/.exec(line.slice(j + 1, j + 4));
          if (oct) {
            v += String.fromCharCode(parseInt(oct[0], 8) & 0xff);
            j += 4;
            continue;
          }
          const hex = /^x[0-9a-fA-F]{2}/.exec(line.slice(j + 1, j + 4));
          if (hex) {
            v += String.fromCharCode(parseInt(hex[0].slice(1), 16));
            j += 4;
            continue;
          }
          v += e === "n" ? "\n" : e === "t" ? "\t" : e === "r" ? "\r" : e === "b" ? "\b" : e;
          j += 2;
          continue;
        }
        v += line[j];
        j++;
      }
      out.push({ t: "str", v });
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < n) {
      const d = line.charCodeAt(j);
      if (d <= 32 || d > 126 || d === HASH || d === QUOTE || d === 123 || d === 125 || d === 59 || d === 44) break;
      j++;
    }
    out.push({ t: "word", v: line.slice(i, j) });
    i = j;
  }
  return out;
}

const WEEKDAY = /^[0-6]$/;
const DATE = /^([0-9]{4})\/([0-9]{1,2})\/([0-9]{1,2})$/;
const TIME = /^([0-9]{1,2}):([0-9]{2}):([0-9]{2})$/;

/** `6 2026/11/28 21:25:36` (UTC), `never`, `epoch 1764365136` → ms since the epoch, null (never), or a reason. */
export function parseLeaseTime(words: string[]): number | null | string {
  if (words.length === 1 && words[0] === "never") return null;
  if (words.length === 2 && words[0] === "epoch" && /^[0-9]{1,12}$/.test(words[1]!)) return Number(words[1]) * 1000;
  if (words.length !== 3 || !WEEKDAY.test(words[0]!)) return "not a dhclient time (<weekday> YYYY/MM/DD HH:MM:SS, never, epoch N)";
  const d = DATE.exec(words[1]!);
  const t = TIME.exec(words[2]!);
  if (!d || !t) return "not a dhclient time (<weekday> YYYY/MM/DD HH:MM:SS, never, epoch N)";
  const [y, mo, da, h, mi, s] = [d[1], d[2], d[3], t[1], t[2], t[3]].map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, da, h, mi, s);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== da || h > 23 || mi > 59 || s > 59) {
    return "not a valid date and time";
  }
  return ms;
}

/** A domain as DHCP sends it ("lab.test." or "lab.test"): without its trailing dot, or undefined when not a valid name. */
function domainOf(s: string): string | undefined {
  const d = s.endsWith(".") ? s.slice(0, -1) : s;
  return validHostname(d) ? d : undefined;
}

/** An option's values: single tokens separated by commas. */
function listValues(tokens: Token[]): string[] | undefined {
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (i % 2 === 1) {
      if (tok.t !== ",") return undefined;
      continue;
    }
    if (tok.t !== "word" && tok.t !== "str") return undefined;
    out.push(tok.v);
  }
  return tokens.length % 2 === 1 ? out : undefined;
}

/** A problem before its key is known (keys are computed once, from the text, at the end). */
type RawProblem = Omit<LeaseProblem, "key">;

interface OpenBlock {
  line: number;
  bytes: number;
  /** first reason the block is rejected */
  bad?: RawProblem;
  /** depth of nested `{ }` inside a rejected block */
  nested: number;
  stmt: Token[];
  stmtLine: number;
  /** the statement being read had more tokens than kept */
  stmtOverflow: boolean;
  lease: Partial<Lease> & { routers: string[]; dns: string[]; domainName: string[]; domainSearch: string[] };
  /** value problems (dropped values); reported once the block turns out well-formed */
  dropped: RawProblem[];
}

function newBlock(line: number): OpenBlock {
  return { line, bytes: 0, nested: 0, stmt: [], stmtLine: line, stmtOverflow: false, lease: { routers: [], dns: [], domainName: [], domainSearch: [] }, dropped: [] };
}

/** One `option NAME ...;` or other statement of a lease block. Marks the block bad or records dropped values. */
function applyStatement(b: OpenBlock, stmt: Token[], line: number): void {
  const bad = (reason: string) => {
    b.bad ??= { line, reason };
  };
  const drop = (reason: string) => {
    b.dropped.push({ line, reason });
  };
  const head = stmt[0];
  if (!head || head.t !== "word") {
    bad("statement does not start with a keyword");
    return;
  }
  const rest = stmt.slice(1);
  const words = rest.every((t) => t.t === "word") ? rest.map((t) => (t as { v: string }).v) : undefined;
  const single = rest.length === 1 && (rest[0]!.t === "word" || rest[0]!.t === "str") ? (rest[0] as { v: string }).v : undefined;
  const l = b.lease;
  switch (head.v) {
    case "interface":
      if (rest.length !== 1 || rest[0]!.t !== "str") bad("interface: not a quoted name");
      else if (!validIfname(single!)) bad("interface: not a valid interface name");
      else l.interface = single;
      return;
    case "fixed-address":
      if (single === undefined || rest[0]!.t !== "word" || isIP(single) !== 4) bad("fixed-address: not an IPv4 address");
      else l.fixedAddress = single;
      return;
    case "renew":
    case "rebind":
    case "expire": {
      const when = words ? parseLeaseTime(words) : "not a dhclient time";
      if (typeof when === "string") bad(`${head.v}: ${when}`);
      else l[head.v] = when;
      return;
    }
    case "option": {
      const name = rest[0];
      if (!name || name.t !== "word") {
        bad("option without a name");
        return;
      }
      const values = listValues(rest.slice(1));
      if (!values) {
        bad(`option ${name.v}: malformed value`);
        return;
      }
      optionValue(l, name.v, values, rest.slice(1), drop);
      return;
    }
    default:
      return; // bootp, medium, filename, server-name, vendor-option-space...: nothing netevd uses
  }
}

function optionValue(l: OpenBlock["lease"], name: string, values: string[], tokens: Token[], drop: (r: string) => void): void {
  const ips = (list: string[], what: string): string[] => {
    const good = list.filter((v) => validIp(v) && isIP(v) === 4);
    if (good.length !== list.length) drop(`${what}: ${list.length - good.length} invalid address(es) dropped`);
    return good;
  };
  const strings = tokens.every((t) => t.t !== "word");
  switch (name) {
    case "subnet-mask":
      if (values.length === 1 && validIp(values[0]!) && isIP(values[0]!) === 4) l.subnetMask = values[0];
      else drop("subnet-mask: not an IPv4 address; dropped");
      return;
    case "routers":
      l.routers = ips(values, "routers");
      return;
    case "domain-name-servers":
      l.dns = ips(values, "domain-name-servers");
      return;
    case "dhcp-server-identifier":
      if (values.length === 1 && validIp(values[0]!)) l.serverId = values[0];
      else drop("dhcp-server-identifier: not an IP address; dropped");
      return;
    case "dhcp-lease-time":
      if (values.length === 1 && /^[0-9]{1,10}$/.test(values[0]!)) l.leaseTime = Number(values[0]);
      else drop("dhcp-lease-time: not a number of seconds; dropped");
      return;
    case "host-name": {
      const h = values.length === 1 && strings ? domainOf(values[0]!) : undefined;
      if (h !== undefined) l.hostName = h;
      else drop("host-name: not a valid RFC 1123 host name; dropped");
      return;
    }
    case "domain-name": {
      if (!strings || values.length !== 1) {
        drop("domain-name: not a quoted string; dropped");
        return;
      }
      const parts = values[0]!.split(" ").filter((s) => s !== "");
      const good = parts.map(domainOf).filter((d): d is string => d !== undefined);
      if (good.length !== parts.length || parts.length === 0) drop(`domain-name: ${Math.max(1, parts.length - good.length)} invalid domain(s) dropped`);
      l.domainName = good;
      return;
    }
    case "domain-search": {
      if (!strings) {
        drop("domain-search: not a list of quoted names; dropped");
        return;
      }
      const good = values.map(domainOf).filter((d): d is string => d !== undefined);
      if (good.length !== values.length) drop(`domain-search: ${values.length - good.length} invalid domain(s) dropped`);
      l.domainSearch = good;
      return;
    }
    default:
      return; // every other option is well-formed (tokenized) but not used
  }
}

/**
 * Parse a lease file's text (decoded as latin1: one char per byte). Only complete lines count:
 * text after the last newline is still being written. A `lease {` at the start of a line always
 * starts a new block (a block left open before it is truncated, and rejected).
 */
export function parseLeases(text: string): LeaseParse {
  const leases = new Map<string, Lease>();
  const problems: RawProblem[] = [];
  let blocks = 0;
  let block: OpenBlock | null = null;
  /** depth of a non-lease block at the top level (lease6 { ... }) being skipped */
  let skipDepth = 0;
  let topStmt = 0; // tokens of an unfinished top-level statement
  let topStmtLine = 0;
  let garbage: { from: number; to: number } | null = null;

  const flushGarbage = () => {
    if (!garbage) return;
    const where = garbage.from === garbage.to ? `line ${garbage.from}` : `lines ${garbage.from}-${garbage.to}`;
    problems.push({ line: garbage.from, reason: `unreadable text outside a lease block (${where}) ignored` });
    garbage = null;
  };
  const reject = (b: OpenBlock, reason: string) => {
    problems.push({ line: b.bad?.line ?? b.line, reason: `lease block at line ${b.line} rejected: ${b.bad?.reason ?? reason}` });
  };
  const closeBlock = (b: OpenBlock) => {
    block = null;
    if (b.bad) {
      reject(b, b.bad.reason);
      return;
    }
    const l = b.lease;
    if (!l.interface) {
      problems.push({ line: b.line, reason: `lease block at line ${b.line} rejected: no interface statement` });
      return;
    }
    if (!l.fixedAddress) {
      problems.push({ line: b.line, reason: `lease block at line ${b.line} rejected: no fixed-address` });
      return;
    }
    problems.push(...b.dropped);
    blocks++;
    const lease: Lease = {
      interface: l.interface,
      line: b.line,
      fixedAddress: l.fixedAddress,
      routers: l.routers,
      dns: l.dns,
      domainName: l.domainName,
      domainSearch: l.domainSearch,
    };
    for (const k of ["subnetMask", "hostName", "leaseTime", "serverId", "renew", "rebind", "expire"] as const) {
      if (l[k] !== undefined) (lease as unknown as Record<string, unknown>)[k] = l[k];
    }
    leases.delete(lease.interface); // keep Map order = order of the current blocks
    leases.set(lease.interface, lease);
  };

  const end = text.lastIndexOf("\n");
  let pos = 0;
  let lineNo = 0;
  while (pos <= end) {
    const nl = text.indexOf("\n", pos);
    const raw = text.slice(pos, nl);
    pos = nl + 1;
    lineNo++;
    const len = raw.length + 1;

    if (/^lease[ \t]*\{/.test(raw)) {
      // resynchronisation point: whatever was open before is over
      if (block) {
        reject(block, "not closed before the next block (truncated)");
        block = null;
      }
      if (skipDepth > 0 || topStmt > 0) {
        problems.push({ line: topStmtLine, reason: `statement at line ${topStmtLine} not terminated; ignored` });
        skipDepth = 0;
        topStmt = 0;
      }
      flushGarbage();
    }

    if (block) {
      const b: OpenBlock = block;
      b.bytes += len;
      if (len > LEASE_LIMITS.line) {
        // limited per statement: one over-long option is dropped, the rest of the lease is used
        const name = b.stmt.length === 0 && b.nested === 0 ? droppableStatement(raw) : undefined;
        if (name !== undefined) b.dropped.push({ line: lineNo, reason: `${name}: line longer than ${LEASE_LIMITS.line} bytes; dropped` });
        else b.bad ??= { line: lineNo, reason: `line longer than ${LEASE_LIMITS.line} bytes` };
        continue;
      }
      if (b.bytes > LEASE_LIMITS.block) b.bad ??= { line: lineNo, reason: `block longer than ${LEASE_LIMITS.block} bytes` };
    } else if (len > LEASE_LIMITS.line) {
      if (garbage) garbage.to = lineNo;
      else garbage = { from: lineNo, to: lineNo };
      continue;
    }

    const toks = tokenize(raw);
    if (typeof toks === "string") {
      if (block) block.bad ??= { line: lineNo, reason: `${toks}` };
      else if (garbage) garbage.to = lineNo;
      else garbage = { from: lineNo, to: lineNo };
      continue;
    }
    if (!block && toks.length > 0) flushGarbage();

    for (let k = 0; k < toks.length; k++) {
      const tok = toks[k]!;
      if (block) {
        const b: OpenBlock = block;
        if (b.nested > 0) {
          if (tok.t === "{") b.nested++;
          else if (tok.t === "}") b.nested--;
          continue;
        }
        if (tok.t === ";") {
          const head = b.stmt[0];
          if (b.stmtOverflow) {
            const name = head?.t === "word" ? head.v : "";
            const opt = b.stmt[1];
            if (name === "option" && opt?.t === "word") b.dropped.push({ line: b.stmtLine, reason: `option ${opt.v}: more than 256 values; dropped` });
            else b.bad ??= { line: b.stmtLine, reason: "statement too long" };
          } else if (!b.bad && b.stmt.length > 0) applyStatement(b, b.stmt, b.stmtLine);
          b.stmt = [];
          b.stmtOverflow = false;
        } else if (tok.t === "}") {
          if (b.stmt.length > 0) b.bad ??= { line: b.stmtLine, reason: "statement not terminated by ';'" };
          closeBlock(b);
        } else if (tok.t === "{") {
          b.bad ??= { line: lineNo, reason: "unexpected '{' inside a lease block" };
          b.nested++;
          b.stmt = [];
        } else {
          if (b.stmt.length === 0) b.stmtLine = lineNo;
          if (b.stmt.length < 256) b.stmt.push(tok);
          else b.stmtOverflow = true;
        }
        continue;
      }
      if (skipDepth > 0) {
        if (tok.t === "{") skipDepth++;
        else if (tok.t === "}") skipDepth--;
        continue;
      }
      if (tok.t === "{") {
        const isLease = topStmt === 1 && k > 0 && toks[k - 1]!.t === "word" && (toks[k - 1] as { v: string }).v === "lease";
        if (isLease) {
          block = newBlock(lineNo);
          block.bytes = len;
        } else skipDepth = 1; // lease6 { ... } and anything else with a body: not ours
        topStmt = 0;
      } else if (tok.t === ";") {
        topStmt = 0; // default-duid "..."; and other top-level statements: not ours
      } else if (tok.t === "}") {
        problems.push({ line: lineNo, reason: "unexpected '}' outside a block" });
      } else {
        if (topStmt === 0) topStmtLine = lineNo;
        topStmt++;
      }
    }
  }
  flushGarbage();
  let incomplete = end < text.length - 1;
  if (block) {
    const b: OpenBlock = block;
    // still being written; a block already known to be bad is reported now
    if (b.bad) reject(b, b.bad.reason);
    incomplete = true;
  } else if (skipDepth > 0 || topStmt > 0) {
    incomplete = true;
  }
  return { leases, problems: withKeys(problems, text), blocks, incomplete };
}

function withKeys(problems: RawProblem[], text: string): LeaseProblem[] {
  if (problems.length === 0) return [];
  const wanted = new Set(problems.map((p) => p.line));
  const lineText = new Map<number, string>();
  let pos = 0;
  for (let n = 1; pos < text.length && lineText.size < wanted.size; n++) {
    let nl = text.indexOf("\n", pos);
    if (nl < 0) nl = text.length;
    if (wanted.has(n)) lineText.set(n, text.slice(pos, nl));
    pos = nl + 1;
  }
  return problems.map((p) => ({ ...p, key: problemKey(p.reason, lineText.get(p.line) ?? "") }));
}

/** A lease whose expiry is past (or now: `dhclient -r` writes renew/rebind/expire = the time of release). */
export function leaseExpired(l: Lease, nowMs: number): boolean {
  return typeof l.expire === "number" && l.expire <= nowMs;
}

/** The lease's domains: domain-name first, then domain-search, without duplicates. */
export function leaseDomains(l: Lease): string[] {
  return [...new Set([...l.domainName, ...l.domainSearch].map((d) => d.toLowerCase()))];
}

/** The DHCP_* fields a lease puts into the model (and, through the model, into hook environments). */
export const DHCP_KEYS = ["DHCP_ADDRESS", "DHCP_SUBNET_MASK", "DHCP_GATEWAY", "DHCP_DNS", "DHCP_DOMAIN", "DHCP_HOSTNAME", "DHCP_LEASE_EXPIRY"] as const;

/**
 * A lease as model fields. Every key is present ("" = the lease has no such value), so a value that
 * disappears from one lease to the next is a change too.
 */
export function leaseFields(l: Lease): Record<(typeof DHCP_KEYS)[number], string> {
  return {
    DHCP_ADDRESS: l.fixedAddress,
    DHCP_SUBNET_MASK: l.subnetMask ?? "",
    DHCP_GATEWAY: l.routers.join(" "),
    DHCP_DNS: l.dns.join(" "),
    DHCP_DOMAIN: leaseDomains(l).join(" "),
    DHCP_HOSTNAME: l.hostName ?? "",
    DHCP_LEASE_EXPIRY: l.expire === undefined ? "" : l.expire === null ? "never" : isoTime(l.expire).replace(".000Z", "Z"),
  };
}

/**
 * A problem's identity: its kind (the reason without numbers) and a hash of the line it is about.
 * node:crypto is loaded with the first problem: a clean lease file never needs it.
 */
export function problemKey(reason: string, lineText: string): string {
  const kind = reason.replace(/[0-9]+/g, "#");
  return `${kind}|${nodeCrypto().createHash("sha1").update(lineText).digest("base64").slice(0, 16)}`;
}

/** Statements a lease cannot do without: one of them too long rejects the block. */
const REQUIRED = new Set(["interface", "fixed-address", "renew", "rebind", "expire"]);

/**
 * An over-long line that is one whole statement of something a lease can do without (`option
 * domain-search ...;`, `filename ...;`): its name, so that only it is dropped. Undefined otherwise.
 * Looks only at the line's start and end (the line is not tokenized: it may be huge).
 */
export function droppableStatement(raw: string): string | undefined {
  const m = /^[ \t]*(option[ \t]+)?([A-Za-z0-9_.-]{1,64})[ \t]/.exec(raw.slice(0, 100));
  if (!m || !/;[ \t\r]*$/.test(raw.slice(-16))) return undefined;
  const name = m[2]!;
  if (!m[1] && (REQUIRED.has(name) || name === "option")) return undefined;
  return m[1] ? `option ${name}` : name;
}
