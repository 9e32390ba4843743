// rtnetlink requests as Buffers: dumps, and route and rule changes. Every field is checked here,
// so a bad value is a clear error before anything reaches the kernel. Pure: no I/O, no addon.
import * as C from "./constants.js";
import { parseAddress } from "./iptext.js";
import { LE, align4 } from "./wire.js";
import type { Family } from "./types.js";

export type DumpKind = "link" | "addr" | "route" | "rule";
export type DumpFamily = 0 | 4 | 6;

export interface RouteSpec {
  family: Family;
  /** any table id, 1..2^32-1; > 255 goes in RTA_TABLE (always sent) */
  table: number;
  /** absent (with dstLen 0) for a default route */
  dst?: string;
  dstLen: number;
  gateway?: string;
  oif?: number;
  /** metric */
  priority?: number;
  prefsrc?: string;
  /** RTPROT_*; on delete it must match (0 = any) */
  protocol: number;
  /** default: new → RT_SCOPE_UNIVERSE with a gateway, RT_SCOPE_LINK without (unicast), HOST for local; del → RT_SCOPE_NOWHERE (any) */
  scope?: number;
  /** RTN_*; default: new → RTN_UNICAST; del → RTN_UNSPEC (any) */
  type?: number;
  /** new only: NLM_F_CREATE|NLM_F_REPLACE instead of NLM_F_CREATE|NLM_F_EXCL */
  replace?: boolean;
}

export interface RuleSpec {
  family: Family;
  /** FRA_PRIORITY (preference) */
  priority: number;
  /** FRA_TABLE (sent when non-zero) */
  table: number;
  src?: string;
  srcLen: number;
  dst?: string;
  dstLen: number;
  /** FRA_PROTOCOL; on delete a non-zero value must match */
  protocol: number;
  /** FR_ACT_*, default FR_ACT_TO_TBL */
  action?: number;
  tos?: number;
  iifname?: string;
  oifname?: string;
  fwmark?: number;
  fwmask?: number;
}

class MsgBuilder {
  private parts: Buffer[] = [];
  private size = C.NLMSG_HDRLEN;
  constructor(
    private readonly type: number,
    private readonly flags: number,
    private readonly seq: number,
  ) {}
  /** fixed family header, already padded to 4 */
  raw(b: Buffer): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }
  attr(type: number, data: Uint8Array): this {
    const len = 4 + data.length;
    const b = Buffer.alloc(align4(len));
    u16(b, 0, len);
    u16(b, 2, type);
    b.set(data, 4);
    return this.raw(b);
  }
  u32(type: number, v: number): this {
    const d = Buffer.alloc(4);
    u32(d, 0, v);
    return this.attr(type, d);
  }
  u8(type: number, v: number): this {
    return this.attr(type, Uint8Array.of(v));
  }
  str(type: number, s: string): this {
    return this.attr(type, Buffer.from(s + "\0", "utf8"));
  }
  build(): Buffer {
    const hdr = Buffer.alloc(C.NLMSG_HDRLEN);
    u32(hdr, 0, this.size);
    u16(hdr, 4, this.type);
    u16(hdr, 6, this.flags);
    u32(hdr, 8, this.seq >>> 0);
    u32(hdr, 12, 0);
    return Buffer.concat([hdr, ...this.parts], this.size);
  }
}

function u16(b: Buffer, off: number, v: number): void {
  if (LE) b.writeUInt16LE(v, off);
  else b.writeUInt16BE(v, off);
}
function u32(b: Buffer, off: number, v: number): void {
  if (LE) b.writeUInt32LE(v >>> 0, off);
  else b.writeUInt32BE(v >>> 0, off);
}

function checkInt(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${what} must be an integer in ${min}..${max}, got ${String(v)}`);
  }
  return v;
}

function checkFamily(f: unknown): Family {
  if (f !== 4 && f !== 6) throw new RangeError(`family must be 4 or 6, got ${String(f)}`);
  return f;
}

function afNum(f: DumpFamily): number {
  return f === 4 ? C.AF_INET : f === 6 ? C.AF_INET6 : C.AF_UNSPEC;
}

/** A GET request with NLM_F_DUMP for all objects of a kind (family 0 = all families). */
export function encodeDumpRequest(kind: DumpKind, family: DumpFamily, seq: number): Buffer {
  const af = afNum(family);
  const flags = C.NLM_F_REQUEST | C.NLM_F_DUMP;
  switch (kind) {
    case "link": {
      const h = Buffer.alloc(C.IFINFOMSG_LEN);
      h[0] = af;
      // We never use the statistics blobs: asking the kernel to skip them roughly halves the dump.
      return new MsgBuilder(C.RTM_GETLINK, flags, seq).raw(h).u32(C.IFLA_EXT_MASK, C.RTEXT_FILTER_SKIP_STATS).build();
    }
    case "addr": {
      const h = Buffer.alloc(C.IFADDRMSG_LEN);
      h[0] = af;
      return new MsgBuilder(C.RTM_GETADDR, flags, seq).raw(h).build();
    }
    case "route": {
      const h = Buffer.alloc(C.RTMSG_LEN);
      h[0] = af;
      return new MsgBuilder(C.RTM_GETROUTE, flags, seq).raw(h).build();
    }
    case "rule": {
      const h = Buffer.alloc(C.FIB_RULE_HDR_LEN);
      h[0] = af;
      return new MsgBuilder(C.RTM_GETRULE, flags, seq).raw(h).build();
    }
    default:
      throw new RangeError(`unknown dump kind ${String(kind)}`);
  }
}

function prefixBytes(text: string | undefined, len: number, family: Family, what: string): Uint8Array | undefined {
  checkInt(len, `${what} prefix length`, 0, family === 4 ? 32 : 128);
  if (text === undefined) {
    if (len !== 0) throw new TypeError(`${what}: a prefix length of ${len} needs an address`);
    return undefined;
  }
  return parseAddress(text, family, what).bytes;
}

/**
 * RTM_NEWROUTE / RTM_DELROUTE with NLM_F_REQUEST|NLM_F_ACK (new: + NLM_F_CREATE and NLM_F_EXCL,
 * or NLM_F_REPLACE with `replace`). rtm_table is the table when < 256, else RT_TABLE_COMPAT (252);
 * RTA_TABLE always carries the real id.
 */
export function encodeRoute(op: "new" | "del", spec: RouteSpec, seq: number): Buffer {
  const family = checkFamily(spec.family);
  const table = checkInt(spec.table, "table", 0, 0xffffffff);
  const protocol = checkInt(spec.protocol, "protocol", 0, 255);
  const dst = prefixBytes(spec.dst, spec.dstLen, family, "dst");
  const gateway = spec.gateway === undefined ? undefined : parseAddress(spec.gateway, family, "gateway").bytes;
  const prefsrc = spec.prefsrc === undefined ? undefined : parseAddress(spec.prefsrc, family, "prefsrc").bytes;
  const oif = spec.oif === undefined ? undefined : checkInt(spec.oif, "oif", 1, 0x7fffffff);
  const priority = spec.priority === undefined ? undefined : checkInt(spec.priority, "priority", 0, 0xffffffff);
  let type: number;
  let scope: number;
  let flags = C.NLM_F_REQUEST | C.NLM_F_ACK;
  if (op === "new") {
    type = checkInt(spec.type ?? C.RTN_UNICAST, "type", 0, 255);
    scope =
      spec.scope ??
      (type === C.RTN_LOCAL || type === C.RTN_NAT
        ? C.RT_SCOPE_HOST
        : type === C.RTN_BROADCAST || type === C.RTN_MULTICAST || type === C.RTN_ANYCAST
          ? C.RT_SCOPE_LINK
          : type === C.RTN_UNICAST && gateway === undefined
            ? C.RT_SCOPE_LINK
            : C.RT_SCOPE_UNIVERSE);
    flags |= C.NLM_F_CREATE | (spec.replace ? C.NLM_F_REPLACE : C.NLM_F_EXCL);
  } else if (op === "del") {
    type = checkInt(spec.type ?? C.RTN_UNSPEC, "type", 0, 255);
    scope = spec.scope ?? C.RT_SCOPE_NOWHERE;
  } else {
    throw new RangeError(`route op must be "new" or "del", got ${String(op)}`);
  }
  checkInt(scope, "scope", 0, 255);
  const h = Buffer.alloc(C.RTMSG_LEN);
  h[0] = family === 4 ? C.AF_INET : C.AF_INET6;
  h[1] = spec.dstLen;
  h[2] = 0; // src_len
  h[3] = 0; // tos
  h[4] = table < 256 ? table : C.RT_TABLE_COMPAT;
  h[5] = protocol;
  h[6] = scope;
  h[7] = type;
  const m = new MsgBuilder(op === "new" ? C.RTM_NEWROUTE : C.RTM_DELROUTE, flags, seq).raw(h).u32(C.RTA_TABLE, table);
  if (dst) m.attr(C.RTA_DST, dst);
  if (prefsrc) m.attr(C.RTA_PREFSRC, prefsrc);
  if (gateway) m.attr(C.RTA_GATEWAY, gateway);
  if (oif !== undefined) m.u32(C.RTA_OIF, oif);
  if (priority !== undefined) m.u32(C.RTA_PRIORITY, priority);
  return m.build();
}

/**
 * RTM_NEWRULE / RTM_DELRULE with NLM_F_REQUEST|NLM_F_ACK (new: + NLM_F_CREATE|NLM_F_EXCL, so an
 * identical rule is refused with EEXIST instead of being duplicated; the kernel has no "replace"
 * for rules). The header table is the table when < 256, else RT_TABLE_COMPAT; FRA_TABLE carries it.
 */
export function encodeRule(op: "new" | "del", spec: RuleSpec, seq: number): Buffer {
  const family = checkFamily(spec.family);
  const table = checkInt(spec.table, "table", 0, 0xffffffff);
  const priority = checkInt(spec.priority, "priority", 0, 0xffffffff);
  const protocol = checkInt(spec.protocol, "protocol", 0, 255);
  const action = checkInt(spec.action ?? C.FR_ACT_TO_TBL, "action", 0, 255);
  const tos = checkInt(spec.tos ?? 0, "tos", 0, 255);
  const src = prefixBytes(spec.src, spec.srcLen, family, "src");
  const dst = prefixBytes(spec.dst, spec.dstLen, family, "dst");
  for (const [k, v] of [["iifname", spec.iifname], ["oifname", spec.oifname]] as const) {
    if (v !== undefined && (typeof v !== "string" || v.length === 0 || Buffer.byteLength(v) > 15 || /[\0/\s:]/.test(v))) {
      throw new TypeError(`${k}: ${JSON.stringify(v)} is not a valid interface name`);
    }
  }
  if (op !== "new" && op !== "del") throw new RangeError(`rule op must be "new" or "del", got ${String(op)}`);
  const flags = C.NLM_F_REQUEST | C.NLM_F_ACK | (op === "new" ? C.NLM_F_CREATE | C.NLM_F_EXCL : 0);
  const h = Buffer.alloc(C.FIB_RULE_HDR_LEN);
  h[0] = family === 4 ? C.AF_INET : C.AF_INET6;
  h[1] = spec.dstLen;
  h[2] = spec.srcLen;
  h[3] = tos;
  h[4] = table < 256 ? table : C.RT_TABLE_COMPAT;
  h[7] = action;
  const m = new MsgBuilder(op === "new" ? C.RTM_NEWRULE : C.RTM_DELRULE, flags, seq).raw(h);
  m.u32(C.FRA_PRIORITY, priority);
  if (table !== 0) m.u32(C.FRA_TABLE, table);
  if (src) m.attr(C.FRA_SRC, src);
  if (dst) m.attr(C.FRA_DST, dst);
  if (spec.iifname !== undefined) m.str(C.FRA_IIFNAME, spec.iifname);
  if (spec.oifname !== undefined) m.str(C.FRA_OIFNAME, spec.oifname);
  if (spec.fwmark !== undefined) m.u32(C.FRA_FWMARK, checkInt(spec.fwmark, "fwmark", 0, 0xffffffff));
  if (spec.fwmask !== undefined) m.u32(C.FRA_FWMASK, checkInt(spec.fwmask, "fwmask", 0, 0xffffffff));
  if (protocol !== 0) m.u8(C.FRA_PROTOCOL, protocol);
  return m.build();
}

/** A short human description of a request, for error messages ("RTM_NEWROUTE 10.0.0.0/24 table 300 ..."). */
export function describeRoute(op: "new" | "del", spec: RouteSpec): string {
  let s = `${op === "new" ? (spec.replace ? "replace" : "add") : "delete"} route ${spec.dst ?? (spec.family === 4 ? "0.0.0.0" : "::")}/${spec.dstLen}`;
  if (spec.gateway) s += ` via ${spec.gateway}`;
  if (spec.oif !== undefined) s += ` oif ${spec.oif}`;
  s += ` table ${spec.table} proto ${spec.protocol}`;
  if (spec.priority !== undefined) s += ` metric ${spec.priority}`;
  return s;
}

export function describeRule(op: "new" | "del", spec: RuleSpec): string {
  let s = `${op === "new" ? "add" : "delete"} rule pref ${spec.priority}`;
  if (spec.src) s += ` from ${spec.src}/${spec.srcLen}`;
  if (spec.dst) s += ` to ${spec.dst}/${spec.dstLen}`;
  if (spec.iifname) s += ` iif ${spec.iifname}`;
  if (spec.oifname) s += ` oif ${spec.oifname}`;
  if (spec.fwmark !== undefined) s += ` fwmark ${spec.fwmark}${spec.fwmask !== undefined ? `/${spec.fwmask}` : ""}`;
  s += ` table ${spec.table} proto ${spec.protocol} (IPv${spec.family})`;
  return s;
}
