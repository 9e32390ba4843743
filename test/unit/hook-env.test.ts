// Pure tests: validators, the hook environment builder, stat checks and name filters.
import { test } from "node:test";
import { strict as assert } from "node:assert";
import type * as fs from "node:fs";
import {
  validIfname,
  validIp,
  validIpList,
  validHostname,
  validDomain,
  validDomainList,
  validText,
  validInt,
  VALIDATION_KIND,
  validationKind,
  checkValue,
  hasControlChars,
} from "../../src/net/validate.js";
import { buildHookEnv, addressesValue, contractJson, HOOK_PATH } from "../../src/actions/hooks/env.js";
import { checkStat, checkDirStat, ignoredName, compareNames } from "../../src/actions/hooks/discover.js";
import type { HookJob, NetevdEvent } from "../../src/events/types.js";
import { testEvent } from "./test-event.js";

test("validIfname", () => {
  for (const ok of ["eth0", "lab0", "enp0s31f6", "br-lan", "wlan0.100", "a_b", "x", "abcdefghijklmno" /* 15 */]) {
    assert.equal(validIfname(ok), true, ok);
  }
  for (const bad of ["", "abcdefghijklmnop" /* 16 */, "eth0;reboot", "eth 0", "eth0\n", "$(id)", "a/b", ".", "..", "veth@if2", "eth0:1", "ä", "eth0\u0000"]) {
    assert.equal(validIfname(bad), false, JSON.stringify(bad));
  }
  // '@' and ':' only when the kernel reported the name
  assert.equal(validIfname("veth0@x", true), true);
  assert.equal(validIfname("eth0:1", true), true);
  assert.equal(validIfname("eth0;reboot", true), false);
  assert.equal(validIfname("abcdefghijklmnop", true), false);
});

test("validIp / validIpList", () => {
  for (const ok of ["192.0.2.1", "10.77.0.50", "::1", "2001:db8::1", "fe80::1", "::ffff:192.0.2.1", "255.255.255.0"]) {
    assert.equal(validIp(ok), true, ok);
  }
  for (const bad of ["", "192.0.2.1/24", "192.0.2.256", "1.2.3", "host.example", "2001:db8::1/64", " 192.0.2.1", "192.0.2.1;reboot", "$(id)"]) {
    assert.equal(validIp(bad), false, JSON.stringify(bad));
  }
  assert.equal(validIpList(""), true);
  assert.equal(validIpList("192.0.2.1"), true);
  assert.equal(validIpList("192.0.2.1 10.0.0.5 2001:db8::5"), true);
  assert.equal(validIpList("192.0.2.1 bogus"), false);
  assert.equal(validIpList("192.0.2.1  10.0.0.5"), false);
  assert.equal(validIpList("192.0.2.1,10.0.0.5"), false);
  assert.equal(validIpList("192.0.2.1\n10.0.0.5"), false);
  assert.equal(validIpList("192.0.2.1/24"), false);
});

test("validHostname / validDomain", () => {
  for (const ok of ["labclient", "a", "host-1.lab.test", "xn--bcher-kva.example", "lab.test.", "1host", `${"a".repeat(63)}.b`]) {
    assert.equal(validHostname(ok), true, ok);
  }
  const long = Array.from({ length: 64 }, () => "abc").join("."); // 255 chars
  for (const bad of ["", "a;reboot", "$(id)", "-host", "host-", "a..b", ".", "a b", "host_name", "a".repeat(64), "a".repeat(300), long, "ho\nst", "*.lab.test"]) {
    assert.equal(validHostname(bad), false, JSON.stringify(bad).slice(0, 40));
  }
  assert.equal(validDomain("lab.test"), true);
  assert.equal(validDomain("*.lab.test"), true);
  assert.equal(validDomain("lab.test."), true);
  assert.equal(validDomain("*"), false);
  assert.equal(validDomain("a.*.test"), false);
  assert.equal(validDomain("**.lab.test"), false);
  assert.equal(validDomain("lab.test;reboot"), false);
  assert.equal(validDomain(`${"a".repeat(300)}.test`), false);
  assert.equal(validDomainList("lab.test corp.test. *.x.test"), true);
  assert.equal(validDomainList("lab.test $(id)"), false);
  assert.equal(validDomainList(""), false);
});

test("validText / validInt / kinds", () => {
  assert.equal(validText("routable"), true);
  assert.equal(validText("shell metachars are fine: ;|&$()`<>'\" ä 日本"), true);
  assert.equal(validText("a\nb"), false);
  assert.equal(validText("a\tb"), false);
  assert.equal(validText("a\u0000b"), false);
  assert.equal(validText("a\u001bb"), false);
  assert.equal(validText("a\u007fb"), false);
  assert.equal(validText("a\u0085b"), false);
  assert.equal(validText("x".repeat(4096)), true);
  assert.equal(validText("x".repeat(4097)), false);
  assert.equal(validText("ä".repeat(2049)), false); // 4098 bytes
  assert.equal(validText("x".repeat(5000), 8000), true);
  assert.equal(validInt("2"), true);
  assert.equal(validInt("-1"), true);
  assert.equal(validInt("2a"), false);
  assert.equal(validInt(""), false);

  for (const name of [
    "LINK",
    "LINKINDEX",
    "STATE",
    "BACKEND",
    "ADDRESSES",
    "EVENT",
    "JSON",
    "NETEVD_EVENT",
    "NETEVD_REPLAY",
    "DHCP_ADDRESS",
    "DHCP_SUBNET_MASK",
    "DHCP_GATEWAY",
    "DHCP_DNS",
    "DHCP_DOMAIN",
    "DHCP_HOSTNAME",
    "DHCP_LEASE_EXPIRY",
    "IFACE",
    "OperationalState",
    "AdministrativeState",
    "IP_ADDRS",
    "IP6_ADDRS",
    "json",
    "DEVICE_IFACE",
    "NM_STATE",
    "NM_OLD_STATE",
    "NM_REASON",
  ]) {
    assert.ok(VALIDATION_KIND[name], name);
  }
  assert.equal(validationKind("SOMETHING_ELSE"), "text");
  assert.equal(validationKind("toString"), "text");
  assert.equal(checkValue("json", "x".repeat(100_000)), undefined);
  assert.match(checkValue("json", "x".repeat(128 * 1024 + 1)) ?? "", /longer than/);
  assert.match(checkValue("text", "x".repeat(5000)) ?? "", /longer than 4096/);
  // a reason never contains the value
  const r = checkValue("text", "secret\nvalue") ?? "";
  assert.ok(r !== "" && !r.includes("secret"));
});

function sampleEvent(over: Partial<NetevdEvent> = {}): NetevdEvent {
  return testEvent({
    id: "b00t-42",
    ts: "2026-11-28T21:00:00.123Z",
    event: "routable",
    backend: "systemd-networkd",
    source: "systemd-networkd",
    state: { operstate: "up", carrier: true, mtu: 1500 },
    previous: { operstate: "down", carrier: false, mtu: 1500 },
    changed: ["operstate", "carrier", "addresses"],
    addresses: ["2001:db8::5/64", "192.168.1.100/24", "fe80::1/64", "169.254.3.4/16", "10.0.0.5/8", "febf::1/64", "fec0::1/10"],
    gateway: "192.168.1.1",
    dns: ["192.168.1.1"],
    ...over,
  });
}

test("addressesValue: no prefix, v4 then v6, link-local excluded", () => {
  assert.equal(addressesValue(sampleEvent().addresses), "192.168.1.100 10.0.0.5 2001:db8::5 fec0::1");
  assert.equal(addressesValue([]), "");
  assert.equal(addressesValue(["192.0.2.1/24", "bogus/24"]), undefined);
  assert.equal(addressesValue(["192.0.2.1/2x"]), undefined);
});

test("buildHookEnv: exact environment of a sample job", () => {
  const event = sampleEvent();
  const job: HookJob = { event, state: "routable", env: {} };
  const { env, problems } = buildHookEnv(job, { LANG: "C.UTF-8", TZ: "UTC", HOME: "/root", PATH: "/evil", SECRET: "x" });
  assert.deepEqual(problems, []);
  const contract = env.NETEVD_EVENT!;
  assert.deepEqual(
    { ...env },
    {
      PATH: HOOK_PATH,
      LANG: "C.UTF-8",
      TZ: "UTC",
      LINK: "eth0",
      LINKINDEX: "2",
      STATE: "routable",
      BACKEND: "systemd-networkd",
      ADDRESSES: "192.168.1.100 10.0.0.5 2001:db8::5 fec0::1",
      EVENT: "routable",
      NETEVD_EVENT: contract,
      JSON: contract,
    },
  );
  assert.equal(HOOK_PATH, "/usr/sbin:/usr/bin:/sbin:/bin");
  assert.deepEqual(JSON.parse(contract), event);
  assert.ok(!contract.includes("\n"));
  assert.equal(contract, contractJson(event));
});

test("buildHookEnv: JSON override, NETEVD_REPLAY, manager event, backend env", () => {
  const describe = JSON.stringify({ Index: 2, Name: "eth0", MTU: 1500 });
  const event = sampleEvent({ replay: true, backend: "dhclient" });
  const { env, problems } = buildHookEnv(
    {
      event,
      state: "routable",
      json: describe,
      env: {
        DHCP_ADDRESS: "192.168.1.100",
        DHCP_DNS: "192.168.1.1 192.168.1.2",
        DHCP_DOMAIN: "lab.test corp.test.",
        DHCP_HOSTNAME: "labclient",
        DHCP_GATEWAY: "192.168.1.1",
        DHCP_SUBNET_MASK: "255.255.255.0",
        CUSTOM: "a b;c",
      },
    },
    {},
  );
  assert.deepEqual(problems, []);
  assert.equal(env.JSON, describe);
  assert.deepEqual(JSON.parse(env.NETEVD_EVENT!), event);
  assert.equal(env.NETEVD_REPLAY, "1");
  assert.equal(env.LANG, undefined);
  assert.equal(env.DHCP_DNS, "192.168.1.1 192.168.1.2");
  assert.equal(env.DHCP_DOMAIN, "lab.test corp.test.");
  assert.equal(env.CUSTOM, "a b;c");

  const mgr = buildHookEnv({ event: sampleEvent({ link: null, index: null, event: "manager", addresses: [] }), state: "routable", env: {} }, {});
  assert.equal(mgr.env.LINK, undefined);
  assert.equal(mgr.env.LINKINDEX, undefined);
  assert.equal(mgr.env.ADDRESSES, "");
  assert.equal(mgr.env.EVENT, "manager");
  assert.equal(mgr.env.NETEVD_REPLAY, undefined);

  // a pretty-printed JSON override is compacted, not dropped
  const pretty = buildHookEnv({ event, state: "routable", json: JSON.stringify({ a: [1, 2] }, null, 2), env: {} }, {});
  assert.equal(pretty.env.JSON, '{"a":[1,2]}');
  // C1 controls inside the contract's strings are escaped, so NETEVD_EVENT is always there
  const weird = sampleEvent({ state: { x: "a\u0085b\u2028" } });
  const w = buildHookEnv({ event: weird, state: "routable", env: {} }, {});
  assert.deepEqual(w.problems, []);
  assert.deepEqual(JSON.parse(w.env.NETEVD_EVENT!), weird);
});

test("buildHookEnv: LINK with '@' only from the kernel", () => {
  const k = buildHookEnv({ event: sampleEvent({ link: "veth0@x", backend: "systemd-networkd", source: "kernel" }), state: "carrier", env: {} }, {});
  assert.equal(k.env.LINK, "veth0@x");
  const n = buildHookEnv({ event: sampleEvent({ link: "veth0@x" }), state: "routable", env: {} }, {});
  assert.equal(n.env.LINK, undefined);
  assert.deepEqual(
    n.problems.map((p) => p.variable),
    ["LINK"],
  );
});

test("buildHookEnv: bad values dropped with problems, reserved names refused", () => {
  const { env, problems } = buildHookEnv(
    {
      event: sampleEvent({ addresses: ["192.168.1.100/24", "not-an-ip/24"] }),
      state: "routable",
      env: {
        PATH: "/tmp/evil",
        LINK: "evil0",
        STATE: "x",
        JSON: "{}",
        NETEVD_EVENT: "{}",
        NETEVD_REPLAY: "1",
        LANG: "x",
        DHCP_HOSTNAME: "a;reboot",
        DHCP_DNS: "192.168.1.1 $(id)",
        DHCP_DOMAIN: "lab.test\nevil",
        DHCP_ADDRESS: "192.168.1.100/24",
        IFACE: "eth0;reboot",
        NM_STATE: "100\u0000",
        CUSTOM: "x".repeat(5000),
        "BAD-NAME": "1",
        "1ABC": "1",
        "X\nY": "1",
        LD_PRELOAD: "/tmp/x.so",
        GOOD: "kept",
      },
      json: "not\njson",
    },
    { LANG: "en_US.UTF-8\n" },
  );
  const byVar = new Map(problems.map((p) => [p.variable, p.reason]));
  for (const v of [
    "PATH",
    "LINK",
    "STATE",
    "JSON",
    "NETEVD_EVENT",
    "NETEVD_REPLAY",
    "LANG",
    "DHCP_HOSTNAME",
    "DHCP_DNS",
    "DHCP_DOMAIN",
    "DHCP_ADDRESS",
    "IFACE",
    "NM_STATE",
    "CUSTOM",
    "BAD-NAME",
    "1ABC",
    "LD_PRELOAD",
    "ADDRESSES",
  ]) {
    assert.ok(byVar.has(v), `problem for ${v}`);
  }
  assert.match(byVar.get("PATH")!, /reserved/);
  assert.match(byVar.get("LINK")!, /reserved/);
  assert.ok(
    problems.some((p) => p.variable === "X\\nY"),
    "control characters in a name are escaped in the problem",
  );
  for (const p of problems) {
    assert.ok(!hasControlChars(p.variable + p.reason), `no control chars in ${JSON.stringify(p)}`);
    assert.ok(!p.reason.includes("reboot") && !p.reason.includes("evil") && !p.reason.includes("$(id)"));
  }
  // the daemon's own values survive
  assert.equal(env.PATH, HOOK_PATH);
  assert.equal(env.LINK, "eth0");
  assert.equal(env.STATE, "routable");
  assert.equal(env.JSON, undefined); // bad override dropped, not replaced
  assert.deepEqual(JSON.parse(env.NETEVD_EVENT!).id, "b00t-42");
  assert.equal(env.NETEVD_REPLAY, undefined);
  assert.equal(env.LANG, undefined);
  assert.equal(env.ADDRESSES, undefined);
  for (const v of ["DHCP_HOSTNAME", "DHCP_DNS", "DHCP_DOMAIN", "DHCP_ADDRESS", "IFACE", "NM_STATE", "CUSTOM", "BAD-NAME", "LD_PRELOAD"]) {
    assert.equal(env[v], undefined, v);
  }
  assert.equal(env.GOOD, "kept");
});

function fakeStat(mode: number, uid = 0): fs.Stats {
  return { mode, uid, gid: 0 } as unknown as fs.Stats;
}

test("checkStat / checkDirStat", () => {
  assert.equal(checkStat(fakeStat(0o100755), 0), undefined);
  assert.equal(checkStat(fakeStat(0o100700), 0), undefined);
  assert.equal(checkStat(fakeStat(0o100755, 998), 998), undefined);
  assert.match(checkStat(fakeStat(0o100755, 65534), 0)!, /owned by uid 65534/);
  assert.equal(checkStat(fakeStat(0o100775), 0), "group-writable");
  assert.equal(checkStat(fakeStat(0o100757), 0), "world-writable");
  assert.equal(checkStat(fakeStat(0o100777), 0), "group- and world-writable");
  assert.equal(checkStat(fakeStat(0o100644), 0), "not executable");
  assert.equal(checkStat(fakeStat(0o104755), 0), "setuid");
  assert.equal(checkStat(fakeStat(0o102755), 0), "setgid");
  assert.match(checkStat(fakeStat(0o040755), 0)!, /not a regular file \(directory\)/);
  assert.match(checkStat(fakeStat(0o010755), 0)!, /not a regular file/);
  // a non-root daemon needs r-x on a root-owned script
  assert.match(checkStat(fakeStat(0o100700), 998)!, /not readable and executable/);
  assert.match(checkStat(fakeStat(0o100711), 998)!, /not readable and executable/);
  assert.equal(checkStat(fakeStat(0o100755), 998), undefined);
  assert.equal(checkDirStat(fakeStat(0o040755), 0), undefined);
  assert.equal(checkDirStat(fakeStat(0o040775), 0), "group-writable");
  assert.equal(checkDirStat(fakeStat(0o041777), 0), "group- and world-writable");
  assert.equal(checkDirStat(fakeStat(0o100755), 0), "not a directory");
  assert.match(checkDirStat(fakeStat(0o040755, 1000), 0)!, /owned by uid 1000/);
});

test("ignoredName and byte-wise order", () => {
  for (const n of ["foo~", "x.dpkg-old", "x.dpkg-dist", "x.dpkg-new", "x.dpkg-tmp", "x.rpmnew", "x.rpmsave", "x.rpmorig", "x.orig", "x.bak", ".x.swp", "x.swp", ".hidden"]) {
    assert.ok(ignoredName(n), n);
  }
  for (const n of ["01-a", "10-c.sh", "dpkg-thing", "x.original", "bak"]) assert.equal(ignoredName(n), undefined, n);
  const names = ["b", "B", "a", "10-c", "01-a", "02-b", "_x", "é", "Z"];
  assert.deepEqual([...names].sort(compareNames), ["01-a", "02-b", "10-c", "B", "Z", "_x", "a", "b", "é"]);
});
