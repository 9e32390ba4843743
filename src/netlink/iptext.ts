// IP addresses between bytes and text: the canonical text `ip` prints (RFC 5952 for IPv6), and the
// strict parsers the request encoders use for addresses from configuration.
import type { Family } from "./types.js";

/** The text of the 4 or 16 address bytes at u8[s..s+len) (len is 4 or 16; the caller checked). */
export function ipText(u8: Uint8Array, s: number, len: number): string {
  return len === 4 ? `${u8[s]}.${u8[s + 1]}.${u8[s + 2]}.${u8[s + 3]}` : ip6Text(u8, s);
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
