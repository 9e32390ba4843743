// Pure rtnetlink codec: nlmsghdr streams in, RtMessage records out; requests out as Buffers.
// No I/O and no addon here, so it is unit-testable anywhere. Multi-byte integers are in host byte
// order (netlink is host-endian); addresses are network-order byte strings.
import * as C from "./constants.js";
import type { AddressRecord, Family, LinkRecord, RouteRecord, RtMessage, RuleRecord } from "./types.js";

/** true on little-endian hosts (netlink integers are in host order) */
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const align4 = (n: number): number => (n + 3) & ~3;

/* ------------------------------------------------------------------------------------------------
 * Decoded stream entries
 * --------------------------------------------------------------------------------------------- */

export interface NlHeader {
  nlType: number;
  flags: number;
  seq: number;
  pid: number;
}

export type DecodedNl =
  /** RTM_NEW/DEL LINK/ADDR/ROUTE/RULE that decoded to a record */
  | (NlHeader & { type: "msg"; msg: RtMessage })
  /** NLMSG_DONE; dumpErrno is the (positive) errno the kernel put in it, 0 normally */
  | (NlHeader & { type: "done"; done: true; dumpErrno: number; extAckMsg?: string })
  /** NLMSG_ERROR: error is a positive errno, 0 for an ACK */
  | (NlHeader & { type: "error"; error: number; extAckMsg?: string; extAckOffset?: number; requestType?: number })
  /** well-formed but not something we decode (other types, AF_BRIDGE link messages, multicast routes, ...) */
  | (NlHeader & { type: "ignored"; ignored: true })
  /** malformed: the reason says what; decoding of a stream stops at a bad nlmsg_len */
  | (NlHeader & { type: "invalid"; invalid: true; reason: string });

/**
 * Split a buffer of concatenated netlink messages (one or more datagrams) and decode each.
 * Never throws: a malformed message yields a `type: "invalid"` entry. A header whose length is
 * impossible (< 16 or past the end) ends the walk, since nothing after it can be located.
 */
export function decodeMessages(input: Uint8Array): DecodedNl[] {
  const out: DecodedNl[] = [];
  const u8 = input;
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const end = u8.byteLength;
  let off = 0;
  while (off < end) {
    if (end - off < C.NLMSG_HDRLEN) {
      let zero = true;
      for (let i = off; i < end; i++) if (u8[i] !== 0) zero = false;
      if (!zero) out.push({ nlType: 0, flags: 0, seq: 0, pid: 0, type: "invalid", invalid: true, reason: "truncated nlmsghdr" });
      break;
    }
    const len = dv.getUint32(off, LE);
    const nlType = dv.getUint16(off + 4, LE);
    const flags = dv.getUint16(off + 6, LE);
    const seq = dv.getUint32(off + 8, LE);
    const pid = dv.getUint32(off + 12, LE);
    if (len < C.NLMSG_HDRLEN || len > end - off) {
      const reason = `bad nlmsg_len ${len} at offset ${off} (${end - off} bytes left)`;
      out.push({ nlType, flags, seq, pid, type: "invalid", invalid: true, reason });
      break;
    }
    try {
      out.push(decodeOne(nlType, flags, seq, pid, dv, u8, off + C.NLMSG_HDRLEN, off + len));
    } catch (err) {
      // The decoders bound-check everything; this is only a safety net (never throw past a message).
      out.push({ nlType, flags, seq, pid, type: "invalid", invalid: true, reason: `decode failed: ${(err as Error).message}` });
    }
    off += align4(len);
  }
  return out;
}

// Object literals with a fixed field order (no spreads): this runs once per message.
function decodeOne(nlType: number, flags: number, seq: number, pid: number, dv: DataView, u8: Uint8Array, s: number, e: number): DecodedNl {
  switch (nlType) {
    case C.NLMSG_DONE: {
      const errno = e - s >= 4 ? Math.abs(dv.getInt32(s, LE)) : 0;
      const d: DecodedNl = { nlType, flags, seq, pid, type: "done", done: true, dumpErrno: errno };
      if (flags & C.NLM_F_ACK_TLVS && e - s > 4) {
        const msg = extAck(dv, u8, s + 4, e).msg;
        if (msg !== undefined) d.extAckMsg = msg;
      }
      return d;
    }
    case C.NLMSG_ERROR: {
      if (e - s < 4) return { nlType, flags, seq, pid, type: "invalid", invalid: true, reason: "NLMSG_ERROR shorter than its errno" };
      const d: DecodedNl = { nlType, flags, seq, pid, type: "error", error: Math.abs(dv.getInt32(s, LE)) };
      if (e - s >= 4 + C.NLMSG_HDRLEN) {
        d.requestType = dv.getUint16(s + 8, LE);
        if (flags & C.NLM_F_ACK_TLVS) {
          const origLen = dv.getUint32(s + 4, LE);
          const tlvStart = flags & C.NLM_F_CAPPED ? s + 4 + C.NLMSG_HDRLEN : s + 4 + align4(Math.max(origLen, C.NLMSG_HDRLEN));
          if (tlvStart < e) {
            const ack = extAck(dv, u8, tlvStart, e);
            if (ack.msg !== undefined) d.extAckMsg = ack.msg;
            if (ack.offs !== undefined) d.extAckOffset = ack.offs;
          }
        }
      }
      return d;
    }
    default: {
      const msg = decodeRtMessageAt(nlType, dv, u8, s, e);
      if (msg) return { nlType, flags, seq, pid, type: "msg", msg };
      return { nlType, flags, seq, pid, type: "ignored", ignored: true };
    }
  }
}

function extAck(dv: DataView, u8: Uint8Array, s: number, e: number): { msg?: string; offs?: number } {
  const r: { msg?: string; offs?: number } = {};
  for (let off = s; off + 4 <= e; ) {
    const alen = dv.getUint16(off, LE);
    const atype = dv.getUint16(off + 2, LE) & C.NLA_TYPE_MASK;
    if (alen < 4 || off + alen > e) break;
    if (atype === C.NLMSGERR_ATTR_MSG) r.msg = str(u8, off + 4, off + alen);
    else if (atype === C.NLMSGERR_ATTR_OFFS && alen >= 8) r.offs = dv.getUint32(off + 4, LE);
    off += align4(alen);
  }
  return r;
}

/**
 * Decode the payload (after the nlmsghdr) of one rtnetlink message. Returns null for message
 * types and families that are not represented by RtMessage, and for payloads too short to hold
 * their fixed header.
 */
export function decodeRtMessage(nlType: number, payload: Uint8Array): RtMessage | null {
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  try {
    return decodeRtMessageAt(nlType, dv, payload, 0, payload.byteLength);
  } catch {
    return null;
  }
}

function decodeRtMessageAt(nlType: number, dv: DataView, u8: Uint8Array, s: number, e: number): RtMessage | null {
  switch (nlType) {
    case C.RTM_NEWLINK:
    case C.RTM_DELLINK: {
      const link = decodeLink(dv, u8, s, e);
      return link ? { kind: "link", op: nlType === C.RTM_NEWLINK ? "new" : "del", link } : null;
    }
    case C.RTM_NEWADDR:
    case C.RTM_DELADDR: {
      const addr = decodeAddr(dv, u8, s, e);
      return addr ? { kind: "addr", op: nlType === C.RTM_NEWADDR ? "new" : "del", addr } : null;
    }
    case C.RTM_NEWROUTE:
    case C.RTM_DELROUTE: {
      const route = decodeRoute(dv, u8, s, e);
      return route ? { kind: "route", op: nlType === C.RTM_NEWROUTE ? "new" : "del", route } : null;
    }
    case C.RTM_NEWRULE:
    case C.RTM_DELRULE: {
      const rule = decodeRule(dv, u8, s, e);
      return rule ? { kind: "rule", op: nlType === C.RTM_NEWRULE ? "new" : "del", rule } : null;
    }
    default:
      return null;
  }
}

/* ------------------------------------------------------------------------------------------------
 * Per-object decoders. Attribute walks stop at the first malformed attribute (keeping what was read).
 * --------------------------------------------------------------------------------------------- */

function familyOf(af: number): Family | null {
  return af === C.AF_INET ? 4 : af === C.AF_INET6 ? 6 : null;
}

/**
 * Only ifi_family AF_UNSPEC messages describe a link. The kernel also sends RTM_NEWLINK/RTM_DELLINK
 * with ifi_family AF_BRIDGE (bridge port state; a DELLINK there means "left the bridge", not
 * "deleted") and AF_INET6 (IPv6 per-link settings): those are ignored, not mistaken for links.
 */
function decodeLink(dv: DataView, u8: Uint8Array, s: number, e: number): LinkRecord | null {
  if (e - s < C.IFINFOMSG_LEN || u8[s] !== C.AF_UNSPEC) return null;
  const type = dv.getUint16(s + 2, LE);
  const index = dv.getInt32(s + 4, LE);
  const flags = dv.getUint32(s + 8, LE);
  let name: string | undefined;
  let mtu = 0;
  let oper = 0;
  let mac: string | undefined;
  let master: number | undefined;
  let kind: string | undefined;
  for (let off = s + C.IFINFOMSG_LEN; off + 4 <= e; ) {
    const alen = dv.getUint16(off, LE);
    if (alen < 4 || off + alen > e) break;
    const ds = off + 4;
    const dl = alen - 4;
    switch (dv.getUint16(off + 2, LE) & C.NLA_TYPE_MASK) {
      case C.IFLA_IFNAME:
        name = str(u8, ds, ds + dl);
        break;
      case C.IFLA_MTU:
        if (dl >= 4) mtu = dv.getUint32(ds, LE);
        break;
      case C.IFLA_OPERSTATE:
        if (dl >= 1) oper = u8[ds] as number;
        break;
      case C.IFLA_ADDRESS:
        if (dl > 0) mac = hwaddr(u8, ds, dl);
        break;
      case C.IFLA_MASTER:
        if (dl >= 4) master = dv.getUint32(ds, LE);
        break;
      case C.IFLA_LINKINFO:
        for (let o2 = ds; o2 + 4 <= ds + dl; ) {
          const l2 = dv.getUint16(o2, LE);
          if (l2 < 4 || o2 + l2 > ds + dl) break;
          if ((dv.getUint16(o2 + 2, LE) & C.NLA_TYPE_MASK) === C.IFLA_INFO_KIND) kind = str(u8, o2 + 4, o2 + l2);
          o2 += align4(l2);
        }
        break;
    }
    off += align4(alen);
  }
  if (name === undefined) return null;
  const link: LinkRecord = {
    index,
    name,
    flags,
    carrier: (flags & C.IFF_LOWER_UP) !== 0,
    up: (flags & C.IFF_UP) !== 0,
    mtu,
    operstate: C.OPERSTATES[oper] ?? "unknown",
    type,
  };
  if (mac !== undefined) link.mac = mac;
  if (kind) link.kind = kind;
  if (master) link.master = master;
  return link;
}

/**
 * address = IFA_LOCAL when present, else IFA_ADDRESS; peer = IFA_ADDRESS when both are present and
 * differ. For IPv4 the kernel always sends IFA_LOCAL; for IPv6 only on peer (point-to-point)
 * configurations, where IFA_ADDRESS is the peer, exactly as iproute2 reads them.
 */
function decodeAddr(dv: DataView, u8: Uint8Array, s: number, e: number): AddressRecord | null {
  if (e - s < C.IFADDRMSG_LEN) return null;
  const family = familyOf(u8[s] as number);
  if (family === null) return null;
  const alen4 = family === 4 ? 4 : 16;
  const prefixlen = u8[s + 1] as number;
  let flags = u8[s + 2] as number;
  const scope = u8[s + 3] as number;
  const index = dv.getUint32(s + 4, LE);
  let address: string | undefined;
  let local: string | undefined;
  let label: string | undefined;
  for (let off = s + C.IFADDRMSG_LEN; off + 4 <= e; ) {
    const alen = dv.getUint16(off, LE);
    if (alen < 4 || off + alen > e) break;
    const ds = off + 4;
    const dl = alen - 4;
    switch (dv.getUint16(off + 2, LE) & C.NLA_TYPE_MASK) {
      case C.IFA_ADDRESS:
        if (dl === alen4) address = ipText(u8, ds, dl);
        break;
      case C.IFA_LOCAL:
        if (dl === alen4) local = ipText(u8, ds, dl);
        break;
      case C.IFA_LABEL:
        label = str(u8, ds, ds + dl);
        break;
      case C.IFA_FLAGS:
        if (dl >= 4) flags = dv.getUint32(ds, LE);
        break;
    }
    off += align4(alen);
  }
  const own = local ?? address;
  if (own === undefined) return null;
  const rec: AddressRecord = {
    family,
    index,
    address: own,
    prefixlen,
    scope,
    flags,
    tentative: (flags & C.IFA_F_TENTATIVE) !== 0,
  };
  if (local !== undefined && address !== undefined && address !== local) rec.peer = address;
  if (label !== undefined) rec.label = label;
  return rec;
}

/**
 * Multipath routes (RTA_MULTIPATH) are reduced to their FIRST nexthop: its RTA_GATEWAY (or RTA_VIA)
 * and rtnh_ifindex become gateway/oif, unless the route itself carried RTA_GATEWAY/RTA_OIF.
 * RTA_VIA (a gateway of another family, e.g. IPv4 via IPv6) is reported as gateway too.
 */
function decodeRoute(dv: DataView, u8: Uint8Array, s: number, e: number): RouteRecord | null {
  if (e - s < C.RTMSG_LEN) return null;
  const family = familyOf(u8[s] as number);
  if (family === null) return null;
  const alen4 = family === 4 ? 4 : 16;
  const route: RouteRecord = {
    family,
    table: u8[s + 4] as number,
    dstLen: u8[s + 1] as number,
    srcLen: u8[s + 2] as number,
    tos: u8[s + 3] as number,
    protocol: u8[s + 5] as number,
    scope: u8[s + 6] as number,
    type: u8[s + 7] as number,
    flags: dv.getUint32(s + 8, LE),
  };
  let mpGateway: string | undefined;
  let mpOif: number | undefined;
  for (let off = s + C.RTMSG_LEN; off + 4 <= e; ) {
    const alen = dv.getUint16(off, LE);
    if (alen < 4 || off + alen > e) break;
    const ds = off + 4;
    const dl = alen - 4;
    switch (dv.getUint16(off + 2, LE) & C.NLA_TYPE_MASK) {
      case C.RTA_DST:
        if (dl === alen4) route.dst = ipText(u8, ds, dl);
        break;
      case C.RTA_SRC:
        if (dl === alen4) route.src = ipText(u8, ds, dl);
        break;
      case C.RTA_OIF:
        if (dl >= 4) route.oif = dv.getUint32(ds, LE);
        break;
      case C.RTA_GATEWAY:
        if (dl === alen4) route.gateway = ipText(u8, ds, dl);
        break;
      case C.RTA_VIA: {
        const via = viaText(dv, u8, ds, dl);
        if (via !== undefined) route.gateway = via;
        break;
      }
      case C.RTA_PRIORITY:
        if (dl >= 4) route.priority = dv.getUint32(ds, LE);
        break;
      case C.RTA_PREFSRC:
        if (dl === alen4) route.prefsrc = ipText(u8, ds, dl);
        break;
      case C.RTA_TABLE:
        if (dl >= 4) route.table = dv.getUint32(ds, LE);
        break;
      case C.RTA_MULTIPATH:
        // first struct rtnexthop only
        if (dl >= C.RTNEXTHOP_LEN && mpOif === undefined) {
          const nlen = dv.getUint16(ds, LE);
          if (nlen >= C.RTNEXTHOP_LEN && nlen <= dl) {
            const ifi = dv.getInt32(ds + 4, LE);
            mpOif = ifi > 0 ? ifi : undefined;
            for (let o2 = ds + C.RTNEXTHOP_LEN; o2 + 4 <= ds + nlen; ) {
              const l2 = dv.getUint16(o2, LE);
              if (l2 < 4 || o2 + l2 > ds + nlen) break;
              const t2 = dv.getUint16(o2 + 2, LE) & C.NLA_TYPE_MASK;
              if (t2 === C.RTA_GATEWAY && l2 - 4 === alen4) mpGateway = ipText(u8, o2 + 4, l2 - 4);
              else if (t2 === C.RTA_VIA) mpGateway = viaText(dv, u8, o2 + 4, l2 - 4) ?? mpGateway;
              o2 += align4(l2);
            }
          }
        }
        break;
    }
    off += align4(alen);
  }
  if (route.gateway === undefined && mpGateway !== undefined) route.gateway = mpGateway;
  if (route.oif === undefined && mpOif !== undefined) route.oif = mpOif;
  return route;
}

function decodeRule(dv: DataView, u8: Uint8Array, s: number, e: number): RuleRecord | null {
  if (e - s < C.FIB_RULE_HDR_LEN) return null;
  const family = familyOf(u8[s] as number);
  if (family === null) return null;
  const alen4 = family === 4 ? 4 : 16;
  const rule: RuleRecord = {
    family,
    // The kernel leaves FRA_PRIORITY out for preference 0 (the local-table rule): report 0 then.
    priority: 0,
    table: u8[s + 4] as number,
    srcLen: u8[s + 2] as number,
    dstLen: u8[s + 1] as number,
    tos: u8[s + 3] as number,
    action: u8[s + 7] as number,
    protocol: 0,
    flags: dv.getUint32(s + 8, LE),
  };
  for (let off = s + C.FIB_RULE_HDR_LEN; off + 4 <= e; ) {
    const alen = dv.getUint16(off, LE);
    if (alen < 4 || off + alen > e) break;
    const ds = off + 4;
    const dl = alen - 4;
    switch (dv.getUint16(off + 2, LE) & C.NLA_TYPE_MASK) {
      case C.FRA_DST:
        if (dl === alen4) rule.dst = ipText(u8, ds, dl);
        break;
      case C.FRA_SRC:
        if (dl === alen4) rule.src = ipText(u8, ds, dl);
        break;
      case C.FRA_PRIORITY:
        if (dl >= 4) rule.priority = dv.getUint32(ds, LE);
        break;
      case C.FRA_TABLE:
        if (dl >= 4) rule.table = dv.getUint32(ds, LE);
        break;
      case C.FRA_PROTOCOL:
        if (dl >= 1) rule.protocol = u8[ds] as number;
        break;
      case C.FRA_IIFNAME:
        rule.iifname = str(u8, ds, ds + dl);
        break;
      case C.FRA_OIFNAME:
        rule.oifname = str(u8, ds, ds + dl);
        break;
      case C.FRA_FWMARK:
        if (dl >= 4) rule.fwmark = dv.getUint32(ds, LE);
        break;
      case C.FRA_FWMASK:
        if (dl >= 4) rule.fwmask = dv.getUint32(ds, LE);
        break;
    }
    off += align4(alen);
  }
  return rule;
}

/* ------------------------------------------------------------------------------------------------
 * Text helpers
 * --------------------------------------------------------------------------------------------- */

const utf8 = new TextDecoder("utf-8");

/** A NUL-terminated (or attribute-bounded) string. */
function str(u8: Uint8Array, s: number, e: number): string {
  let end = s;
  let ascii = true;
  while (end < e && u8[end] !== 0) {
    if ((u8[end] as number) >= 0x80) ascii = false;
    end++;
  }
  if (!ascii) return utf8.decode(u8.subarray(s, end));
  let r = "";
  for (let i = s; i < end; i++) r += String.fromCharCode(u8[i] as number);
  return r;
}

const HEX2: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Link-layer address as lowercase colon-separated hex ("aa:bb:cc:dd:ee:ff" for Ethernet). */
function hwaddr(u8: Uint8Array, s: number, len: number): string {
  let r = HEX2[u8[s] as number] as string;
  for (let i = 1; i < len; i++) r += ":" + HEX2[u8[s + i] as number];
  return r;
}

function ipText(u8: Uint8Array, s: number, len: number): string {
  return len === 4 ? `${u8[s]}.${u8[s + 1]}.${u8[s + 2]}.${u8[s + 3]}` : ip6Text(u8, s);
}

/** struct rtvia: u16 family (host order) + address */
function viaText(dv: DataView, u8: Uint8Array, s: number, len: number): string | undefined {
  if (len < 2) return undefined;
  const af = dv.getUint16(s, LE);
  if (af === C.AF_INET && len - 2 >= 4) return ipText(u8, s + 2, 4);
  if (af === C.AF_INET6 && len - 2 >= 16) return ipText(u8, s + 2, 16);
  return undefined;
}

/**
 * RFC 5952 text for 16 bytes, the way glibc's inet_ntop (and so `ip`) writes it: lowercase, no
 * leading zeros, the first longest run of two or more zero groups as "::", and "::ffff:a.b.c.d" /
 * "::a.b.c.d" for IPv4-mapped / -compatible addresses.
 */
function ip6Text(u8: Uint8Array, s: number): string {
  const w = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 8; i++) w[i] = ((u8[s + 2 * i] as number) << 8) | (u8[s + 2 * i + 1] as number);
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (w[i] === 0) {
      if (curBase === -1) {
        curBase = i;
        curLen = 1;
      } else curLen++;
    } else if (curBase !== -1) {
      if (bestBase === -1 || curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (curBase !== -1 && (bestBase === -1 || curLen > bestLen)) {
    bestBase = curBase;
    bestLen = curLen;
  }
  if (bestBase !== -1 && bestLen < 2) bestBase = -1;
  let r = "";
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) r += ":";
      continue;
    }
    if (i !== 0) r += ":";
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
      r += `${u8[s + 12]}.${u8[s + 13]}.${u8[s + 14]}.${u8[s + 15]}`;
      return r;
    }
    r += (w[i] as number).toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) r += ":";
  return r;
}

/** Canonical text of a 4- or 16-byte address (what `ip` prints). */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4 || bytes.length === 16) return ipText(bytes, 0, bytes.length);
  throw new RangeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
}

/** Dotted-quad IPv4 (exactly four decimal parts 0-255, no leading zeros) to 4 bytes; null if invalid. */
export function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

/** IPv6 text (with "::" and an optional dotted IPv4 tail; no zone) to 16 bytes; null if invalid. */
export function parseIPv6(text: string): Uint8Array | null {
  if (text.length < 2 || text.length > 45) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parseGroups = (part: string, allowV4Tail: boolean): number[] | null => {
    if (part === "") return [];
    const groups: number[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const it = items[i] as string;
      if (allowV4Tail && i === items.length - 1 && it.includes(".")) {
        const v4 = parseIPv4(it);
        if (!v4) return null;
        groups.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(it)) return null;
      groups.push(parseInt(it, 16));
    }
    return groups;
  };
  let words: number[];
  if (halves.length === 1) {
    const g = parseGroups(text, true);
    if (!g || g.length !== 8) return null;
    words = g;
  } else {
    const head = parseGroups(halves[0] as string, false);
    const tail = parseGroups(halves[1] as string, true);
    if (!head || !tail || head.length + tail.length > 7) return null;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = (words[i] as number) >> 8;
    out[2 * i + 1] = (words[i] as number) & 0xff;
  }
  return out;
}

/**
 * Parse an IP address for a request. With `family` the text must be of that family. Throws a
 * TypeError naming the offending text otherwise.
 */
export function parseAddress(text: string, family?: Family, what = "address"): { family: Family; bytes: Uint8Array } {
  if (typeof text !== "string") throw new TypeError(`${what}: expected an IP address string, got ${typeof text}`);
  if (family !== 6) {
    const v4 = parseIPv4(text);
    if (v4) return { family: 4, bytes: v4 };
  }
  if (family !== 4) {
    const v6 = parseIPv6(text);
    if (v6) return { family: 6, bytes: v6 };
  }
  throw new TypeError(`${what}: ${JSON.stringify(text)} is not a valid ${family ? `IPv${family}` : "IP"} address`);
}

/* ------------------------------------------------------------------------------------------------
 * Encoders
 * --------------------------------------------------------------------------------------------- */

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
