// The pure rtnetlink codec against bytes captured from a real kernel (test/fixtures/netlink, made
// by capture.mjs in a throwaway network namespace). No root, no addon.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as C from "../../src/netlink/constants.js";
import { decodeMessages, decodeRtMessage, type DecodedNl } from "../../src/netlink/decode.js";
import { encodeDumpRequest, encodeRoute, encodeRule, type RouteSpec, type RuleSpec } from "../../src/netlink/encode.js";
import { formatAddress, parseAddress, parseIPv4, parseIPv6 } from "../../src/netlink/iptext.js";
import type { AddressRecord, LinkRecord, RouteRecord, RtMessage, RuleRecord } from "../../src/netlink/types.js";

/* ---------------------------------------------------------------------------------------------- */

function fixtureDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const f = path.join(dir, "test", "fixtures", "netlink");
    if (existsSync(path.join(dir, "package.json")) && existsSync(f)) return f;
    dir = path.dirname(dir);
  }
  throw new Error("test/fixtures/netlink not found above " + fileURLToPath(import.meta.url));
}
const FIX = fixtureDir();

interface HexFile {
  /** every batch, in file order */
  batches: Buffer[];
  /** batches grouped under the preceding "# ip ..." / "# <case>" comment */
  sections: { title: string; comments: string[]; batches: Buffer[] }[];
}

function readHex(name: string): HexFile {
  const out: HexFile = { batches: [], sections: [] };
  let cur: HexFile["sections"][number] = { title: "", comments: [], batches: [] };
  out.sections.push(cur);
  for (const raw of readFileSync(path.join(FIX, name), "utf8").split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith("#")) {
      // every comment starts a section, except "request: <hex>" which belongs to the current one
      const text = line.slice(1).trim();
      if (text.startsWith("request:")) cur.comments.push(text);
      else out.sections.push((cur = { title: text, comments: [], batches: [] }));
      continue;
    }
    const b = Buffer.from(line, "hex");
    assert.equal(b.length * 2, line.length, `bad hex line in ${name}`);
    out.batches.push(b);
    cur.batches.push(b);
  }
  return out;
}

const readJson = <T>(name: string): T => JSON.parse(readFileSync(path.join(FIX, name), "utf8")) as T;

function decodeAll(batches: Buffer[]): DecodedNl[] {
  return batches.flatMap((b) => decodeMessages(b));
}
function msgs(batches: Buffer[]): RtMessage[] {
  return decodeAll(batches).flatMap((d) => (d.type === "msg" ? [d.msg] : []));
}
const links = (m: RtMessage[]): LinkRecord[] => m.flatMap((x) => (x.kind === "link" ? [x.link] : []));
const addrs = (m: RtMessage[]): AddressRecord[] => m.flatMap((x) => (x.kind === "addr" ? [x.addr] : []));
const routes = (m: RtMessage[]): RouteRecord[] => m.flatMap((x) => (x.kind === "route" ? [x.route] : []));
const rules = (m: RtMessage[]): RuleRecord[] => m.flatMap((x) => (x.kind === "rule" ? [x.rule] : []));

/* ---- dumps ----------------------------------------------------------------------------------- */

for (const kind of ["link", "addr", "route", "rule"]) {
  test(`dump-${kind}: multipart, one seq, ends with NLMSG_DONE, nothing invalid`, () => {
    const all = decodeAll(readHex(`dump-${kind}.hex`).batches);
    assert.ok(all.length > 2);
    const last = all[all.length - 1] as DecodedNl;
    assert.equal(last.type, "done");
    assert.equal(last.type === "done" && last.dumpErrno, 0);
    const seq = last.seq;
    for (const d of all) {
      assert.notEqual(d.type, "invalid");
      assert.equal(d.seq, seq);
      assert.ok(d.flags & C.NLM_F_MULTI, "NLM_F_MULTI on every part");
      assert.equal(d.flags & C.NLM_F_DUMP_INTR, 0);
    }
    assert.equal(all.filter((d) => d.type === "done").length, 1);
  });
}

test("dump-link: exact link records (flags, IFF_LOWER_UP carrier, operstate, mac, kind, master)", () => {
  const got = links(msgs(readHex("dump-link.hex").batches));
  const BMU = C.IFF_BROADCAST | C.IFF_MULTICAST;
  const expected: LinkRecord[] = [
    { index: 1, name: "lo", flags: C.IFF_UP | C.IFF_LOOPBACK | C.IFF_RUNNING | C.IFF_LOWER_UP, carrier: true, up: true, mtu: 65536, operstate: "unknown", type: C.ARPHRD_LOOPBACK, mac: "00:00:00:00:00:00" },
    { index: 2, name: "v1", flags: BMU | C.IFF_UP | C.IFF_RUNNING | C.IFF_LOWER_UP, carrier: true, up: true, mtu: 1500, operstate: "up", type: 1, mac: "02:00:00:00:00:02", kind: "veth", master: 6 },
    { index: 3, name: "v0", flags: BMU | C.IFF_UP | C.IFF_RUNNING | C.IFF_LOWER_UP, carrier: true, up: true, mtu: 1400, operstate: "up", type: 1, mac: "02:00:00:00:00:01", kind: "veth" },
    { index: 4, name: "v3", flags: BMU, carrier: false, up: false, mtu: 1500, operstate: "down", type: 1, mac: "02:00:00:00:00:04", kind: "veth" },
    { index: 5, name: "v2", flags: BMU | C.IFF_UP, carrier: false, up: true, mtu: 1500, operstate: "lowerlayerdown", type: 1, mac: "02:00:00:00:00:03", kind: "veth" },
    { index: 6, name: "br0", flags: BMU | C.IFF_UP | C.IFF_RUNNING | C.IFF_LOWER_UP, carrier: true, up: true, mtu: 1500, operstate: "up", type: 1, mac: "02:00:00:00:00:05", kind: "bridge" },
  ];
  assert.deepEqual(got, expected);
});

test("dump-link agrees with `ip -j -d link show`", () => {
  const got = links(msgs(readHex("dump-link.hex").batches));
  const ipl = readJson<{ ifindex: number; ifname: string; mtu: number; operstate: string; address?: string; flags: string[]; master?: string; linkinfo?: { info_kind?: string } }[]>("ip-link.json");
  assert.equal(got.length, ipl.length);
  for (const j of ipl) {
    const l = got.find((x) => x.index === j.ifindex);
    assert.ok(l, `link ${j.ifname}`);
    assert.equal(l.name, j.ifname);
    assert.equal(l.mtu, j.mtu);
    assert.equal(l.operstate, j.operstate.toLowerCase());
    assert.equal(l.mac, j.address);
    assert.equal(l.up, j.flags.includes("UP"));
    assert.equal(l.carrier, j.flags.includes("LOWER_UP"));
    assert.equal(l.kind, j.linkinfo?.info_kind);
    assert.equal(l.master === undefined ? undefined : got.find((x) => x.index === l.master)?.name, j.master);
  }
});

test("dump-addr: exact address records (IPv4 label and peer, IPv6 nodad/tentative/peer)", () => {
  const got = addrs(msgs(readHex("dump-addr.hex").batches));
  const PERM = C.IFA_F_PERMANENT;
  const expected: AddressRecord[] = [
    { family: 4, index: 1, address: "127.0.0.1", prefixlen: 8, scope: 254, flags: PERM, tentative: false, label: "lo" },
    { family: 4, index: 3, address: "192.0.2.1", prefixlen: 24, scope: 0, flags: PERM, tentative: false, label: "v0:web" },
    { family: 4, index: 3, address: "198.51.100.1", prefixlen: 32, scope: 0, flags: PERM, tentative: false, peer: "198.51.100.2", label: "v0" },
    { family: 6, index: 1, address: "::1", prefixlen: 128, scope: 254, flags: PERM, tentative: false },
    { family: 6, index: 2, address: "fe80::ff:fe00:2", prefixlen: 64, scope: 253, flags: PERM, tentative: false },
    { family: 6, index: 3, address: "fd00::1", prefixlen: 128, scope: 0, flags: PERM | C.IFA_F_NODAD, tentative: false, peer: "fd00::2" },
    { family: 6, index: 3, address: "2001:db8::1", prefixlen: 64, scope: 0, flags: PERM | C.IFA_F_NODAD, tentative: false },
    { family: 6, index: 3, address: "fe80::ff:fe00:1", prefixlen: 64, scope: 253, flags: PERM, tentative: false },
    { family: 6, index: 5, address: "2001:db8:0:1::1", prefixlen: 64, scope: 0, flags: PERM | C.IFA_F_TENTATIVE, tentative: true },
    { family: 6, index: 6, address: "fe80::ff:fe00:5", prefixlen: 64, scope: 253, flags: PERM, tentative: false },
  ];
  assert.deepEqual(got, expected);
});

test("dump-addr agrees with `ip -j addr show`", () => {
  const got = addrs(msgs(readHex("dump-addr.hex").batches));
  const ipa = readJson<{ ifindex: number; addr_info: { family: string; local: string; address?: string; prefixlen: number; scope: string; label?: string; tentative?: boolean }[] }[]>("ip-addr.json");
  let n = 0;
  for (const link of ipa) {
    for (const a of link.addr_info) {
      n++;
      const r = got.find((x) => x.index === link.ifindex && x.address === a.local);
      assert.ok(r, `${a.local} on ${link.ifindex}`);
      assert.equal(r.family, a.family === "inet" ? 4 : 6);
      assert.equal(r.prefixlen, a.prefixlen);
      assert.equal(r.peer, a.address);
      assert.equal(String(r.scope), a.scope);
      assert.equal(r.tentative, a.tentative === true);
      if (r.family === 4) assert.equal(r.label, a.label);
    }
  }
  assert.equal(got.length, n);
});

test("dump-route: selected records (tables > 255, proto 110, metric, gateway, multipath, blackhole, IPv6)", () => {
  const got = routes(msgs(readHex("dump-route.hex").batches));
  const find = (p: (r: RouteRecord) => boolean): RouteRecord => {
    const m = got.filter(p);
    assert.equal(m.length, 1);
    return m[0] as RouteRecord;
  };
  const base = { srcLen: 0, tos: 0, flags: 0 };
  assert.deepEqual(find((r) => r.family === 4 && r.table === 1234 && r.dstLen === 0), {
    ...base, family: 4, table: 1234, dstLen: 0, protocol: 110, scope: 0, type: C.RTN_UNICAST, priority: 50, gateway: "192.0.2.254", oif: 3,
  });
  assert.deepEqual(find((r) => r.dst === "10.20.0.0"), {
    ...base, family: 4, table: 1234, dst: "10.20.0.0", dstLen: 16, protocol: 110, scope: C.RT_SCOPE_LINK, type: 1, prefsrc: "192.0.2.1", oif: 3,
  });
  // multipath: the first nexthop (via 192.0.2.253) stands for the route
  assert.deepEqual(find((r) => r.dst === "10.30.0.0"), {
    ...base, family: 4, table: 1234, dst: "10.30.0.0", dstLen: 16, protocol: 110, scope: 0, type: 1, gateway: "192.0.2.253", oif: 3,
  });
  assert.deepEqual(find((r) => r.dst === "10.99.0.0"), {
    ...base, family: 4, table: 300, dst: "10.99.0.0", dstLen: 16, protocol: C.RTPROT_BOOT, scope: 0, type: C.RTN_BLACKHOLE,
  });
  assert.deepEqual(find((r) => r.dst === "203.0.113.0"), {
    ...base, family: 4, table: C.RT_TABLE_MAIN, dst: "203.0.113.0", dstLen: 24, protocol: C.RTPROT_STATIC, scope: 0, type: 1, priority: 100, gateway: "192.0.2.254", oif: 3,
  });
  assert.deepEqual(find((r) => r.family === 6 && r.table === 1234), {
    ...base, family: 6, table: 1234, dst: "2001:db8:100::", dstLen: 48, protocol: 110, scope: 0, type: 1, priority: 1024, gateway: "2001:db8::ff", oif: 3,
  });
  assert.deepEqual(find((r) => r.family === 6 && r.table === 300), {
    ...base, family: 6, table: 300, dstLen: 0, protocol: C.RTPROT_STATIC, scope: 0, type: 1, priority: 1024, gateway: "fe80::1", oif: 3,
  });
  // RTNH_F_LINKDOWN on the route of the link without carrier
  assert.equal(find((r) => r.dst === "2001:db8:0:1::").flags, C.RTNH_F_LINKDOWN);
  assert.equal(got.length, 32);
});

interface IpRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
  prefsrc?: string;
  nexthops?: { gateway: string; dev: string }[];
}

test("dump-route agrees with `ip -N -j route show table all` (IPv4 and IPv6)", () => {
  const got = routes(msgs(readHex("dump-route.hex").batches));
  const ifindex = new Map(readJson<{ ifindex: number; ifname: string }[]>("ip-link.json").map((l) => [l.ifname, l.ifindex]));
  const TYPES: Record<string, number> = { unicast: 1, local: 2, broadcast: 3, multicast: 5, blackhole: 6 };
  let n = 0;
  for (const [family, file] of [[4, "ip-route4.json"], [6, "ip-route6.json"]] as const) {
    for (const j of readJson<IpRoute[]>(file)) {
      n++;
      const typeNum = j.type === undefined ? 1 : (TYPES[j.type] ?? Number(j.type));
      const [dst, len] = j.dst === "default" ? [undefined, family === 4 ? 0 : 0] : j.dst.includes("/") ? [j.dst.split("/")[0], Number(j.dst.split("/")[1])] : [j.dst, family === 4 ? 32 : 128];
      const table = j.table === undefined ? 254 : Number(j.table);
      const oif = j.dev ? ifindex.get(j.dev) : j.nexthops ? ifindex.get(j.nexthops[0]?.dev ?? "") : undefined;
      const cands = got.filter((r) => r.family === family && r.dst === dst && r.dstLen === len && r.table === table && r.type === typeNum && r.oif === oif);
      assert.equal(cands.length, 1, `route ${JSON.stringify(j)}`);
      const r = cands[0] as RouteRecord;
      assert.equal(r.protocol, j.protocol === undefined ? C.RTPROT_BOOT : Number(j.protocol), JSON.stringify(j));
      assert.equal(r.scope, j.scope === undefined ? 0 : Number(j.scope), JSON.stringify(j));
      assert.equal(r.gateway, j.gateway ?? j.nexthops?.[0]?.gateway);
      assert.equal(r.prefsrc, j.prefsrc);
      // ip omits "metric 0" and IPv4 has no default metric
      assert.equal(r.priority ?? 0, j.metric ?? 0, JSON.stringify(j));
    }
  }
  assert.equal(got.length, n);
});

test("dump-rule: exact records and agreement with `ip -N -j rule show`; other families ignored", () => {
  const all = decodeAll(readHex("dump-rule.hex").batches);
  // RTNL_FAMILY_IPMR/IP6MR rules come along in an AF_UNSPEC dump: ignored, not invalid
  assert.equal(all.filter((d) => d.type === "ignored").length, 2);
  const got = rules(all.flatMap((d) => (d.type === "msg" ? [d.msg] : [])));
  const base = { tos: 0, action: C.FR_ACT_TO_TBL, flags: 0, srcLen: 0, dstLen: 0 };
  assert.deepEqual(got, [
    { ...base, family: 4, priority: 0, table: C.RT_TABLE_LOCAL, protocol: C.RTPROT_KERNEL },
    { ...base, family: 4, priority: 100, table: 1234, protocol: 110, src: "192.0.2.0", srcLen: 24 },
    { ...base, family: 4, priority: 200, table: 300, protocol: 0, dst: "10.30.0.0", dstLen: 16, iifname: "v0", fwmark: 0x10, fwmask: 0xff },
    { ...base, family: 4, priority: 32766, table: C.RT_TABLE_MAIN, protocol: C.RTPROT_KERNEL },
    { ...base, family: 4, priority: 32767, table: C.RT_TABLE_DEFAULT, protocol: C.RTPROT_KERNEL },
    { ...base, family: 6, priority: 0, table: C.RT_TABLE_LOCAL, protocol: C.RTPROT_KERNEL },
    { ...base, family: 6, priority: 100, table: 1234, protocol: 110, src: "2001:db8::", srcLen: 32 },
    { ...base, family: 6, priority: 300, table: C.RT_TABLE_MAIN, protocol: 0, oifname: "v0" },
    { ...base, family: 6, priority: 32766, table: C.RT_TABLE_MAIN, protocol: C.RTPROT_KERNEL },
  ]);
  type IpRule = { priority: number; src: string; srclen?: number; dst?: string; dstlen?: number; table: string; protocol?: string; iif?: string; oif?: string; fwmark?: string; fwmask?: string };
  for (const [family, file] of [[4, "ip-rule4.json"], [6, "ip-rule6.json"]] as const) {
    const ipr = readJson<IpRule[]>(file);
    const mine: RuleRecord[] = got.filter((r) => r.family === family);
    assert.equal(mine.length, ipr.length);
    for (const [i, j] of ipr.entries()) {
      const r = mine[i] as RuleRecord;
      assert.equal(r.priority, j.priority);
      assert.equal(r.table, Number(j.table));
      assert.equal(r.src ?? "all", j.src);
      assert.equal(r.srcLen, j.srclen ?? 0);
      assert.equal(r.dst, j.dst);
      assert.equal(r.iifname, j.iif);
      assert.equal(r.oifname, j.oif);
      assert.equal(r.fwmark, j.fwmark === undefined ? undefined : Number(j.fwmark));
      assert.equal(r.fwmask, j.fwmask === undefined ? undefined : Number(j.fwmask));
      // ip -j prints the protocol only when it is not "unspec"/"kernel"-default; compare when present
      if (j.protocol !== undefined) assert.equal(r.protocol, Number(j.protocol));
    }
  }
});

/* ---- notifications ----------------------------------------------------------------------------- */

function section(f: HexFile, startsWith: string): Buffer[] {
  const s = f.sections.filter((x) => x.title.startsWith(startsWith));
  assert.equal(s.length, 1, `one section "${startsWith}"`);
  return (s[0] as HexFile["sections"][number]).batches;
}

test("notify-links: new links, carrier coming up, master, mtu; AF_BRIDGE messages ignored", () => {
  const f = readHex("notify-links.hex");
  const all = decodeAll(f.batches);
  assert.ok(all.every((d) => d.type === "msg" || d.type === "ignored"));
  const created = links(msgs(section(f, "ip link add v0")));
  assert.deepEqual(created.map((l) => [l.index, l.name, l.kind, l.up, l.carrier, l.operstate]), [
    [2, "v1", "veth", false, false, "down"],
    [3, "v0", "veth", false, false, "down"],
  ]);
  const enslave = decodeAll(section(f, "ip link set v1 master br0"));
  assert.ok(enslave.some((d) => d.type === "ignored"), "the AF_BRIDGE RTM_NEWLINK is ignored");
  assert.ok(links(msgs(section(f, "ip link set v1 master br0"))).some((l) => l.name === "v1" && l.master === 6));
  // v0 up while v1 is down: up but no carrier; then v1 up: both get IFF_LOWER_UP
  // (sections are filtered by link: asynchronous kernel work, e.g. the bridge coming up, may land anywhere)
  const v0up = links(msgs(section(f, "ip link set v0 up"))).filter((l) => l.name === "v0");
  assert.deepEqual(v0up.map((l) => [l.name, l.up, l.carrier, l.operstate]), [["v0", true, false, "lowerlayerdown"]]);
  const v1up = links(msgs(section(f, "ip link set v1 up")));
  const lastV0 = v1up.filter((l) => l.name === "v0").at(-1);
  assert.equal(lastV0?.carrier, true);
  assert.equal(lastV0?.operstate, "up");
  assert.ok(((lastV0?.flags ?? 0) & C.IFF_LOWER_UP) !== 0);
  // the same batch carries the IPv6 routes the kernel adds for the link: kernel order is kept
  const kinds = msgs(section(f, "ip link set v1 up")).map((m) => m.kind);
  assert.ok(kinds.includes("route") && kinds.includes("link"));
  const mtu = links(msgs(section(f, "ip link set v0 mtu 1400"))).filter((l) => l.name === "v0");
  assert.deepEqual(mtu.map((l) => [l.name, l.mtu]), [["v0", 1400]]);
  // with carrier, the IPv6 link-local addresses appear (DAD is off on v0/v1/br0: not tentative)
  const ll = addrs(msgs(f.batches)).map((a) => [a.index, a.address, a.scope, a.tentative]);
  assert.deepEqual(ll.sort(), [
    [2, "fe80::ff:fe00:2", C.RT_SCOPE_LINK, false],
    [3, "fe80::ff:fe00:1", C.RT_SCOPE_LINK, false],
    [6, "fe80::ff:fe00:5", C.RT_SCOPE_LINK, false],
  ]);
});

test("notify-addrs: IPv4 label/peer, IPv6 nodad vs tentative, IPv6 peer", () => {
  const f = readHex("notify-addrs.hex");
  const a = (s: string): AddressRecord[] => addrs(msgs(section(f, s))).filter((x) => x.index === 3 || x.index === 5);
  assert.deepEqual(a("ip addr add 192.0.2.1/24"), [
    { family: 4, index: 3, address: "192.0.2.1", prefixlen: 24, scope: 0, flags: C.IFA_F_PERMANENT, tentative: false, label: "v0:web" },
  ]);
  assert.equal(a("ip addr add 198.51.100.1")[0]?.peer, "198.51.100.2");
  const nodad = a("ip -6 addr add 2001:db8::1/64")[0];
  assert.equal(nodad?.tentative, false);
  assert.equal((nodad?.flags ?? 0) & C.IFA_F_NODAD, C.IFA_F_NODAD);
  assert.deepEqual(a("ip -6 addr add 2001:db8:0:1::1/64"), [
    { family: 6, index: 5, address: "2001:db8:0:1::1", prefixlen: 64, scope: 0, flags: C.IFA_F_PERMANENT | C.IFA_F_TENTATIVE, tentative: true },
  ]);
  const p6 = a("ip -6 addr add fd00::1")[0];
  assert.equal(p6?.address, "fd00::1");
  assert.equal(p6?.peer, "fd00::2");
  // adding an IPv4 address also announces its local/broadcast and prefix routes, in kernel order
  const v4 = msgs(section(f, "ip addr add 192.0.2.1/24")).filter((m) => (m.kind === "addr" && m.addr.family === 4) || (m.kind === "route" && m.route.family === 4));
  assert.deepEqual(v4.map((m) => m.kind), ["addr", "route", "route", "route"]);
});

test("notify-routes and notify-rules: NEW with tables > 255 and protocol", () => {
  const r = readHex("notify-routes.hex");
  const def = routes(msgs(section(r, "ip route add default")));
  assert.deepEqual(def, [
    { family: 4, table: 1234, dstLen: 0, srcLen: 0, tos: 0, protocol: 110, scope: 0, type: 1, flags: 0, priority: 50, gateway: "192.0.2.254", oif: 3 },
  ]);
  const mp = routes(msgs(section(r, "ip route add 10.30.0.0/16")));
  assert.equal(mp[0]?.gateway, "192.0.2.253");
  const v6 = routes(msgs(section(r, "ip -6 route add default")))[0];
  assert.equal(v6?.table, 300);
  assert.equal(v6?.gateway, "fe80::1");
  for (const d of decodeAll(r.batches)) assert.notEqual(d.type, "invalid");

  const u = readHex("notify-rules.hex");
  const all = rules(msgs(u.batches));
  assert.deepEqual(all.map((x) => [x.family, x.priority, x.table, x.protocol]), [
    [4, 100, 1234, 110],
    [4, 200, 300, 0],
    [6, 100, 1234, 110],
    [6, 300, 254, 0],
  ]);
});

test("notify-deletes: DEL messages; leaving a bridge is not a link deletion", () => {
  const f = readHex("notify-deletes.hex");
  const op = (s: string): string[] =>
    msgs(section(f, s))
      .filter((m) => !(m.kind === "link" && m.link.name === "br0"))
      .map((m) => `${m.op} ${m.kind}`);
  assert.deepEqual(op("ip rule del priority 100"), ["del rule"]);
  assert.deepEqual(rules(msgs(section(f, "ip -6 rule del"))).map((x) => [x.family, x.priority, x.table, x.protocol, x.src]), [[6, 100, 1234, 110, "2001:db8::"]]);
  assert.deepEqual(routes(msgs(section(f, "ip route del default"))).map((x) => [x.table, x.gateway, x.protocol]), [[1234, "192.0.2.254", 110]]);
  assert.deepEqual(op("ip addr del 192.0.2.1/24"), ["del addr", "del route", "del route", "del route"]);
  assert.equal(addrs(msgs(section(f, "ip -6 addr del")))[0]?.address, "2001:db8::1");
  // nomaster: the kernel sends RTM_DELLINK with ifi_family AF_BRIDGE; it must not read as "v1 deleted"
  const nomaster = decodeAll(section(f, "ip link set v1 nomaster"));
  assert.ok(nomaster.some((d) => d.type === "ignored" && d.nlType === C.RTM_DELLINK));
  assert.ok(!op("ip link set v1 nomaster").includes("del link"));
  assert.equal(links(msgs(section(f, "ip link set v1 nomaster"))).filter((l) => l.name === "v1").at(-1)?.master, undefined);
  const del = msgs(section(f, "ip link del v2")).filter((m) => m.op === "del" && m.kind === "link");
  assert.deepEqual(del.map((m) => (m.kind === "link" ? [m.link.index, m.link.name] : [])), [[5, "v2"], [4, "v3"]]);
});

test("concatenated batches decode like the batches one by one", () => {
  for (const name of ["notify-links.hex", "notify-deletes.hex", "dump-route.hex"]) {
    const f = readHex(name);
    assert.deepEqual(decodeMessages(Buffer.concat(f.batches)), decodeAll(f.batches));
    // and a Uint8Array that is a view into a larger ArrayBuffer
    const big = new Uint8Array(Buffer.concat([Buffer.alloc(7), ...f.batches]));
    assert.deepEqual(decodeMessages(big.subarray(7)), decodeAll(f.batches));
  }
});

/* ---- ACKs, errors and the requests that caused them -------------------------------------------- */

test("acks.hex: ACK, EEXIST, EINVAL with extended ACK, ENOENT, ESRCH; requests are byte-exact", () => {
  const f = readHex("acks.hex");
  const cases = f.sections.filter((s) => s.comments.some((c) => c.startsWith("request:")));
  assert.equal(cases.length, 8);
  const route: RouteSpec = { family: 4, table: 300, dst: "10.40.0.0", dstLen: 24, gateway: "192.0.2.254", priority: 7, protocol: 110 };
  const rule: RuleSpec = { family: 4, priority: 400, table: 300, src: "10.40.0.0", srcLen: 24, dstLen: 0, protocol: 110 };
  const expected: [Buffer, number, string | undefined][] = [
    [encodeRoute("new", route, 0), 0, undefined],
    [encodeRoute("new", route, 0), 17, undefined],
    [encodeRoute("new", { ...route, dst: "10.41.0.1" }, 0), 22, "Invalid prefix for given prefix length"],
    [encodeRule("new", rule, 0), 0, undefined],
    [encodeRule("new", rule, 0), 17, undefined],
    [encodeRule("del", { ...rule, priority: 401 }, 0), 2, undefined],
    [encodeRoute("del", route, 0), 0, undefined],
    [encodeRoute("del", route, 0), 3, undefined],
  ];
  for (const [i, c] of cases.entries()) {
    const [req, errno, ext] = expected[i] as [Buffer, number, string | undefined];
    const sent = Buffer.from((c.comments.find((x) => x.startsWith("request:")) as string).slice("request:".length).trim(), "hex");
    const seq = sent.readUInt32LE(8);
    req.writeUInt32LE(seq, 8);
    assert.deepEqual(req, sent, `request bytes of "${c.title}"`);
    const answer = decodeAll(c.batches);
    assert.equal(answer.length, 1, c.title);
    const a = answer[0] as DecodedNl;
    assert.equal(a.type, "error", c.title);
    if (a.type !== "error") continue;
    assert.equal(a.seq, seq);
    assert.equal(a.error, errno, c.title);
    assert.equal(a.extAckMsg, ext, c.title);
    assert.equal(a.requestType, sent.readUInt16LE(4));
    assert.ok(a.flags & C.NLM_F_CAPPED, "NETLINK_CAP_ACK was on");
  }
});

test("NLMSG_ERROR without NETLINK_CAP_ACK (request echoed) and with ext-ack offset; NLMSG_DONE with errno", () => {
  const req = encodeRoute("new", { family: 6, table: 1234, dst: "2001:db8::", dstLen: 32, protocol: 110 }, 77);
  const tlvMsg = Buffer.from("Nexthop device is not up\0");
  const tlv = Buffer.alloc(((4 + tlvMsg.length + 3) & ~3) + 8);
  tlv.writeUInt16LE(4 + tlvMsg.length, 0);
  tlv.writeUInt16LE(C.NLMSGERR_ATTR_MSG, 2);
  tlvMsg.copy(tlv, 4);
  const o = (4 + tlvMsg.length + 3) & ~3;
  tlv.writeUInt16LE(8, o);
  tlv.writeUInt16LE(C.NLMSGERR_ATTR_OFFS, o + 2);
  tlv.writeUInt32LE(36, o + 4);
  const len = 16 + 4 + req.length + tlv.length;
  const m = Buffer.alloc(len);
  m.writeUInt32LE(len, 0);
  m.writeUInt16LE(C.NLMSG_ERROR, 4);
  m.writeUInt16LE(C.NLM_F_ACK_TLVS, 6);
  m.writeUInt32LE(77, 8);
  m.writeUInt32LE(1234, 12);
  m.writeInt32LE(-100, 16); // ENETDOWN
  req.copy(m, 20);
  tlv.copy(m, 20 + req.length);
  const done = Buffer.alloc(20);
  done.writeUInt32LE(20, 0);
  done.writeUInt16LE(C.NLMSG_DONE, 4);
  done.writeUInt16LE(C.NLM_F_MULTI, 6);
  done.writeUInt32LE(78, 8);
  done.writeInt32LE(-16, 16); // EBUSY
  const [e, d] = decodeMessages(Buffer.concat([m, done]));
  assert.deepEqual(e, {
    nlType: C.NLMSG_ERROR, flags: C.NLM_F_ACK_TLVS, seq: 77, pid: 1234, type: "error", error: 100,
    requestType: C.RTM_NEWROUTE, extAckMsg: "Nexthop device is not up", extAckOffset: 36,
  });
  assert.deepEqual(d, { nlType: C.NLMSG_DONE, flags: C.NLM_F_MULTI, seq: 78, pid: 0, type: "done", done: true, dumpErrno: 16 });
});

/* ---- encoders --------------------------------------------------------------------------------- */

function single(buf: Buffer): DecodedNl {
  const all = decodeMessages(buf);
  assert.equal(all.length, 1);
  return all[0] as DecodedNl;
}

test("encodeDumpRequest: header, flags, family and fixed header per kind", () => {
  const cases = [
    ["link", C.RTM_GETLINK, 16 + 16 + 8],
    ["addr", C.RTM_GETADDR, 16 + 8],
    ["route", C.RTM_GETROUTE, 16 + 12],
    ["rule", C.RTM_GETRULE, 16 + 12],
  ] as const;
  for (const [kind, type, len] of cases) {
    for (const [fam, af] of [[0, 0], [4, 2], [6, 10]] as const) {
      const b = encodeDumpRequest(kind, fam, 0xfffffff0);
      assert.equal(b.length, len);
      assert.equal(b.readUInt32LE(0), len);
      assert.equal(b.readUInt16LE(4), type);
      assert.equal(b.readUInt16LE(6), C.NLM_F_REQUEST | C.NLM_F_DUMP);
      assert.equal(b.readUInt32LE(8), 0xfffffff0);
      assert.equal(b.readUInt32LE(12), 0);
      assert.equal(b[16], af);
    }
  }
  // links: IFLA_EXT_MASK = RTEXT_FILTER_SKIP_STATS
  const l = encodeDumpRequest("link", 0, 1);
  assert.deepEqual([l.readUInt16LE(32), l.readUInt16LE(34), l.readUInt32LE(36)], [8, C.IFLA_EXT_MASK, C.RTEXT_FILTER_SKIP_STATS]);
});

test("encodeRoute → decode round trip (IPv4/IPv6, table > 255, defaults, flags)", () => {
  const specs: [RouteSpec, Partial<RouteRecord>][] = [
    [{ family: 4, table: 1234, dst: "10.1.0.0", dstLen: 16, gateway: "192.0.2.1", oif: 3, priority: 10, protocol: 110 }, { scope: 0, type: 1 }],
    [{ family: 4, table: 254, dstLen: 0, gateway: "192.0.2.1", protocol: 4 }, { scope: 0, type: 1 }],
    [{ family: 4, table: 300, dst: "10.2.0.0", dstLen: 24, oif: 7, prefsrc: "10.2.0.1", protocol: 110 }, { scope: C.RT_SCOPE_LINK, type: 1 }],
    [{ family: 4, table: 300, dst: "10.3.0.0", dstLen: 24, type: C.RTN_BLACKHOLE, protocol: 110 }, { scope: 0, type: 6 }],
    [{ family: 6, table: 0xfffffffe, dst: "2001:db8:1::", dstLen: 48, gateway: "fe80::1", oif: 2, priority: 1024, protocol: 0x6e }, { scope: 0, type: 1 }],
    [{ family: 6, table: 100, dstLen: 0, gateway: "2001:db8::1", protocol: 110, scope: 200, type: C.RTN_UNICAST }, { scope: 200, type: 1 }],
  ];
  for (const [spec, extra] of specs) {
    const b = encodeRoute("new", spec, 42);
    const d = single(b);
    assert.equal(d.nlType, C.RTM_NEWROUTE);
    assert.equal(d.flags, C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_CREATE | C.NLM_F_EXCL);
    assert.equal(d.seq, 42);
    assert.equal(b[16 + 4], spec.table < 256 ? spec.table : C.RT_TABLE_COMPAT, "rtm_table");
    assert.ok(d.type === "msg" && d.msg.kind === "route" && d.msg.op === "new");
    const want: RouteRecord = {
      family: spec.family, table: spec.table, dstLen: spec.dstLen, srcLen: 0, tos: 0, protocol: spec.protocol, flags: 0,
      scope: extra.scope as number, type: extra.type as number,
    };
    if (spec.dst) want.dst = spec.dst;
    if (spec.gateway) want.gateway = spec.gateway;
    if (spec.oif !== undefined) want.oif = spec.oif;
    if (spec.priority !== undefined) want.priority = spec.priority;
    if (spec.prefsrc) want.prefsrc = spec.prefsrc;
    assert.deepEqual(d.msg.route, want);
  }
  const rep = single(encodeRoute("new", { ...(specs[0] as [RouteSpec, Partial<RouteRecord>])[0], replace: true }, 1));
  assert.equal(rep.flags, C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_CREATE | C.NLM_F_REPLACE);
  const del = encodeRoute("del", { family: 4, table: 300, dst: "10.2.0.0", dstLen: 24, protocol: 110 }, 2);
  const dd = single(del);
  assert.equal(dd.nlType, C.RTM_DELROUTE);
  assert.equal(dd.flags, C.NLM_F_REQUEST | C.NLM_F_ACK);
  assert.ok(dd.type === "msg" && dd.msg.kind === "route");
  assert.equal(dd.msg.route.scope, C.RT_SCOPE_NOWHERE, "delete matches any scope");
  assert.equal(dd.msg.route.type, C.RTN_UNSPEC, "delete matches any type");
  assert.equal(dd.msg.route.table, 300);
});

test("encodeRule → decode round trip (IPv4/IPv6, table > 255, protocol, selectors)", () => {
  const specs: RuleSpec[] = [
    { family: 4, priority: 100, table: 1234, src: "192.0.2.0", srcLen: 24, dstLen: 0, protocol: 110 },
    { family: 4, priority: 5, table: 254, srcLen: 0, dst: "10.0.0.0", dstLen: 8, protocol: 0, iifname: "eth0", fwmark: 7, fwmask: 0xff },
    { family: 6, priority: 32000, table: 70000, src: "2001:db8::", srcLen: 32, dst: "2001:db8:ffff::1", dstLen: 128, protocol: 0x6e, oifname: "wg0" },
    { family: 6, priority: 1, table: 0, srcLen: 0, dstLen: 0, protocol: 110, action: C.FR_ACT_BLACKHOLE },
  ];
  for (const spec of specs) {
    for (const op of ["new", "del"] as const) {
      const b = encodeRule(op, spec, 9);
      const d = single(b);
      assert.equal(d.nlType, op === "new" ? C.RTM_NEWRULE : C.RTM_DELRULE);
      assert.equal(d.flags, C.NLM_F_REQUEST | C.NLM_F_ACK | (op === "new" ? C.NLM_F_CREATE | C.NLM_F_EXCL : 0));
      assert.equal(b[16 + 4], spec.table < 256 ? spec.table : C.RT_TABLE_COMPAT);
      assert.ok(d.type === "msg" && d.msg.kind === "rule");
      const want: RuleRecord = {
        family: spec.family, priority: spec.priority, table: spec.table, srcLen: spec.srcLen, dstLen: spec.dstLen,
        tos: 0, action: spec.action ?? C.FR_ACT_TO_TBL, protocol: spec.protocol, flags: 0,
      };
      for (const k of ["src", "dst", "iifname", "oifname", "fwmark", "fwmask"] as const) {
        if (spec[k] !== undefined) (want as unknown as Record<string, unknown>)[k] = spec[k];
      }
      assert.deepEqual(d.msg.rule, want);
    }
  }
});

test("encoders validate their input with clear errors", () => {
  const ok: RouteSpec = { family: 4, table: 300, dst: "10.0.0.0", dstLen: 8, protocol: 110 };
  assert.throws(() => encodeRoute("new", { ...ok, dst: "10.0.0" }, 1), /dst: "10.0.0" is not a valid IPv4 address/);
  assert.throws(() => encodeRoute("new", { ...ok, dst: "2001:db8::" }, 1), /not a valid IPv4 address/);
  assert.throws(() => encodeRoute("new", { ...ok, gateway: "fe80::1" }, 1), /gateway/);
  assert.throws(() => encodeRoute("new", { ...ok, dstLen: 33 }, 1), /prefix length/);
  assert.throws(() => encodeRoute("new", { ...ok, dst: undefined }, 1), /needs an address/);
  assert.throws(() => encodeRoute("new", { ...ok, table: -1 }, 1), /table/);
  assert.throws(() => encodeRoute("new", { ...ok, protocol: 256 }, 1), /protocol/);
  assert.throws(() => encodeRoute("new", { ...ok, family: 5 as 4 }, 1), /family/);
  assert.throws(() => encodeRule("new", { family: 6, priority: 1, table: 1, srcLen: 0, dstLen: 0, protocol: 0, iifname: "a/b" }, 1), /interface name/);
  assert.throws(() => encodeRule("new", { family: 6, priority: 1.5, table: 1, srcLen: 0, dstLen: 0, protocol: 0 }, 1), /priority/);
});

/* ---- addresses --------------------------------------------------------------------------------- */

test("IPv6 text is RFC 5952 / inet_ntop canonical; parse and format round trip", () => {
  const cases: [string, string][] = [
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs
    ["2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"], // the longest run
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single 0 is not compressed
    ["fe80::0001", "fe80::1"],
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
    ["::ffff:c000:201", "::ffff:192.0.2.1"],
    ["::192.0.2.1", "::192.0.2.1"], // IPv4-compatible, as glibc prints it
    ["::2", "::2"],
    ["::fffe:1.2.3.4", "::fffe:102:304"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["ff02::1:ff00:1", "ff02::1:ff00:1"],
  ];
  for (const [input, canon] of cases) {
    const b = parseIPv6(input);
    assert.ok(b, input);
    assert.equal(formatAddress(b), canon, input);
    assert.deepEqual(parseIPv6(canon), b);
  }
  for (const bad of ["", ":", ":::", "1:::2", "1::2::3", "12345::", "g::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "::1.2.3", "1.2.3.4::", "fe80::1%eth0", ":1::", "1::2:"]) {
    assert.equal(parseIPv6(bad), null, bad);
  }
  assert.equal(formatAddress(Uint8Array.of(192, 0, 2, 255)), "192.0.2.255");
  for (const bad of ["1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.-4", " 1.2.3.4", "1.2.3.4/24", "a.b.c.d"]) {
    assert.equal(parseIPv4(bad), null, bad);
  }
  assert.deepEqual(parseAddress("10.0.0.1"), { family: 4, bytes: Uint8Array.of(10, 0, 0, 1) });
  assert.equal(parseAddress("::1").family, 6);
  assert.throws(() => parseAddress("10.0.0.1", 6, "gateway"), /gateway: "10.0.0.1" is not a valid IPv6 address/);
});

/* ---- robustness -------------------------------------------------------------------------------- */

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

test("truncated, corrupted and random buffers never throw and never loop", () => {
  const real = Buffer.concat([...readHex("dump-link.hex").batches, ...readHex("dump-route.hex").batches, ...readHex("notify-deletes.hex").batches]);
  // every truncation
  for (let n = 0; n <= real.length; n += n < 200 ? 1 : 7) {
    const out = decodeMessages(real.subarray(0, n));
    assert.ok(out.length <= real.length / 16 + 1);
  }
  // len 0 and len too large stop the walk with one invalid entry
  const zero = Buffer.alloc(64);
  assert.deepEqual(decodeMessages(zero).map((d) => d.type), ["invalid"]);
  const huge = Buffer.from(real.subarray(0, 64));
  huge.writeUInt32LE(0xffffffff, 0);
  assert.deepEqual(decodeMessages(huge).map((d) => d.type), ["invalid"]);
  // trailing non-zero bytes shorter than a header
  const tail = Buffer.concat([readHex("acks.hex").batches[0] as Buffer, Buffer.from([1, 2, 3, 4])]);
  assert.deepEqual(decodeMessages(tail).map((d) => d.type), ["error", "invalid"]);
  // random byte flips inside real messages (attribute lengths, header fields, ...)
  const rnd = lcg(12345);
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(real);
    const flips = 1 + (rnd() % 8);
    for (let k = 0; k < flips; k++) b[rnd() % b.length] = rnd() & 0xff;
    const out = decodeMessages(b);
    assert.ok(out.length <= b.length / 16 + 1);
  }
  // pure noise, including plausible headers with tiny payloads for every rtnetlink type
  for (let i = 0; i < 2000; i++) {
    const len = rnd() % 300;
    const b = Buffer.alloc(len);
    for (let k = 0; k < len; k++) b[k] = rnd() & 0xff;
    if (len >= 16) {
      b.writeUInt32LE(16 + (rnd() % (len - 15)), 0);
      b.writeUInt16LE([2, 3, 16, 17, 20, 21, 24, 25, 32, 33][rnd() % 10] as number, 4);
    }
    decodeMessages(b);
  }
  // direct payload decoding with short payloads
  for (const t of [C.RTM_NEWLINK, C.RTM_NEWADDR, C.RTM_NEWROUTE, C.RTM_NEWRULE]) {
    for (let n = 0; n < 20; n++) assert.equal(decodeRtMessage(t, new Uint8Array(n).fill(0xff)), null);
  }
});

test("decodeRtMessage decodes a payload without its nlmsghdr; unknown types give null", () => {
  const b = encodeRoute("new", { family: 6, table: 300, dst: "2001:db8::", dstLen: 32, protocol: 110 }, 5);
  const m = decodeRtMessage(C.RTM_DELROUTE, b.subarray(16));
  assert.ok(m && m.kind === "route");
  assert.equal(m.op, "del");
  assert.equal(m.route.dst, "2001:db8::");
  assert.equal(decodeRtMessage(C.RTM_NEWNEIGH, b.subarray(16)), null);
  const ignored = decodeMessages(Buffer.from(encodeDumpRequest("link", 0, 3)));
  assert.equal(ignored[0]?.type, "ignored", "a GET request is not a record");
});
