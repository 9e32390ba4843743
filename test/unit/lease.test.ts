// The dhclient lease parser: real dhclient output, the last block per interface, times, and hostile
// input (bad values dropped, malformed blocks rejected with their line, the rest still counts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { LEASE_LIMITS, leaseExpired, leaseFields, parseLeases, parseLeaseTime } from "../../src/sources/lease.js";

// as dhclient 4.4.3 wrote it in the lab (bind, then a second block on restart)
const block = (o: { iface?: string; addr?: string; dns?: string; expire?: string; extra?: string } = {}) => `lease {
  interface "${o.iface ?? "lab0"}";
  fixed-address ${o.addr ?? "10.77.0.50"};
  option subnet-mask 255.255.255.0;
  option dhcp-lease-time 120;
  option routers 10.77.0.1;
  option dhcp-message-type 5;
  option dhcp-server-identifier 10.77.0.1;
  option domain-name-servers ${o.dns ?? "10.77.0.1"};
  option domain-search "lab.test.", "corp.test.";
  option dhcp-renewal-time 60;
  option broadcast-address 10.77.0.255;
  option host-name "labclient";
  option domain-name "lab.test";
${o.extra ?? ""}  renew 6 2026/11/28 22:38:46;
  rebind 6 2026/11/28 22:39:32;
  expire ${o.expire ?? "6 2026/11/28 22:39:47"};
}
`;

test("a real dhclient lease: every field, times in UTC", () => {
  const r = parseLeases(block());
  assert.deepEqual(r.problems, []);
  assert.equal(r.incomplete, false);
  const l = r.leases.get("lab0")!;
  assert.equal(l.fixedAddress, "10.77.0.50");
  assert.equal(l.subnetMask, "255.255.255.0");
  assert.deepEqual(l.routers, ["10.77.0.1"]);
  assert.deepEqual(l.dns, ["10.77.0.1"]);
  assert.deepEqual(l.domainName, ["lab.test"]);
  assert.deepEqual(l.domainSearch, ["lab.test", "corp.test"]);
  assert.equal(l.hostName, "labclient");
  assert.equal(l.leaseTime, 120);
  assert.equal(l.serverId, "10.77.0.1");
  assert.equal(l.renew, Date.UTC(2026, 10, 28, 22, 38, 46));
  assert.equal(l.rebind, Date.UTC(2026, 10, 28, 22, 39, 32));
  assert.equal(l.expire, Date.UTC(2026, 10, 28, 22, 39, 47));
  assert.equal(l.line, 1);
  assert.deepEqual(leaseFields(l), {
    DHCP_ADDRESS: "10.77.0.50",
    DHCP_SUBNET_MASK: "255.255.255.0",
    DHCP_GATEWAY: "10.77.0.1",
    DHCP_DNS: "10.77.0.1",
    DHCP_DOMAIN: "lab.test corp.test",
    DHCP_HOSTNAME: "labclient",
    DHCP_LEASE_EXPIRY: "2026-11-28T22:39:47Z",
  });
});

test("the last block per interface is current; other interfaces and lease6/default-duid are kept apart", () => {
  const text =
    `default-duid "\\000\\001\\000\\001+\\223\\033\\021\\002NV\\000\\000\\002";\n` +
    block({ dns: "10.77.0.1" }) +
    block({ iface: "eth1", addr: "192.0.2.7" }) +
    `lease6 {\n  interface "lab0";\n  ia-na 00:00:00:01 {\n    starts 1764369000;\n    iaaddr 2001:db8::5 {\n      starts 1764369000;\n    }\n  }\n}\n` +
    block({ dns: "10.77.0.1,10.77.0.2" });
  const r = parseLeases(text);
  assert.deepEqual(r.problems, []);
  assert.equal(r.blocks, 3);
  assert.deepEqual(r.leases.get("lab0")!.dns, ["10.77.0.1", "10.77.0.2"]);
  assert.equal(r.leases.get("eth1")!.fixedAddress, "192.0.2.7");
});

test("times: never, epoch N (with its comment), invalid dates rejected", () => {
  assert.equal(parseLeaseTime(["never"]), null);
  assert.equal(parseLeaseTime(["epoch", "1764369587"]), 1764369587000);
  assert.equal(typeof parseLeaseTime(["6", "2026/02/30", "10:00:00"]), "string");
  assert.equal(typeof parseLeaseTime(["6", "2026/11/28", "24:00:00"]), "string");
  assert.equal(typeof parseLeaseTime(["9", "2026/11/28", "10:00:00"]), "string");
  const r = parseLeases(block({ expire: "epoch 1764369587; # Sat Nov 28 22:39:47 2026\n  option x 1" }));
  assert.deepEqual(r.problems, []);
  assert.equal(r.leases.get("lab0")!.expire, 1764369587000);
  const never = parseLeases(block({ expire: "never" })).leases.get("lab0")!;
  assert.equal(never.expire, null);
  assert.equal(leaseExpired(never, Date.now()), false);
  assert.equal(leaseFields(never).DHCP_LEASE_EXPIRY, "never");
});

test("released (expire = now) and expired leases are not current", () => {
  const l = parseLeases(block()).leases.get("lab0")!;
  assert.equal(leaseExpired(l, l.expire! - 1), false);
  assert.equal(leaseExpired(l, l.expire!), true);
  assert.equal(leaseExpired(l, l.expire! + 1000), true);
});

test("an unterminated block or line at the end is incomplete, not a problem; completing it makes it current", () => {
  const full = block() + block({ dns: "10.77.0.9" });
  const cut = full.slice(0, full.length - 40);
  const r = parseLeases(cut);
  assert.equal(r.incomplete, true);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.leases.get("lab0")!.dns, ["10.77.0.1"], "the earlier complete block stays current");
  assert.deepEqual(parseLeases(full).leases.get("lab0")!.dns, ["10.77.0.9"]);
  assert.equal(parseLeases(full.slice(0, -1)).incomplete, true, "last line without its newline");
});

test("hostile values are dropped one by one; the good ones stay; problems name the line, never the value", () => {
  const long = "a".repeat(300);
  const text = `lease {
  interface "lab0";
  fixed-address 10.77.0.50;
  option subnet-mask 255.255.255.0;
  option routers 10.77.0.1,999.1.1.1;
  option domain-name-servers 10.77.0.1,$(id),10.77.0.7;
  option domain-search "lab.test.", "${long}.test.", "good.test.", "a;reboot.";
  option host-name "a;reboot";
  option domain-name "$(id)";
  expire 6 2099/11/28 22:39:47;
}
lease {
  interface "eth1";
  fixed-address 192.0.2.9;
  option host-name "\\$(id)";
  option domain-name "ok.test\\012evil";
}
lease {
  interface "eth2";
  fixed-address 192.0.2.10;
  option host-name "${long}";
}
`;
  const r = parseLeases(text);
  const f = leaseFields(r.leases.get("lab0")!);
  assert.equal(f.DHCP_GATEWAY, "10.77.0.1");
  assert.equal(f.DHCP_DNS, "10.77.0.1 10.77.0.7");
  assert.equal(f.DHCP_DOMAIN, "lab.test good.test");
  assert.equal(f.DHCP_HOSTNAME, "");
  assert.equal(r.leases.get("eth1")!.hostName, undefined);
  assert.deepEqual(r.leases.get("eth1")!.domainName, []);
  assert.equal(r.leases.get("eth2")!.hostName, undefined);
  assert.deepEqual(
    r.problems.map((p) => p.line),
    [5, 6, 7, 8, 9, 15, 16, 21],
  );
  for (const p of r.problems) {
    assert.ok(!p.reason.includes("reboot") && !p.reason.includes("$(") && !p.reason.includes("aaaa"), p.reason);
  }
});

test("malformed blocks are rejected with their line; the blocks around them still count", () => {
  const garbage = "\u0000\u00ff\u0013binary{}\u0089;\n\u0001\u0002\n";
  const text =
    block({ dns: "10.77.0.1" }) +
    // truncated: the next block starts before this one is closed
    `lease {\n  interface "lab0";\n  fixed-address 10.77.0.66;\n` +
    garbage +
    `lease {\n  interface "lab0";\n  fixed-address 10.77.0.77;\n  interface "${"x".repeat(LEASE_LIMITS.line)}";\n}\n` +
    `lease {\n  interface "lab0";\n  fixed-address 10.77.0.88;\n  option host-name "unterminated;\n}\n` +
    `lease {\n  interface "../../etc/passwd";\n  fixed-address 10.77.0.99;\n}\n` +
    `lease {\n  interface "lab0";\n  fixed-address 10.77.0.100\n}\n` +
    `lease {\n  interface "lab0";\n  fixed-address 10.77.0.101;\n  expire 6 2026/13/01 00:00:00;\n}\n` +
    `lease {\n  fixed-address 10.77.0.102;\n}\n` +
    garbage +
    block({ iface: "eth1", addr: "192.0.2.1" });
  const r = parseLeases(text);
  assert.equal(r.leases.get("lab0")!.fixedAddress, "10.77.0.50");
  assert.equal(r.leases.get("eth1")!.fixedAddress, "192.0.2.1");
  const lines = text.split("\n");
  const lineOf = (needle: string, from = 0) => lines.findIndex((l, i) => i >= from && l.includes(needle)) + 1;
  const expected = [
    lineOf("binary"), // the truncated block: the garbage inside it is its first bad line
    lineOf("x".repeat(20)), // line too long
    lineOf("unterminated"),
    lineOf("../../etc"),
    lineOf("10.77.0.100"),
    lineOf("2026/13/01"),
    lineOf("10.77.0.102") - 1, // no interface
    lineOf("binary", lineOf("10.77.0.102")), // garbage outside a block
  ];
  assert.deepEqual(
    r.problems.map((p) => p.line),
    expected,
    JSON.stringify(r.problems),
  );
  assert.equal(r.incomplete, false);
});

test("a 1 MB option and a 64 KiB block are rejected without taking the file down", () => {
  const big = `lease {\n  interface "lab0";\n  fixed-address 10.77.0.77;\n  option domain-name "${"a".repeat(1_000_000)}";\n}\n`;
  const many = `lease {\n  interface "lab0";\n  fixed-address 10.77.0.78;\n${"  option x 1;\n".repeat(6000)}}\n`;
  const r = parseLeases(block() + big + many + block({ iface: "eth1" }));
  assert.equal(r.leases.get("lab0")!.fixedAddress, "10.77.0.50");
  assert.ok(r.leases.has("eth1"));
  assert.equal(r.problems.length, 2, JSON.stringify(r.problems));
});

// Issue 15 row 7: lines are limited per option, not per lease.
test("one over-long option is dropped with a reason; the rest of the lease is used", () => {
  const long = Array.from({ length: 400 }, (_, i) => `"d${i}.example.test."`).join(", ");
  assert.ok(long.length > LEASE_LIMITS.line);
  const r = parseLeases(block({ extra: `  option domain-search ${long};\n` }));
  const l = r.leases.get("lab0");
  assert.ok(l, "the lease is used");
  assert.equal(l.fixedAddress, "10.77.0.50");
  assert.deepEqual(l.routers, ["10.77.0.1"]);
  assert.equal(l.hostName, "labclient");
  assert.equal(r.problems.length, 1);
  assert.match(r.problems[0]!.reason, /option domain-search: line longer than 4096 bytes; dropped/);
  // the same with a line under the byte cap but more values than a statement keeps
  const many = Array.from({ length: 300 }, (_, i) => `"s${i}."`).join(", ");
  const r2 = parseLeases(block({ extra: `  option domain-search ${many};\n` }));
  assert.equal(r2.leases.get("lab0")?.fixedAddress, "10.77.0.50");
  assert.match(r2.problems[0]?.reason ?? "", /option domain-search: more than 256 values; dropped/);
  // a required statement that is too long still rejects its block
  const r3 = parseLeases(block({ extra: `  fixed-address ${"1".repeat(LEASE_LIMITS.line)};\n` }));
  assert.equal(r3.leases.size, 0);
});

test("a problem's key names its content, not its line: the same bad option in a later block has the same key", () => {
  const bad = `  option domain-search ${'"x.test.", '.repeat(500)}"y.test.";\n`;
  const one = parseLeases(block({ extra: bad }));
  const two = parseLeases(block({ addr: "10.77.0.51" }) + block({ extra: bad }));
  assert.equal(one.problems.length, 1);
  assert.equal(two.problems.length, 1);
  assert.notEqual(one.problems[0]!.line, two.problems[0]!.line);
  assert.equal(one.problems[0]!.key, two.problems[0]!.key);
});
